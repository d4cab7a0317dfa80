package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/chatroom/chat/internal/testkit"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/chatroom/chat/internal/push"
)

// gateway speaks the API Gateway management API the way API Gateway does:
// POST, GET and DELETE on /@connections/{connectionId} (under a stage
// prefix when the endpoint has one), 410 GoneException for a connection it
// does not know, and 500s on demand.
type gateway struct {
	t     *testing.T
	stage string        // "" or e.g. "/prod"
	hold  time.Duration // how long a POST stays in flight

	mu       sync.Mutex
	open     map[string]bool
	posts    map[string][][]byte
	attempts map[string]int // POSTs received, per connection
	failures map[string]int // 500s still to answer; negative: always
	throttle map[string]int // 429s still to answer; negative: always
	denied   map[string]bool
	deleted  []string

	inFlight, maxInFlight atomic.Int64
}

func newGateway(t *testing.T, stage string, open ...string) (*gateway, *httptest.Server) {
	g := &gateway{t: t, stage: stage, open: map[string]bool{}, posts: map[string][][]byte{}, attempts: map[string]int{}, failures: map[string]int{}, throttle: map[string]int{}, denied: map[string]bool{}}
	for _, id := range open {
		g.open[id] = true
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.maxInFlight.Load()
		if n <= m || g.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}

	// The client signs every request with SigV4 for execute-api in the
	// configured region, as API Gateway requires.
	if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(a, "/us-east-1/execute-api/aws4_request") {
		g.t.Errorf("%s %s: Authorization %q is not a SigV4 signature for execute-api in us-east-1", r.Method, r.URL, a)
		writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
		return
	}
	// The connection id is one path segment: a "/" in it must arrive
	// escaped.
	rest, found := strings.CutPrefix(r.URL.EscapedPath(), g.stage+"/@connections/")
	if !found || rest == "" || strings.Contains(rest, "/") {
		writeError(w, http.StatusNotFound, "NotFoundException", "Not Found")
		return
	}
	id, err := url.PathUnescape(rest)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "bad connection id")
		return
	}

	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequestException", "unreadable body")
			return
		}
		time.Sleep(g.hold)
		g.mu.Lock()
		defer g.mu.Unlock()
		g.attempts[id]++
		if n := g.throttle[id]; n != 0 {
			if n > 0 {
				g.throttle[id]--
			}
			// The account's rate is spent: API Gateway's 429.
			writeError(w, http.StatusTooManyRequests, "LimitExceededException", "Rate exceeded")
			return
		}
		if f := g.failures[id]; f != 0 {
			if f > 0 {
				g.failures[id]--
			}
			writeError(w, http.StatusInternalServerError, "", "Internal server error")
			return
		}
		if !g.open[id] {
			writeError(w, http.StatusGone, "GoneException", "Gone")
			return
		}
		g.posts[id] = append(g.posts[id], body)
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.denied[id] {
			// What a role without execute-api:ManageConnections gets.
			writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
			return
		}
		if !g.open[id] {
			writeError(w, http.StatusGone, "GoneException", "Gone")
			return
		}
		delete(g.open, id)
		g.deleted = append(g.deleted, id)
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.open[id] {
			writeError(w, http.StatusGone, "GoneException", "Gone")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"connectedAt":"2026-11-21T10:00:00.000Z","identity":{"sourceIp":"203.0.113.7","userAgent":"Mozilla/5.0"},"lastActiveAt":"2026-11-21T10:05:00.000Z"}`)
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
	}
}

func writeError(w http.ResponseWriter, status int, errType, msg string) {
	if errType != "" {
		w.Header().Set("x-amzn-ErrorType", errType)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

func (g *gateway) failNext(id string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures[id] = n
}

func (g *gateway) postsTo(id string) [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.posts[id])
}

func (g *gateway) attemptsOn(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.attempts[id]
}

// awsConfig is what a Lambda gets from config.LoadDefaultConfig, minus the
// environment: static credentials and a region.
func awsConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
	}
}

// newAdapter builds the adapter the way the composition root does: the real
// SDK client, pointed at the fake gateway.
func newAdapter(t *testing.T, srv *httptest.Server, stage string) (*push.ManagementAPI, *apigatewaymanagementapi.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	client := push.NewClient(awsConfig(), srv.URL+stage)
	m, err := push.NewManagementAPI(client, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return m, client, logs
}

// Connection ids as API Gateway makes them: base64, so "+", "/" and "="
// occur and must survive the path.
var (
	open = []string{"L0SM9cOFvHcCIhw=", "L0SNAfB+vHcCF/g=", "R1kmxc2VNjMCFIA=", "TWegAcC4EowCHnA=", "a/b+c/d+e/f+g/h="}
	gone = []string{"GoneAAAAAAAAAAA=", "Gone/BBBBBBBBBB="}
)

// frame is a realistic frame with bytes JSON encoders disagree on: non-ASCII
// text and an escaped "<".
var frame = []byte(`{"type":"receive_message","room_id":"01JD3Z8Q5W7M2X4K9V6T1R0PNA","seq":42,"message_id":"01JD3Z9A1B2C3D4E5F6G7H8J9K","client_msg_id":"c-17","username":"alice","text":"héllo 👋 \u003c3","at":"2026-11-21T10:00:00.000Z"}`)

func TestNewManagementAPIRefusesNil(t *testing.T) {
	if _, err := push.NewManagementAPI(nil, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("nil client accepted")
	}
	_, srv := newGateway(t, "")
	if _, err := push.NewManagementAPI(push.NewClient(awsConfig(), srv.URL), nil); err == nil {
		t.Error("nil logger accepted")
	}
}

func TestPostDeliversExactBytesAndReportsGone(t *testing.T) {
	for name, stage := range map[string]string{"no stage": "", "stage prefix": "/prod"} {
		t.Run(name, func(t *testing.T) {
			g, srv := newGateway(t, stage, open...)
			m, _, logs := newAdapter(t, srv, stage)

			ids := append(slices.Clone(open), gone...)
			res := m.Post(t.Context(), ids, frame)

			for _, id := range open {
				got := g.postsTo(id)
				if len(got) != 1 || !bytes.Equal(got[0], frame) {
					t.Errorf("%s got %q, want the frame once, byte for byte", id, got)
				}
			}
			slices.Sort(res.Gone)
			wantGone := slices.Sorted(slices.Values(gone))
			if !slices.Equal(res.Gone, wantGone) {
				t.Errorf("Gone = %q, want %q", res.Gone, wantGone)
			}
			if len(res.Failed) != 0 {
				t.Errorf("Failed = %v, want none", res.Failed)
			}
			for _, id := range gone {
				if n := g.attemptsOn(id); n != 1 {
					t.Errorf("gone %s was posted to %d times, want once (410 is final)", id, n)
				}
			}
			if l := logs.Lines(t); len(l) != 0 {
				t.Errorf("logged %v for a clean post", l)
			}
		})
	}
}

func TestPostNoConnections(t *testing.T) {
	g, srv := newGateway(t, "")
	m, _, _ := newAdapter(t, srv, "")
	res := m.Post(t.Context(), nil, frame)
	if res.Gone != nil || res.Failed != nil {
		t.Errorf("Post(nil) = %+v, want the zero Result", res)
	}
	if n := g.maxInFlight.Load(); n != 0 {
		t.Errorf("%d requests for no connections", n)
	}
}

func TestPostRetriesServerErrors(t *testing.T) {
	const flaky, broken = "FlakyAAAAAAAAAA=", "BrokenAAAAAAAAA="
	g, srv := newGateway(t, "/prod", append([]string{flaky, broken}, open...)...)
	g.failNext(flaky, 2)
	g.failNext(broken, -1)
	m, _, logs := newAdapter(t, srv, "/prod")

	start := time.Now()
	res := m.Post(t.Context(), append([]string{flaky, broken}, open...), frame)
	t.Logf("post with a flaky and a broken connection took %v; %d and %d attempts", time.Since(start), g.attemptsOn(flaky), g.attemptsOn(broken))

	if got := g.postsTo(flaky); len(got) != 1 || !bytes.Equal(got[0], frame) {
		t.Errorf("flaky connection got %q, want the frame once after two 500s", got)
	}
	if n := g.attemptsOn(flaky); n != 3 {
		t.Errorf("flaky connection: %d attempts, want 3 (two 500s, then 200)", n)
	}
	if _, failed := res.Failed[flaky]; failed {
		t.Errorf("flaky connection reported failed: %v", res.Failed[flaky])
	}
	for _, id := range open {
		if got := g.postsTo(id); len(got) != 1 {
			t.Errorf("%s got %d frames, want 1", id, len(got))
		}
	}

	if len(res.Failed) != 1 || res.Failed[broken] == nil {
		t.Fatalf("Failed = %v, want only %s", res.Failed, broken)
	}
	if errors.Is(res.Failed[broken], push.ErrGone) || len(res.Gone) != 0 {
		t.Errorf("a 500 counted as gone: Failed %v, Gone %v", res.Failed, res.Gone)
	}
	// The adapter's retries are the only ones: three attempts in all, not
	// three SDK attempts (seconds apart) inside each of its own.
	if n := g.attemptsOn(broken); n != 3 {
		t.Errorf("broken connection: %d attempts, want 3", n)
	}
	lines := logs.Lines(t)
	if len(lines) != 2 || lines[0]["level"] != "WARN" || lines[0]["connection_id"] != broken || lines[0]["error"] == "" {
		t.Fatalf("logs = %v, want a WARN line naming %s and the error, then the metrics", lines, broken)
	}
	wantMetrics(t, lines[1], 0, 1, "")
}

func TestPostBoundsConcurrency(t *testing.T) {
	ids := make([]string, 10*push.DefaultConcurrency)
	for i := range ids {
		ids[i] = fmt.Sprintf("C%014d=", i)
	}
	g, srv := newGateway(t, "", ids...)
	g.hold = 20 * time.Millisecond
	m, _, _ := newAdapter(t, srv, "")

	res := m.Post(t.Context(), ids, frame)
	if len(res.Gone) != 0 || len(res.Failed) != 0 {
		t.Fatalf("Post = %+v, want every delivery to succeed", res)
	}
	for _, id := range ids {
		if got := g.postsTo(id); len(got) != 1 {
			t.Fatalf("%s got %d frames, want 1", id, len(got))
		}
	}
	peak := g.maxInFlight.Load()
	t.Logf("peak requests in flight: %d (bound %d)", peak, push.DefaultConcurrency)
	if peak > push.DefaultConcurrency {
		t.Errorf("%d requests in flight, more than DefaultConcurrency = %d", peak, push.DefaultConcurrency)
	}
	if peak < push.DefaultConcurrency/2 {
		t.Errorf("peak of %d requests in flight: posts are hardly concurrent", peak)
	}
}

func TestPostStopsWhenContextEnds(t *testing.T) {
	const broken = "BrokenAAAAAAAAA="
	g, srv := newGateway(t, "", broken)
	g.failNext(broken, -1)
	m, _, _ := newAdapter(t, srv, "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := m.Post(ctx, []string{broken}, frame)
	if !errors.Is(res.Failed[broken], context.Canceled) {
		t.Errorf("Failed = %v, want %s failed with context.Canceled", res.Failed, broken)
	}
}

func TestDisconnect(t *testing.T) {
	const id, unknown, denied = "L0SM9cOFvHcCIhw=", "GoneAAAAAAAAAAA=", "a/b+c/d+e/f+g/h="
	g, srv := newGateway(t, "/prod", id, denied)
	g.denied[denied] = true
	m, client, _ := newAdapter(t, srv, "/prod")
	ctx := t.Context()

	// The fake answers GET like API Gateway, through the same client.
	info, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if want := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC); info.ConnectedAt == nil || !info.ConnectedAt.Equal(want) || aws.ToString(info.Identity.SourceIp) != "203.0.113.7" {
		t.Errorf("GetConnection = %+v", info)
	}

	if err := m.Disconnect(ctx, id); err != nil {
		t.Fatalf("Disconnect(open): %v", err)
	}
	if !slices.Equal(g.deleted, []string{id}) {
		t.Errorf("deleted %q, want %q", g.deleted, id)
	}
	if _, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); !isGone(err) {
		t.Errorf("GetConnection after Disconnect: %v, want GoneException", err)
	}

	for _, c := range []string{id, unknown} {
		if err := m.Disconnect(ctx, c); !errors.Is(err, push.ErrGone) {
			t.Errorf("Disconnect(%s) = %v, want push.ErrGone", c, err)
		}
	}

	err = m.Disconnect(ctx, denied)
	var forbidden *types.ForbiddenException
	if !errors.As(err, &forbidden) || errors.Is(err, push.ErrGone) {
		t.Errorf("Disconnect on a 403 = %v, want the ForbiddenException, not ErrGone", err)
	}
}

func isGone(err error) bool {
	var gone *types.GoneException
	return errors.As(err, &gone)
}

// logBuffer collects the JSON log lines.
type logBuffer = testkit.LogBuffer

// TestConcurrentPostsShareTheBound: the bound holds across every Post in
// the process, as in the emulator, where all functions share the adapter.
func TestConcurrentPostsShareTheBound(t *testing.T) {
	const posts = 4
	all := make([][]string, posts)
	var ids []string
	for p := range posts {
		for i := range 2 * push.DefaultConcurrency {
			id := fmt.Sprintf("P%dC%012d=", p, i)
			all[p] = append(all[p], id)
			ids = append(ids, id)
		}
	}
	g, srv := newGateway(t, "", ids...)
	g.hold = 20 * time.Millisecond
	m, _, _ := newAdapter(t, srv, "")
	var wg sync.WaitGroup
	for p := range posts {
		wg.Go(func() {
			if res := m.Post(t.Context(), all[p], frame); len(res.Gone)+len(res.Failed) != 0 {
				t.Errorf("Post %d = %+v, want every delivery to succeed", p, res)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if got := g.postsTo(id); len(got) != 1 {
			t.Fatalf("%s got %d frames, want 1", id, len(got))
		}
	}
	if peak := g.maxInFlight.Load(); peak > push.DefaultConcurrency {
		t.Errorf("%d requests in flight across concurrent Posts, more than DefaultConcurrency = %d", peak, push.DefaultConcurrency)
	}
}

// TestWorkersLeaveWhenIdle: idle workers exit, and the next Post starts
// new ones.
func TestWorkersLeaveWhenIdle(t *testing.T) {
	ids := []string{"AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="}
	g, srv := newGateway(t, "", ids...)
	m, _, _ := newAdapter(t, srv, "")
	m.SetWorkerIdle(5 * time.Millisecond)
	for round := range 2 {
		if res := m.Post(t.Context(), ids, frame); len(res.Gone)+len(res.Failed) != 0 {
			t.Fatalf("round %d: Post = %+v", round, res)
		}
		deadline := time.Now().Add(5 * time.Second)
		for m.Workers() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d workers still running long after their idle time", round, m.Workers())
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, id := range ids {
		if got := g.postsTo(id); len(got) != 2 {
			t.Fatalf("%s got %d frames, want one a round", id, len(got))
		}
	}
}

func (g *gateway) throttleNext(id string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.throttle[id] = n
}

// wantMetrics checks a log line is CloudWatch's embedded metric format
// with the push metrics' values, per function when function is set and
// for the account always.
func wantMetrics(t *testing.T, line map[string]any, throttled, failed int, function string) {
	t.Helper()
	aws, _ := line["_aws"].(map[string]any)
	directives, _ := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 || aws["Timestamp"] == nil {
		t.Fatalf("line %v has no metric directive", line)
	}
	d := directives[0].(map[string]any)
	wantDims := `[[]]`
	if function != "" {
		wantDims = `[["Function"],[]]`
	}
	dims, _ := json.Marshal(d["Dimensions"])
	names, _ := json.Marshal(d["Metrics"])
	if d["Namespace"] != push.MetricNamespace || string(dims) != wantDims ||
		string(names) != `[{"Name":"PushThrottled","Unit":"Count"},{"Name":"PushFailures","Unit":"Count"}]` {
		t.Errorf("directive %v, want namespace %s, dimensions %s and both metrics", d, push.MetricNamespace, wantDims)
	}
	if line[push.MetricThrottled] != float64(throttled) || line[push.MetricFailures] != float64(failed) {
		t.Errorf("values %v / %v, want %d throttled and %d failed", line[push.MetricThrottled], line[push.MetricFailures], throttled, failed)
	}
	if function != "" && line["Function"] != function {
		t.Errorf("Function %v, want %s", line["Function"], function)
	}
}

// TestThrottledPostsBackOffAndArrive: API Gateway's 429 is the account's
// rate, shared by everything; a throttled post waits with jitter and tries
// again, and the Post's one metrics line counts the 429s.
func TestThrottledPostsBackOffAndArrive(t *testing.T) {
	const busy = "BusyAAAAAAAAAAA="
	g, srv := newGateway(t, "/prod", append([]string{busy}, open...)...)
	g.throttleNext(busy, 4)
	m, _, logs := newAdapter(t, srv, "/prod")
	m.ForFunction("chat-SendMessageFunction")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	res := m.Post(ctx, append([]string{busy}, open...), frame)
	if len(res.Failed) != 0 || len(res.Gone) != 0 {
		t.Fatalf("Post = %+v, want every frame delivered", res)
	}
	if got := g.postsTo(busy); len(got) != 1 || g.attemptsOn(busy) != 5 {
		t.Errorf("throttled connection got %d frames in %d attempts, want 1 in 5 (four 429s)", len(got), g.attemptsOn(busy))
	}
	lines := logs.Lines(t)
	if len(lines) != 1 {
		t.Fatalf("logs = %v, want one metrics line", lines)
	}
	wantMetrics(t, lines[0], 4, 0, "chat-SendMessageFunction")

	// A Post that meets no trouble writes nothing.
	m.Post(ctx, open, frame)
	if lines := logs.Lines(t); len(lines) != 1 {
		t.Errorf("a clean Post logged %v", lines[1:])
	}
}

// TestThrottlingGivesUpBeforeTheDeadline: a post throttled for good stops
// trying while the invocation still has time to finish, and is counted as
// failed as well as throttled, never dropped unseen.
func TestThrottlingGivesUpBeforeTheDeadline(t *testing.T) {
	const stuck = "StuckAAAAAAAAAA="
	g, srv := newGateway(t, "/prod", append([]string{stuck}, open...)...)
	g.throttleNext(stuck, -1)
	m, _, logs := newAdapter(t, srv, "/prod")
	const budget = 800 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()

	res := m.Post(ctx, append([]string{stuck}, open...), frame)
	if ctx.Err() != nil {
		t.Fatalf("Post ran into its deadline (%v): it must stop with time to spare", budget)
	}
	if len(res.Failed) != 1 || res.Failed[stuck] == nil || errors.Is(res.Failed[stuck], push.ErrGone) {
		t.Fatalf("Failed = %v, want %s alone", res.Failed, stuck)
	}
	n := g.attemptsOn(stuck)
	if n < 2 {
		t.Errorf("%d attempts: a throttled post must be tried again", n)
	}
	for _, id := range open {
		if len(g.postsTo(id)) != 1 {
			t.Errorf("%s missed its frame", id)
		}
	}
	lines := logs.Lines(t)
	if len(lines) != 2 {
		t.Fatalf("logs = %v, want the failure and the metrics", lines)
	}
	wantMetrics(t, lines[1], n, 1, "")
}
