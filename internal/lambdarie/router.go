package lambdarie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// InvokePath is where an RIE takes invocations, whatever the function's
// name.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Router is the Lambda Invoke API in front of the functions' RIEs: it
// takes POST /2015-03-31/functions/{name}/invocations and hands the event
// to one of that function's RIEs, answering as Lambda does. Until
// [Router.Set] names the RIEs, invocations wait.
//
// Each function has a pool of slots, each an RIE's base URL serving one
// invocation at a time; an invocation takes a free slot, waiting for one
// (as long as its caller waits) when all are busy, and gives it back when
// answered. It also counts each function's invocations and their
// durations, what Lambda bills ([Router.Invocations]).
//
// An asynchronous invocation (X-Amz-Invocation-Type: Event, as the
// functions invoke the fan-out function) is answered 202 at once, as
// Lambda answers once it has queued the event, and runs in the
// background on the same slots, the function's events in the order they
// came. At most the event queue's length wait for a slot; past that the
// router refuses with 429 TooManyRequestsException, as Lambda throttles.
type Router struct {
	client     *http.Client
	logger     *slog.Logger
	ready      chan struct{}
	once       sync.Once
	pools      map[string]*pool // function name -> its RIEs
	mux        *http.ServeMux
	eventQueue int
	// stop ends the workers that run the events.
	stop     chan struct{}
	stopOnce sync.Once
}

// pool is one function's slots and statistics.
type pool struct {
	// free holds the slots not serving an invocation.
	free chan string
	// events are the asynchronous invocations accepted and not yet
	// handed to a slot, queued counts them.
	events chan []byte
	queued atomic.Int64
	mu     sync.Mutex
	stats  InvocationStats
}

// DefaultEventQueue is how many asynchronous invocations of a function
// may wait for a free slot before the router throttles: a few big rooms'
// worth of shards at once.
const DefaultEventQueue = 1024

// RouterOption tunes a Router.
type RouterOption func(*Router)

// WithEventQueue lets at most n asynchronous invocations of each
// function wait for a slot (DefaultEventQueue if n <= 0).
func WithEventQueue(n int) RouterOption {
	return func(r *Router) {
		if n > 0 {
			r.eventQueue = n
		}
	}
}

// InvocationStats is what a function's invocations took, as Lambda
// bills them: from the hand-over of each event to its RIE to the end of
// the answer, not counting a wait for a free instance.
type InvocationStats struct {
	// Count is the number of invocations answered by the function
	// (failed ones too: Lambda bills those).
	Count int64
	// Duration is the sum of their durations; Max the longest.
	Duration time.Duration
	Max      time.Duration
	// MemoryMB is the function's MemorySize, which the GB-seconds are
	// billed on; the Router does not know it and leaves it 0.
	MemoryMB int
}

// GBSeconds is the compute Lambda would bill: the duration in seconds
// times the memory in GB.
func (s InvocationStats) GBSeconds() float64 {
	return s.Duration.Seconds() * float64(s.MemoryMB) / 1024
}

