// Package lambdatest drives a Lambda function binary the way Lambda does:
// through the Lambda Runtime API.
//
// [Server] is a small implementation of that API for tests. It is what
// `sam local invoke` does inside the container it starts: the function's
// `bootstrap` runs with AWS_LAMBDA_RUNTIME_API pointing at a local
// endpoint, long-polls it for the next event
// (GET /2018-06-01/runtime/invocation/next), and posts the answer back
// (POST .../invocation/{id}/response or .../invocation/{id}/error); a
// function that cannot start says so at POST /2018-06-01/runtime/init/error.
// A test starts the binary with Server.Addr as AWS_LAMBDA_RUNTIME_API,
// calls [Server.Invoke] with an event and gets the function's answer.
//
// One Server serves one function process, as one Lambda execution
// environment does: invocations queue and go to the process one at a time.
// The server listens on 127.0.0.1 only.
package lambdatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Paths of the Runtime API (version 2018-06-01).
const (
	pathPrefix = "/2018-06-01/runtime"
	pathNext   = pathPrefix + "/invocation/next"
	pathInit   = pathPrefix + "/init/error"
)

// Headers the Runtime API sets on an event and reads on an error.
const (
	HeaderRequestID     = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadline      = "Lambda-Runtime-Deadline-Ms"
	HeaderFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID       = "Lambda-Runtime-Trace-Id"
	HeaderErrorType     = "Lambda-Runtime-Function-Error-Type"
	maxPayload          = 6 << 20 // Lambda's synchronous payload limit
	defaultTimeout      = 15 * time.Second
	defaultFunctionName = "function"
)

// ErrClosed is returned by Invoke once the server is closed.
var ErrClosed = errors.New("lambdatest: server closed")

// FunctionError is the answer of a function that posted to
// .../invocation/{id}/error: the handler returned an error or panicked.
type FunctionError struct {
	RequestID string
	// Type is the Lambda-Runtime-Function-Error-Type header, or the
	// body's errorType.
	Type    string
	Message string
	// Body is the error document as the function posted it.
	Body []byte
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("lambdatest: invocation %s failed: %s: %s", e.RequestID, e.Type, e.Message)
}

// InitError is what a function posted to /runtime/init/error.
type InitError struct {
	Type    string
	Message string
	Body    []byte
}

// InitFailedError is returned by Invoke when the function reported an init
// error: it will answer no invocation.
type InitFailedError struct{ InitError InitError }

func (e *InitFailedError) Error() string {
	return fmt.Sprintf("lambdatest: the function failed to initialize: %s: %s", e.InitError.Type, e.InitError.Message)
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// FunctionName goes into the invoked function ARN.
	FunctionName string
	// Timeout sets the deadline of an invocation whose context has none
	// (Lambda-Runtime-Deadline-Ms). Default 15s, the template's Timeout.
	Timeout time.Duration
}

type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	trace    string
	done     chan struct{} // closed when result is set
	response []byte
	err      error
	taken    bool // handed to the function
	canceled bool // the caller stopped waiting before the function took it
}

// Server is a Lambda Runtime API for one function process.
type Server struct {
	addr string
	arn  string
	opts Options
	srv  *http.Server
	ln   net.Listener

	mu         sync.Mutex
	queue      []*invocation
	pending    map[string]*invocation // taken, not answered
	wake       chan struct{}          // closed and replaced when the queue grows
	initErrs   []InitError
	initFailed chan struct{}
	closed     chan struct{}
	closeOnce  sync.Once
	serveDone  chan struct{}
}

// NewServer starts a Runtime API on a free port of 127.0.0.1.
func NewServer(opts Options) (*Server, error) {
	if opts.FunctionName == "" {
		opts.FunctionName = defaultFunctionName
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	s := &Server{
		addr:       ln.Addr().String(),
		arn:        "arn:aws:lambda:us-east-1:123456789012:function:" + opts.FunctionName,
		opts:       opts,
		ln:         ln,
		pending:    map[string]*invocation{},
		wake:       make(chan struct{}),
		initFailed: make(chan struct{}),
		closed:     make(chan struct{}),
		serveDone:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathNext, s.next)
	mux.HandleFunc("POST "+pathPrefix+"/invocation/{id}/response", s.respond)
	mux.HandleFunc("POST "+pathPrefix+"/invocation/{id}/error", s.fail)
	mux.HandleFunc("POST "+pathInit, s.initError)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.addr }

// FunctionARN is the ARN sent as Lambda-Runtime-Invoked-Function-Arn.
func (s *Server) FunctionARN() string { return s.arn }

// Close stops the server: long polls end, waiting Invokes return ErrClosed.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.serveDone
	return err
}

// InitErrors returns the init errors the function reported.
func (s *Server) InitErrors() []InitError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]InitError(nil), s.initErrs...)
}

