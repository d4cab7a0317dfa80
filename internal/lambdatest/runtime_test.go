package lambdatest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/lambdatest"
)

// fakeRuntime is the function side of the Runtime API, as a runtime
// client (aws-lambda-go's, in a real bootstrap) speaks it.
type fakeRuntime struct {
	t    *testing.T
	base string
}

func newServer(t *testing.T, opts lambdatest.Options) (*lambdatest.Server, *fakeRuntime) {
	t.Helper()
	s, err := lambdatest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want 127.0.0.1:<port>", s.Addr())
	}
	return s, &fakeRuntime{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime"}
}

type nextEvent struct {
	id, deadline, arn, trace string
	body                     string
}

func (f *fakeRuntime) next(ctx context.Context) (nextEvent, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/invocation/next", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nextEvent{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nextEvent{}, fmt.Errorf("next: %s: %s", resp.Status, body)
	}
	return nextEvent{
		id:       resp.Header.Get("Lambda-Runtime-Aws-Request-Id"),
		deadline: resp.Header.Get("Lambda-Runtime-Deadline-Ms"),
		arn:      resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
		trace:    resp.Header.Get("Lambda-Runtime-Trace-Id"),
		body:     string(body),
	}, nil
}

func (f *fakeRuntime) post(path string, header http.Header, body string) int {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Errorf("POST %s: %v", path, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestServerRoundTrip(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{FunctionName: "EchoFunction"})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	got := make(chan nextEvent, 1)
	go func() {
		ev, err := rt.next(ctx)
		if err != nil {
			t.Errorf("next: %v", err)
			close(got)
			return
		}
		if code := rt.post("/invocation/"+ev.id+"/response", nil, `{"echo":`+ev.body+`}`); code != http.StatusAccepted {
			t.Errorf("posting the response: status %d, want 202", code)
		}
		got <- ev
	}()

	resp, err := s.Invoke(ctx, []byte(`{"n":1}`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if string(resp) != `{"echo":{"n":1}}` {
		t.Errorf("Invoke answered %s, want the function's response", resp)
	}
	ev := <-got
	if ev.body != `{"n":1}` {
		t.Errorf("the function got %q, want the event", ev.body)
	}
	if !uuidRE.MatchString(ev.id) {
		t.Errorf("Lambda-Runtime-Aws-Request-Id = %q, want a UUID", ev.id)
	}
	ms, err := strconv.ParseInt(ev.deadline, 10, 64)
	dl, _ := ctx.Deadline()
	if err != nil || ms != dl.UnixMilli() {
		t.Errorf("Lambda-Runtime-Deadline-Ms = %q, want the context's deadline %d", ev.deadline, dl.UnixMilli())
	}
	if ev.arn != s.FunctionARN() || !strings.HasSuffix(ev.arn, ":function:EchoFunction") {
		t.Errorf("Lambda-Runtime-Invoked-Function-Arn = %q, want %q", ev.arn, s.FunctionARN())
	}
	if !strings.HasPrefix(ev.trace, "Root=1-") {
		t.Errorf("Lambda-Runtime-Trace-Id = %q, want an X-Ray header", ev.trace)
	}
	// An answer for an invocation that was already answered is refused.
	if code := rt.post("/invocation/"+ev.id+"/response", nil, `{}`); code != http.StatusBadRequest {
		t.Errorf("a second response for %s: status %d, want 400", ev.id, code)
	}
}

func TestServerDefaultDeadline(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{Timeout: 3 * time.Second})
	go func() {
		ev, err := rt.next(t.Context())
		if err != nil {
			return
		}
		ms, _ := strconv.ParseInt(ev.deadline, 10, 64)
		if left := time.Until(time.UnixMilli(ms)); left < time.Second || left > 3*time.Second {
			t.Errorf("deadline is %v away, want about the 3s timeout", left)
		}
		rt.post("/invocation/"+ev.id+"/response", nil, `null`)
	}()
	if _, err := s.Invoke(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}

func TestServerFunctionError(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{})
	go func() {
		ev, err := rt.next(t.Context())
		if err != nil {
			return
		}
		h := http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Panic"}}
		rt.post("/invocation/"+ev.id+"/error", h, `{"errorMessage":"boom","errorType":"string"}`)
	}()
	_, err := s.Invoke(t.Context(), []byte(`{}`))
	var fe *lambdatest.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("Invoke: %v, want a *FunctionError", err)
	}
	if fe.Type != "Runtime.Panic" || fe.Message != "boom" || !uuidRE.MatchString(fe.RequestID) {
		t.Errorf("FunctionError = %+v, want type Runtime.Panic, message boom and the request id", fe)
	}
}

func TestServerInitError(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{})
	waiting := make(chan error, 1)
	go func() {
		_, err := s.Invoke(t.Context(), []byte(`{}`))
		waiting <- err
	}()
	h := http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.ExitError"}}
	if code := rt.post("/init/error", h, `{"errorMessage":"TABLE_NAME is not set","errorType":"Config"}`); code != http.StatusAccepted {
		t.Errorf("init/error: status %d, want 202", code)
	}
	select {
	case <-s.InitFailed():
	case <-time.After(5 * time.Second):
		t.Fatal("InitFailed was not closed after an init error")
	}
	errs := s.InitErrors()
	if len(errs) != 1 || errs[0].Type != "Runtime.ExitError" || errs[0].Message != "TABLE_NAME is not set" {
		t.Errorf("InitErrors() = %+v, want the one posted", errs)
	}
	var ie *lambdatest.InitFailedError
	if err := <-waiting; !errors.As(err, &ie) {
		t.Errorf("a waiting Invoke returned %v, want an *InitFailedError", err)
	}
	if _, err := s.Invoke(t.Context(), []byte(`{}`)); !errors.As(err, &ie) {
		t.Errorf("a later Invoke returned %v, want an *InitFailedError", err)
	}
}

