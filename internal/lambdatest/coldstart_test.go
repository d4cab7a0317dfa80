package lambdatest_test

// A cold start measurement of every function, run only on request:
//
//	COLDSTART=1 go test -run TestColdStart -v ./internal/lambdatest/
//
// For each function it measures the host wall time from starting the
// process (exec) to the answer of its first invocation through the Runtime
// API, a few times, with a cheap event that needs no state, and the size
// of the linux/arm64 bootstrap its Makefile target builds.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// coldStartRuns is how many cold starts are measured per function, after
// one warm-up start (which pages the binary in) that is not counted.
const coldStartRuns = 7

// coldStartEvent is a function's cheap first event and the status it
// answers with.
type coldStartEvent struct {
	file   string
	vars   map[string]string
	body   *string // replaces the event's body when set
	status int
}

func coldStartEvents() map[string]coldStartEvent {
	badJSON := `{"action":`
	unknown := map[string]string{"connection_id": "L0SNcoldstartA=", "room_id": "01JCOLDSTART0000000000000", "token": "", "after_seq": "1", "client_msg_id": "cold-0001"}
	return map[string]coldStartEvent{
		// No token: 401 before any store access.
		"auth":    {file: "me-no-token.json", status: http.StatusUnauthorized},
		"rooms":   {file: "list-rooms.json", vars: map[string]string{"token": ""}, status: http.StatusUnauthorized},
		"connect": {file: "connect_no_ticket.json", vars: unknown, status: http.StatusUnauthorized},
		// An unknown connection: one GetItem (the fake DynamoDB finds nothing).
		"disconnect": {file: "disconnect.json", vars: unknown, status: http.StatusOK},
		// A frame that is not JSON: an error frame posted to the
		// management API, no store access.
		"join_room":    {file: "join.json", vars: unknown, body: &badJSON, status: http.StatusOK},
		"send_message": {file: "send.json", vars: unknown, body: &badJSON, status: http.StatusOK},
		"leave_room":   {file: "leave.json", vars: unknown, body: &badJSON, status: http.StatusOK},
		"default":      {file: "invalid_json.json", vars: unknown, status: http.StatusOK},
		// A shard of a room never marked: no wait, two posts, one mark.
		// DeliverShard answers null, which has no statusCode.
		"fanout": {file: "shard.json", vars: map[string]string{"room_id": unknown["room_id"], "connection_id": "L0SNcoldstartA=", "gone_connection_id": "L0SNcoldstartB="}, status: 0},
	}
}

// fakeDynamoDB answers every call with an empty JSON object: GetItem finds
// nothing, Query returns no items.
func fakeDynamoDB(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestColdStart(t *testing.T) {
	if os.Getenv("COLDSTART") != "1" {
		t.Skip("a measurement, not a test: set COLDSTART=1 to run it")
	}
	fns := functions(t)
	wait := buildHost(t, fns)
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}

	// The linux/arm64 bootstraps build (two at a time) while the host
	// binaries do; the cold starts are measured once all builds are done,
	// so no compiler competes for the cores.
	sizes := make(map[string]int64)
	var sizesMu sync.Mutex
	var builds sync.WaitGroup
	for _, fn := range fns {
		builds.Go(func() {
			dir, err := os.MkdirTemp("", "coldstart-"+fn.logicalID)
			if err != nil {
				t.Error(err)
				return
			}
			defer os.RemoveAll(dir)
			var out []byte
			withBuildSlot(func() {
				out, err = exec.Command("make", "--no-print-directory", "-C", abs, "build-"+fn.logicalID, "ARTIFACTS_DIR="+dir).CombinedOutput()
			})
			if err != nil {
				t.Errorf("make build-%s: %v\n%s", fn.logicalID, err, out)
				return
			}
			st, err := os.Stat(filepath.Join(dir, "bootstrap"))
			if err != nil {
				t.Error(err)
				return
			}
			sizesMu.Lock()
			sizes[fn.logicalID] = st.Size()
			sizesMu.Unlock()
		})
	}
	bins := wait(t)
	builds.Wait()

	mgmt := newManagementAPI(t)
	env := []string{"TABLE_NAME=coldstart", "DYNAMODB_ENDPOINT=" + fakeDynamoDB(t), "WS_MANAGEMENT_ENDPOINT=" + mgmt.URL, "LOG_LEVEL=INFO"}
	evs := coldStartEvents()

	type result struct {
		logicalID, pkg string
		runs           []time.Duration
	}
	var results []result
	for _, fn := range fns {
		ce, ok := evs[fn.pkg]
		if !ok {
			t.Errorf("no cold start event for functions/%s", fn.pkg)
			continue
		}
		ev := event(t, fn.pkg, ce.file, ce.vars)
		if ce.body != nil {
			ev = withBody(t, ev, *ce.body)
		}
		bin := filepath.Join(bins, fn.pkg)
		var runs []time.Duration
		ok = t.Run(fn.logicalID, func(t *testing.T) {
			for i := range coldStartRuns + 1 {
				start := time.Now()
				p := startProcess(t, bin, fn.logicalID, env)
				var a wsAnswer // statusCode is all that is read
				p.invoke(t, ev, &a)
				took := time.Since(start)
				if a.StatusCode != ce.status {
					t.Fatalf("%s: status %d, want %d; output:\n%s", ce.file, a.StatusCode, ce.status, p.out.String())
				}
				_ = p.cmd.Process.Kill()
				<-p.exited
				p.srv.Close()
				if i > 0 { // the first start is the warm-up
					runs = append(runs, took)
				}
			}
		})
		if ok {
			results = append(results, result{fn.logicalID, fn.pkg, runs})
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "cold start, exec to first answer (%d runs after a warm-up), and the linux/arm64 bootstrap size:\n", coldStartRuns)
	fmt.Fprintf(&b, "  %-22s %9s %9s %9s %12s %9s\n", "function", "min ms", "median", "max ms", "bootstrap B", "MiB")
	for _, r := range results {
		slices.Sort(r.runs)
		ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
		size := sizes[r.logicalID]
		fmt.Fprintf(&b, "  %-22s %9s %9s %9s %12d %9.2f\n", r.logicalID, ms(r.runs[0]), ms(r.runs[len(r.runs)/2]), ms(r.runs[len(r.runs)-1]), size, float64(size)/(1<<20))
	}
	t.Log(b.String())
}
