package lambdarie_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/chatroom/chat/internal/lambdarie"
)

// fakeRIE answers as an RIE does: a handler's answer as is, a failed
// invocation 200 with Error-Type.
func fakeRIE(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != lambdarie.InvokePath {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch string(body) {
		case `"fail"`:
			w.Header().Set("Error-Type", "Runtime.Unknown")
			_, _ = w.Write([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
		case `"busy"`:
			w.Header().Set("Error-Type", "TooManyRequestsException")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"echo":` + string(body) + `}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func lambdaClient(url string) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		// One attempt: the answers under test, not the SDK's retries.
		RetryMaxAttempts: 1,
	})
}

// TestRouter: the SDK's Lambda client, as the emulator uses it, sees each
// function's answers through the router as it would see Lambda's.
func TestRouter(t *testing.T) {
	router := lambdarie.NewRouter(nil, nil)
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// Invocations wait until the RIEs are known.
	done := make(chan *awslambda.InvokeOutput, 1)
	go func() {
		out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`1`)})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case <-done:
		t.Fatal("an invocation was answered before the router knew its function")
	case <-time.After(100 * time.Millisecond):
	}
	router.Set(map[string][]string{"EchoFunction": {fakeRIE(t).URL}})
	if out := <-done; out == nil || string(out.Payload) != `{"echo":1}` || out.FunctionError != nil {
		t.Fatalf("first invocation: %+v", out)
	}

	out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`"fail"`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Errorf("failed invocation: FunctionError %q, payload %s; want Unhandled and the error", aws.ToString(out.FunctionError), out.Payload)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("NoSuchFunction"), Payload: []byte(`1`)})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("unknown function: %v, want ResourceNotFoundException", err)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`"busy"`)})
	if _, ok := errors.AsType[*types.TooManyRequestsException](err); !ok {
		t.Errorf("busy RIE: %v, want TooManyRequestsException", err)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`1`), InvocationType: types.InvocationTypeDryRun})
	if _, ok := errors.AsType[*types.InvalidParameterValueException](err); !ok {
		t.Errorf("dry run: %v, want InvalidParameterValueException", err)
	}
}

// gateRIE holds each invocation until release is closed, recording the
// events in the order it got them.
type gateRIE struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func newGateRIE(t *testing.T) *gateRIE {
	g := &gateRIE{release: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.got = append(g.got, string(body))
		g.mu.Unlock()
		<-g.release
		_, _ = w.Write([]byte(`null`))
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gateRIE) events() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.got)
}

// waitFor polls cond for up to a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRouterEvents: an asynchronous invocation is answered 202 with no
// body at once, as Lambda answers once it has queued the event, and runs
// in the background on the function's instances, in the order the events
// came; past the queue's bound the router throttles as Lambda does.
func TestRouterEvents(t *testing.T) {
	const queue = 3
	rie := newGateRIE(t)
	router := lambdarie.NewRouter(nil, nil, lambdarie.WithEventQueue(queue))
	t.Cleanup(router.Close)
	router.Set(map[string][]string{"FanoutFunction": {rie.URL}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	event := func(n int) (*awslambda.InvokeOutput, error) {
		return client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("FanoutFunction"), InvocationType: types.InvocationTypeEvent, Payload: []byte(strconv.Itoa(n))})
	}
	// The first takes the one instance and holds it.
	out, err := event(0)
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != http.StatusAccepted || len(out.Payload) != 0 {
		t.Errorf("an event was answered %d with %q, want 202 and no body", out.StatusCode, out.Payload)
	}
	waitFor(t, "the first event to reach the instance", func() bool { return len(rie.events()) == 1 })
	// queue more wait for it, answered at once all the same.
	for n := 1; n <= queue; n++ {
		if out, err := event(n); err != nil || out.StatusCode != http.StatusAccepted {
			t.Fatalf("event %d, with %d queued: %v, %+v; want 202", n, n-1, err, out)
		}
	}
	// One more than the queue holds is throttled.
	_, err = event(queue + 1)
	if _, ok := errors.AsType[*types.TooManyRequestsException](err); !ok {
		t.Errorf("event past the queue: %v, want TooManyRequestsException", err)
	}
	// A synchronous invocation still waits its turn for the instance.
	syncDone := make(chan error, 1)
	go func() {
		_, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("FanoutFunction"), Payload: []byte(`"sync"`)})
		syncDone <- err
	}()
	close(rie.release)
	if err := <-syncDone; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event to run", func() bool { return len(rie.events()) == queue+2 })
	waitFor(t, "every event to be counted", func() bool { return router.Invocations()["FanoutFunction"].Count == queue+2 })
	var events []string
	for _, e := range rie.events() {
		if e != `"sync"` {
			events = append(events, e)
		}
	}
	if want := []string{"0", "1", "2", "3"}; !slices.Equal(events, want) {
		t.Errorf("the instance ran the events %v, want them in the order they came, %v", events, want)
	}
	// The queue has room again.
	if out, err := event(9); err != nil || out.StatusCode != http.StatusAccepted {
		t.Errorf("an event once the queue drained: %v, %+v; want 202", err, out)
	}

	_, err = client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("NoSuchFunction"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`1`)})
	if _, ok := errors.AsType[*types.ResourceNotFoundException](err); !ok {
		t.Errorf("an event for an unknown function: %v, want ResourceNotFoundException", err)
	}
}

