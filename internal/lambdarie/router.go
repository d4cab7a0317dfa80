package lambdarie

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// InvokePath is where an RIE takes invocations, whatever the function's
// name.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Router is the Lambda Invoke API in front of one RIE per function: it
// takes POST /2015-03-31/functions/{name}/invocations and hands the event
// to that function's RIE, answering as Lambda does. Until [Router.Set]
// names the RIEs, invocations wait.
type Router struct {
	client  *http.Client
	logger  *slog.Logger
	ready   chan struct{}
	once    sync.Once
	targets map[string]string // function name -> RIE base URL
	mux     *http.ServeMux
}

// NewRouter returns a router that reaches the RIEs with client
// (http.DefaultClient if nil).
func NewRouter(client *http.Client, logger *slog.Logger) *Router {
	if client == nil {
		client = http.DefaultClient
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{client: client, logger: logger, ready: make(chan struct{}), mux: http.NewServeMux()}
	r.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", r.invoke)
	return r
}

// Set names each function's RIE by its base URL (http://host:port) and
// lets the waiting invocations through. Only the first call counts.
func (r *Router) Set(targets map[string]string) {
	r.once.Do(func() {
		r.targets = targets
		close(r.ready)
	})
}

func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

func (r *Router) invoke(w http.ResponseWriter, req *http.Request) {
	select {
	case <-r.ready:
	case <-req.Context().Done():
		return
	}
	name := req.PathValue("name")
	target, ok := r.targets[name]
	if !ok {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
		return
	}
	// The emulator invokes synchronously only; Event and DryRun would need
	// a queue this stand-in does not have.
	if t := req.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse invocations are supported here, not "+t)
		return
	}
	status, header, body, err := r.forward(req.Context(), target, req)
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

// forward posts the invocation to the RIE at target and reads its answer.
func (r *Router) forward(ctx context.Context, target string, in *http.Request) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+InvokePath, in.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, h := range []string{"Content-Type", "X-Amz-Client-Context", "X-Amzn-Trace-Id"} {
		if v := in.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// lambdaError answers as the Lambda API does for its own errors: the code
// in X-Amzn-ErrorType, where the SDK looks first.
func lambdaError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": message})
}