// NewRouter returns a router that reaches the RIEs with client
// (http.DefaultClient if nil).
func NewRouter(client *http.Client, logger *slog.Logger, opts ...RouterOption) *Router {
	if client == nil {
		client = http.DefaultClient
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{client: client, logger: logger, ready: make(chan struct{}), mux: http.NewServeMux(),
		eventQueue: DefaultEventQueue, stop: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	r.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", r.invoke)
	return r
}

// Close stops running queued asynchronous invocations; those already
// handed to a slot finish. Only the first call counts.
func (r *Router) Close() { r.stopOnce.Do(func() { close(r.stop) }) }

// Set names each function's RIEs by their base URLs (http://host:port)
// and lets the waiting invocations through. Each URL is one slot serving
// one invocation at a time: an RIE that serves n at once is listed n
// times. A function without any is unknown. Only the first call counts.
func (r *Router) Set(targets map[string][]string) {
	r.once.Do(func() {
		r.pools = map[string]*pool{}
		for name, urls := range targets {
			if len(urls) == 0 {
				continue
			}
			p := &pool{free: make(chan string, len(urls)), events: make(chan []byte, r.eventQueue)}
			for _, u := range urls {
				p.free <- u
			}
			r.pools[name] = p
			go r.runEvents(name, p)
		}
		close(r.ready)
	})
}

// Invocations gives each function's statistics since the start or the
// last [Router.ResetInvocations]; nil before [Router.Set].
func (r *Router) Invocations() map[string]InvocationStats {
	select {
	case <-r.ready:
	default:
		return nil
	}
	out := make(map[string]InvocationStats, len(r.pools))
	for name, p := range r.pools {
		p.mu.Lock()
		out[name] = p.stats
		p.mu.Unlock()
	}
	return out
}

// ResetInvocations zeroes the statistics, so that a benchmark can measure
// one phase of its run. Invocations under way are counted when they end.
func (r *Router) ResetInvocations() {
	select {
	case <-r.ready:
	default:
		return
	}
	for _, p := range r.pools {
		p.mu.Lock()
		p.stats = InvocationStats{}
		p.mu.Unlock()
	}
}

func (p *pool) record(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Count++
	p.stats.Duration += d
	p.stats.Max = max(p.stats.Max, d)
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

func (r *Router) invoke(w http.ResponseWriter, req *http.Request) {
	select {
	case <-r.ready:
	case <-req.Context().Done():
		return
	}
	name := req.PathValue("name")
	p, ok := r.pools[name]
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	switch t := req.Header.Get("X-Amz-Invocation-Type"); t {
	case "", "RequestResponse":
	case "Event":
		r.enqueue(w, req, name, p)
		return
	default:
		// DryRun checks permissions, which this stand-in has none of.
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse and Event invocations are supported here, not "+t)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(req.Body, maxSyncPayload+1))
	switch {
	case err != nil:
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the payload: "+err.Error())
		return
	case len(payload) > maxSyncPayload:
		lambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", fmt.Sprintf("the payload is past Lambda's %d bytes", maxSyncPayload))
		return
	}
	// Like Lambda at its concurrency limit with a caller that retries,
	// only slower: the invocation waits for an instance as long as its
	// caller does.
	var target string
	select {
	case target = <-p.free:
	case <-req.Context().Done():
		return
	}
	// Once it runs, an invocation runs to its end, as in Lambda, where a
	// caller that gives up (API Gateway after 29 s) leaves the function
	// running until it returns or its own timeout ends it. Cancelling the
	// request to the RIE instead was seen to make the RIE exit (all three
	// of a function's, as a burst of callers gave up), and the function
	// was gone for the rest of the run.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), eventTimeout)
	defer cancel()
	start := time.Now()
	status, header, body, err := r.forward(ctx, target, req.Header, payload)
	took := time.Since(start)
	p.free <- target
	if err == nil {
		p.record(took)
	}
	if err != nil {
		r.logger.Error("invoke failed", "function", name, "error", err.Error())
		lambdaError(w, http.StatusBadGateway, "ServiceException", fmt.Sprintf("function %s: %v", name, err))
		return
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if ct := header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	// The RIE marks a failed invocation (the handler's error, a crash, a
	// timeout) with Error-Type: Runtime.* or Function.*; Lambda answers
	// those 200 with X-Amz-Function-Error, which is what the SDK reads as
	// FunctionError. Anything else failing is the service's own error.
	if et := header.Get("Error-Type"); et != "" {
		if strings.HasPrefix(et, "Runtime.") || strings.HasPrefix(et, "Function.") {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			status = http.StatusOK
		} else {
			w.Header().Set("X-Amzn-ErrorType", et)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// enqueue accepts an asynchronous invocation: its event is read now (the
// request ends with the answer), queued, and answered 202 with no body.
func (r *Router) enqueue(w http.ResponseWriter, req *http.Request, name string, p *pool) {
	event, err := io.ReadAll(req.Body)
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "reading the event: "+err.Error())
		return
	}
	if p.queued.Add(1) > int64(r.eventQueue) {
		p.queued.Add(-1)
		lambdaError(w, http.StatusTooManyRequests, "TooManyRequestsException",
			fmt.Sprintf("Rate Exceeded: %d asynchronous invocations of %s already wait for an instance", r.eventQueue, name))
		return
	}
	// Never blocks: the channel holds eventQueue, and queued counts what
	// is in it.
	p.events <- event
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("event-%d", time.Now().UnixNano()))
	w.WriteHeader(http.StatusAccepted)
}

// maxSyncPayload is Lambda's bound on a synchronous invocation's payload.
const maxSyncPayload = 6 << 20

// eventTimeout bounds one invocation's run once it started, which no
// caller may cut short; the RIE ends the function's own at its Timeout
// before.
const eventTimeout = 15 * time.Minute

// runEvents hands a function's queued events, in the order they came, to
// its slots as they free up, each run in the background.
func (r *Router) runEvents(name string, p *pool) {
	for {
		var event []byte
		select {
		case event = <-p.events:
		case <-r.stop:
			return
		}
		var target string
		select {
		case target = <-p.free:
		case <-r.stop:
			return
		}
		p.queued.Add(-1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
			defer cancel()
			start := time.Now()
			status, header, body, err := r.forward(ctx, target, http.Header{"Content-Type": {"application/json"}}, event)
			took := time.Since(start)
			p.free <- target
			switch {
			case err != nil:
				r.logger.Error("asynchronous invoke failed", "function", name, "error", err.Error())
			default:
				p.record(took)
				// Lambda would log and drop it (no retries, no
				// destination): the function's own output says why.
				if et := header.Get("Error-Type"); et != "" || status >= 300 {
					r.logger.Warn("asynchronous invocation failed", "function", name, "status", status, "error_type", et, "answer", string(body))
				}
			}
		}()
	}
}

// redialFor is how long an invocation keeps trying an instance whose RIE
// refuses connections: one that stopped is replaced (Stack.watch), in
// about a second, on the same address.
const redialFor = 15 * time.Second

// forward posts the invocation to the RIE at target and reads its answer.
// An RIE that refuses the connection never saw the invocation, so it is
// sent again once the instance is back, as Lambda sends an invocation to
// a new execution environment when one fails, never to a dead one.
func (r *Router) forward(ctx context.Context, target string, header http.Header, payload []byte) (int, http.Header, []byte, error) {
	deadline := time.Now().Add(redialFor)
	var resp *http.Response
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+InvokePath, bytes.NewReader(payload))
		if err != nil {
			return 0, nil, nil, err
		}
		for _, h := range []string{"Content-Type", "X-Amz-Client-Context", "X-Amzn-Trace-Id"} {
			if v := header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		resp, err = r.client.Do(req)
		if err == nil {
			break
		}
		if !refused(err) {
			return 0, nil, nil, err
		}
		if time.Now().After(deadline) {
			return 0, nil, nil, fmt.Errorf("refused for %v: %w", redialFor, err)
		}
		select {
		case <-ctx.Done():
			return 0, nil, nil, err
		case <-r.stop:
			return 0, nil, nil, fmt.Errorf("the router stopped while the instance refused: %w", err)
		case <-time.After(redialPause):
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// redialPause is the wait between two dials of a refusing RIE.
const redialPause = 100 * time.Millisecond

// refused reports whether err is a connection the RIE refused, so the
// request was never sent.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// lambdaError answers as the Lambda API does for its own errors: the code
// in X-Amzn-ErrorType, where the SDK looks first.
func lambdaError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": message})
}