// sleepyRIE answers every invocation after d, counting how many it serves
// at once across all the servers sharing running and peak.
func sleepyRIE(t *testing.T, d time.Duration, running, peak *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(d)
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRouterPool: a function of two instances, each serving one
// invocation at a time, never runs more than two at once; the others wait
// and are all answered, and the statistics bill each one's own time.
func TestRouterPool(t *testing.T) {
	const (
		calls = 8
		sleep = 50 * time.Millisecond
	)
	var running, peak atomic.Int64
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"SlowFunction": {
		sleepyRIE(t, sleep, &running, &peak).URL,
		sleepyRIE(t, sleep, &running, &peak).URL,
	}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			out, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`1`)})
			if err != nil {
				t.Error(err)
			} else if out.FunctionError != nil {
				t.Errorf("function error %q", aws.ToString(out.FunctionError))
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("at most %d invocations ran at once, want 2 (the instances)", p)
	}
	st := router.Invocations()["SlowFunction"]
	if st.Count != calls {
		t.Errorf("Count %d, want %d", st.Count, calls)
	}
	// Each billed from its hand-over, so the waits for an instance are
	// not in it: about calls×sleep, well under what the queue took.
	if st.Duration < calls*sleep || st.Duration > calls*sleep*3 {
		t.Errorf("Duration %v, want about %v", st.Duration, calls*sleep)
	}
	if st.Max < sleep || st.Max > st.Duration {
		t.Errorf("Max %v, want at least %v and at most the sum %v", st.Max, sleep, st.Duration)
	}
	st.MemoryMB = 1024
	if got, want := st.GBSeconds(), st.Duration.Seconds(); got != want {
		t.Errorf("GBSeconds %v at 1 GB, want the seconds %v", got, want)
	}

	router.ResetInvocations()
	if st := router.Invocations()["SlowFunction"]; st != (lambdarie.InvocationStats{}) {
		t.Errorf("after ResetInvocations: %+v, want zero", st)
	}
}

// TestRouterPoolWaitEndsWithCaller: an invocation waiting for a busy
// instance gives up when its caller does, and leaves the instance free.
func TestRouterPoolWaitEndsWithCaller(t *testing.T) {
	var running, peak atomic.Int64
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"SlowFunction": {sleepyRIE(t, 300*time.Millisecond, &running, &peak).URL}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)

	busy := make(chan error, 1)
	go func() {
		_, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`1`)})
		busy <- err
	}()
	for running.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`2`)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a busy instance past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	if _, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`3`)}); err != nil {
		t.Errorf("after a caller gave up: %v", err)
	}
	if st := router.Invocations()["SlowFunction"]; st.Count != 2 {
		t.Errorf("Count %d, want 2 (the one that gave up waiting never ran)", st.Count)
	}
}