// InitFailed is closed when the function reports its first init error.
func (s *Server) InitFailed() <-chan struct{} { return s.initFailed }

// Invoke queues event for the function and waits for its answer: the
// response document, or a *FunctionError when the function reported an
// error, or a *InitFailedError, or ctx's error, or ErrClosed. The event
// is delivered to the function once; an Invoke abandoned before the
// function took it is never delivered.
func (s *Server) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	inv := &invocation{
		id:    newRequestID(),
		event: event,
		trace: newTraceID(),
		done:  make(chan struct{}),
	}
	inv.deadline = time.Now().Add(s.opts.Timeout)
	if d, ok := ctx.Deadline(); ok {
		inv.deadline = d
	}

	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return nil, ErrClosed
	default:
	}
	s.queue = append(s.queue, inv)
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()

	var err error
	select {
	case <-inv.done:
		return inv.response, inv.err
	case <-ctx.Done():
		err = fmt.Errorf("lambdatest: invocation %s: %w", inv.id, ctx.Err())
	case <-s.initFailed:
		err = &InitFailedError{InitError: s.InitErrors()[0]}
	case <-s.closed:
		err = ErrClosed
	}
	s.abandon(inv)
	select {
	case <-inv.done: // the answer came after all
		return inv.response, inv.err
	default:
		return nil, err
	}
}

// abandon forgets an invocation nobody waits for any more.
func (s *Server) abandon(inv *invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !inv.taken {
		inv.canceled = true
	}
	delete(s.pending, inv.id)
}

// take pops the next invocation that is still wanted, or returns the
// channel that is closed when one is queued.
func (s *Server) take() (*invocation, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 {
		inv := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		if inv.canceled {
			continue
		}
		inv.taken = true
		s.pending[inv.id] = inv
		return inv, nil
	}
	return nil, s.wake
}

// putBack returns an invocation to the head of the queue: the function's
// poll ended before it could be handed over.
func (s *Server) putBack(inv *invocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[inv.id]; !ok {
		return // abandoned meanwhile
	}
	delete(s.pending, inv.id)
	inv.taken = false
	s.queue = append([]*invocation{inv}, s.queue...)
}

// next is GET /invocation/next: it blocks until there is an event.
func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	for {
		inv, wake := s.take()
		if inv != nil {
			if r.Context().Err() != nil {
				s.putBack(inv)
				return
			}
			h := w.Header()
			h.Set(HeaderRequestID, inv.id)
			h.Set(HeaderDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set(HeaderFunctionARN, s.arn)
			h.Set(HeaderTraceID, inv.trace)
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(inv.event)
			return
		}
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		case <-s.closed:
			http.Error(w, "server closed", http.StatusServiceUnavailable)
			return
		}
	}
}

// finish hands an answer to the waiting Invoke.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, set func(inv *invocation, body []byte)) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the payload exceeds 6 MB")
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	inv, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "no invocation "+id+" is waiting for an answer")
		return
	}
	set(inv, body)
	close(inv.done)
	writeStatus(w, http.StatusAccepted, "", "")
}

// respond is POST /invocation/{id}/response.
func (s *Server) respond(w http.ResponseWriter, r *http.Request) {
	s.finish(w, r, func(inv *invocation, body []byte) { inv.response = body })
}

// errorDoc is the error document a runtime posts.
type errorDoc struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func parseErrorDoc(r *http.Request, body []byte) (typ, msg string) {
	var doc errorDoc
	_ = json.Unmarshal(body, &doc)
	typ = r.Header.Get(HeaderErrorType)
	if typ == "" {
		typ = doc.ErrorType
	}
	msg = doc.ErrorMessage
	if msg == "" {
		msg = string(body)
	}
	return typ, msg
}

// fail is POST /invocation/{id}/error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request) {
	s.finish(w, r, func(inv *invocation, body []byte) {
		typ, msg := parseErrorDoc(r, body)
		inv.response = body
		inv.err = &FunctionError{RequestID: inv.id, Type: typ, Message: msg, Body: body}
	})
}

// initError is POST /init/error.
func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		writeStatus(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the payload exceeds 6 MB")
		return
	}
	typ, msg := parseErrorDoc(r, body)
	s.mu.Lock()
	s.initErrs = append(s.initErrs, InitError{Type: typ, Message: msg, Body: body})
	if len(s.initErrs) == 1 {
		close(s.initFailed)
	}
	s.mu.Unlock()
	writeStatus(w, http.StatusAccepted, "", "")
}

func writeStatus(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if errType == "" {
		_, _ = io.WriteString(w, `{"status":"OK"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errType, "errorMessage": msg})
}

// newRequestID returns a random UUID (version 4), as Lambda's request ids are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header.
func newTraceID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), h[:24], h[24:40])
}