// Invocations queue and reach the function one at a time, each answered
// by its own response.
func TestServerQueue(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for {
			ev, err := rt.next(ctx)
			if err != nil {
				return
			}
			rt.post("/invocation/"+ev.id+"/response", nil, ev.body)
		}
	}()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			want := fmt.Sprintf(`{"i":%d}`, i)
			got, err := s.Invoke(ctx, []byte(want))
			if err != nil || string(got) != want {
				t.Errorf("Invoke(%s) = %s, %v; want its own answer", want, got, err)
			}
		})
	}
	wg.Wait()
}

// An Invoke whose context ends before the function polls is never
// delivered.
func TestServerAbandonedInvoke(t *testing.T) {
	s, rt := newServer(t, lambdatest.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Invoke(ctx, []byte(`"abandoned"`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke: %v, want the context's error", err)
	}
	go func() {
		ev, err := rt.next(t.Context())
		if err != nil {
			return
		}
		rt.post("/invocation/"+ev.id+"/response", nil, ev.body)
	}()
	got, err := s.Invoke(t.Context(), []byte(`"wanted"`))
	if err != nil || string(got) != `"wanted"` {
		t.Errorf("Invoke = %s, %v; want the second event, the abandoned one skipped", got, err)
	}
}

func TestServerUnknownRequestID(t *testing.T) {
	_, rt := newServer(t, lambdatest.Options{})
	for _, path := range []string{"/invocation/nope/response", "/invocation/nope/error"} {
		if code := rt.post(path, nil, `{}`); code != http.StatusBadRequest {
			t.Errorf("POST %s: status %d, want 400", path, code)
		}
	}
}

// Close ends a long poll and a waiting Invoke.
func TestServerClose(t *testing.T) {
	s, err := lambdatest.NewServer(lambdatest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt := &fakeRuntime{t: t, base: "http://" + s.Addr() + "/2018-06-01/runtime"}
	polled := make(chan error, 1)
	go func() {
		_, err := rt.next(context.Background())
		polled <- err
	}()
	invoked := make(chan error, 1)
	time.Sleep(50 * time.Millisecond) // let the poll start first
	go func() {
		_, err := s.Invoke(context.Background(), []byte(`{}`))
		invoked <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = s.Close()
	// The poll may have taken the event before Close; either way it ends.
	select {
	case <-polled:
	case <-time.After(5 * time.Second):
		t.Error("a long poll did not end at Close")
	}
	select {
	case err := <-invoked:
		if !errors.Is(err, lambdatest.ErrClosed) {
			t.Errorf("a waiting Invoke returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a waiting Invoke did not return at Close")
	}
	if _, err := s.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, lambdatest.ErrClosed) {
		t.Errorf("Invoke after Close returned %v, want ErrClosed", err)
	}
}