// TestRouterInvocationOutlivesItsCaller: a caller that gives up on a
// running invocation (API Gateway after 29 s) does not cut it short: the
// instance finishes it, as Lambda's does, and is then free again. The RIE
// exits when its request is cancelled, which took a function away for
// good.
func TestRouterInvocationOutlivesItsCaller(t *testing.T) {
	var running, peak atomic.Int64
	var finished atomic.Int64
	slow := sleepyRIE(t, 300*time.Millisecond, &running, &peak)
	watch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Post(slow.URL+r.URL.Path, "application/json", r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if r.Context().Err() == nil {
			finished.Add(1)
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(watch.Close)
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"SlowFunction": {watch.URL}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`1`)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a caller giving up on a running invocation: %v, want context.DeadlineExceeded", err)
	}
	waitFor(t, "the invocation to finish on its instance", func() bool { return finished.Load() == 1 })
	if _, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: []byte(`2`)}); err != nil {
		t.Errorf("after a caller gave up: %v", err)
	}
	if finished.Load() != 2 {
		t.Errorf("%d invocations ran to their end, want 2", finished.Load())
	}
}

// TestRouterRefusesAPayloadPastLambdasLimit: a synchronous invocation
// past Lambda's 6 MB is refused as Lambda refuses it, before it takes an
// instance.
func TestRouterRefusesAPayloadPastLambdasLimit(t *testing.T) {
	var running, peak atomic.Int64
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"SlowFunction": {sleepyRIE(t, time.Millisecond, &running, &peak).URL}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)
	tests := []struct {
		size    int
		refused bool
	}{
		{6<<20 - 2, false},
		{6<<20 + 1, true},
	}
	for _, tt := range tests {
		payload := append(append([]byte{'"'}, bytes.Repeat([]byte{'x'}, tt.size-2)...), '"')
		_, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("SlowFunction"), Payload: payload})
		var tooLarge *types.RequestTooLargeException
		if got := errors.As(err, &tooLarge); got != tt.refused {
			t.Errorf("a payload of %d bytes: %v, want refused %v", tt.size, err, tt.refused)
		}
	}
	if st := router.Invocations()["SlowFunction"]; st.Count != 1 {
		t.Errorf("%d invocations ran, want the one allowed", st.Count)
	}
}

// refusingAddr is a loopback address nothing listens on, as a stopped
// RIE's is until its replacement binds it.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestRouterWaitsForAReplacedInstance: an instance whose RIE refuses
// connections (it stopped, and the stack is starting another on its
// address) gets the invocation once it is back, synchronous or not, as
// Lambda sends an invocation to a new execution environment and never to
// one that failed.
func TestRouterWaitsForAReplacedInstance(t *testing.T) {
	addr := refusingAddr(t)
	var events atomic.Int64
	rie := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == `"event"` {
			events.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"echo":` + string(body) + `}`))
	})}
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"EchoFunction": {"http://" + addr}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	client := lambdaClient(srv.URL)

	if _, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`"event"`)}); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		out, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("EchoFunction"), Payload: []byte(`"sync"`)})
		if err == nil && (out.FunctionError != nil || string(out.Payload) != `{"echo":"sync"}`) {
			err = fmt.Errorf("answered %q (function error %v)", out.Payload, aws.ToString(out.FunctionError))
		}
		answered <- err
	}()
	time.Sleep(300 * time.Millisecond) // refused meanwhile
	select {
	case err := <-answered:
		t.Fatalf("answered before the instance was back: %v", err)
	default:
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port was taken meanwhile: %v", err)
	}
	go func() { _ = rie.Serve(ln) }()
	t.Cleanup(func() { _ = rie.Close() })
	if err := <-answered; err != nil {
		t.Errorf("the synchronous invocation: %v", err)
	}
	waitFor(t, "the event to run on the instance once back", func() bool { return events.Load() == 1 })
}

// TestRouterStopsRedialingWhenClosed: an invocation waiting for a refusing
// instance ends when the router is closed, not 15 s later.
func TestRouterStopsRedialingWhenClosed(t *testing.T) {
	addr := refusingAddr(t)
	router := lambdarie.NewRouter(nil, nil)
	router.Set(map[string][]string{"GoneFunction": {"http://" + addr}})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	answered := make(chan error, 1)
	go func() {
		_, err := lambdaClient(srv.URL).Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("GoneFunction"), Payload: []byte(`1`)})
		answered <- err
	}()
	time.Sleep(300 * time.Millisecond)
	router.Close()
	select {
	case err := <-answered:
		if err == nil {
			t.Error("an invocation of a function whose instance never came back succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the invocation still waited 5 s after the router closed")
	}
}
