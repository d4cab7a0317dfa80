// Package httpapi is the HTTP side of the wire contract: it turns API
// Gateway HTTP API (payload 2.0) events into calls on the auth and rooms
// use cases and their results into responses, with the contract's status
// codes and error bodies.
//
// Every answer is decided here, in the order the contract fixes:
// authentication (401), room membership (404), body and query (400), role
// (403), then the rest. A failure that is not a rule of the contract is a
// 500 `internal` whose body says nothing more; the cause goes to the log,
// one JSON line with the request id.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/wire"
	"github.com/chatroom/chat/internal/wire/strictjson"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

// Codes the transport itself produces.
const (
	codeInvalidJSON   chat.Code = "invalid_json"
	codeInvalidQuery  chat.Code = "invalid_query"
	codeBodyTooLarge  chat.Code = "body_too_large"
	codeRouteNotFound chat.Code = "route_not_found"
	codeInternal      chat.Code = "internal"
)

var (
	errInvalidJSON   = &chat.Error{Code: codeInvalidJSON, Message: "the body is not the JSON this route takes"}
	errBodyTooLarge  = &chat.Error{Code: codeBodyTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
	errRouteNotFound = &chat.Error{Code: codeRouteNotFound, Message: "no such route"}
	errBadBase64     = errors.New("httpapi: the body is not valid base64")
)

// statusOf is the one map from a contract code to its HTTP status.
var statusOf = map[chat.Code]int{
	chat.CodeInvalidUsername:    http.StatusBadRequest,
	chat.CodeInvalidPassword:    http.StatusBadRequest,
	chat.CodeInvalidRoomName:    http.StatusBadRequest,
	chat.CodeInvalidMessage:     http.StatusBadRequest,
	chat.CodeTooManyMembers:     http.StatusBadRequest,
	rooms.CodeTooManyBlocks:     http.StatusBadRequest,
	codeInvalidJSON:             http.StatusBadRequest,
	codeInvalidQuery:            http.StatusBadRequest,
	auth.CodeUnauthenticated:    http.StatusUnauthorized,
	auth.CodeInvalidCredentials: http.StatusUnauthorized,
	chat.CodeForbidden:          http.StatusForbidden,
	chat.CodeRoomNotFound:       http.StatusNotFound,
	chat.CodeUserNotFound:       http.StatusNotFound,
	codeRouteNotFound:           http.StatusNotFound,
	chat.CodeUsernameTaken:      http.StatusConflict,
	chat.CodeAlreadyMember:      http.StatusConflict,
	codeBodyTooLarge:            http.StatusRequestEntityTooLarge,
	auth.CodeRateLimited:        http.StatusTooManyRequests,
}

// Request is an HTTP API request as a route handler sees it.
type Request struct {
	Event  *events.APIGatewayV2HTTPRequest
	Params map[string]string
	// Caller is set on routes that need authentication.
	Caller  auth.Identity
	body    []byte
	bodyErr error // what decode answers when the body could not be read
}

// Response is what a route handler answers.
type Response struct {
	Status int
	Body   any // encoded as JSON; nil for no body
}

type route struct {
	anonymous bool
	catchAll  bool
	handle    func(ctx context.Context, req *Request) (Response, error)
}

// Handler serves one Lambda function's routes.
type Handler struct {
	auth   *auth.Service
	routes map[string]route // by route key, "POST /rooms/{room_id}/members"
	logger *slog.Logger
}

func newHandler(a *auth.Service, logger *slog.Logger) (*Handler, error) {
	if a == nil || logger == nil {
		return nil, errors.New("httpapi: the auth service and a logger are required")
	}
	return &Handler{auth: a, routes: map[string]route{}, logger: logger}, nil
}

// RouteKeys lists the route keys the handler serves, as template.yaml
// declares them.
func (h *Handler) RouteKeys() []string {
	keys := make([]string, 0, len(h.routes))
	for k := range h.routes {
		keys = append(keys, k)
	}
	return keys
}

// Handle answers one API Gateway event. It never returns an error: every
// failure becomes a response, as a Lambda error would become a bare 500.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
	defer func() {
		if p := recover(); p != nil {
			resp = h.failure(ctx, &ev, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
	}()
	req := &Request{Event: &ev, Params: ev.PathParameters}
	rt, ok := h.match(&ev, req)
	if !ok {
		return h.answer(ctx, &ev, Response{}, errRouteNotFound), nil
	}
	if !rt.anonymous {
		id, err := h.auth.AuthenticateHeader(ctx, header(&ev, "authorization"))
		if err != nil {
			return h.answer(ctx, &ev, Response{}, err), nil
		}
		req.Caller = id
	}
	body, err := readBody(&ev)
	switch {
	case errors.Is(err, errBadBase64):
		req.bodyErr = errInvalidJSON
	case err != nil:
		return h.answer(ctx, &ev, Response{}, err), nil
	}
	req.body = body
	r, err := rt.handle(ctx, req)
	return h.answer(ctx, &ev, r, err), nil
}

// match finds the route by the event's route key, which is how API Gateway
// chose this function; a catch-all ($default) key falls back to matching
// the method and path.
func (h *Handler) match(ev *events.APIGatewayV2HTTPRequest, req *Request) (route, bool) {
	if rt, ok := h.routes[ev.RouteKey]; ok {
		return rt, true
	}
	method := ev.RequestContext.HTTP.Method
	path := ev.RawPath
	if stage := ev.RequestContext.Stage; stage != "" && stage != "$default" {
		path = strings.TrimPrefix(path, "/"+stage)
	}
	for key, rt := range h.routes {
		m, pattern, _ := strings.Cut(key, " ")
		if m != method || rt.catchAll {
			continue
		}
		if params, ok := matchPath(pattern, path); ok {
			req.Params = params
			return rt, true
		}
	}
	return route{}, false
}

func matchPath(pattern, path string) (map[string]string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	xs := strings.Split(strings.Trim(path, "/"), "/")
	if len(ps) != len(xs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if xs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = xs[i]
		} else if p != xs[i] {
			return nil, false
		}
	}
	return params, true
}

func header(ev *events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range ev.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func readBody(ev *events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !ev.IsBase64Encoded {
		if len(ev.Body) > MaxBodyBytes {
			return nil, errBodyTooLarge
		}
		return []byte(ev.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > MaxBodyBytes+3 {
		return nil, errBodyTooLarge
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		// Not a body at all: decode says so, after the membership check.
		return nil, errBadBase64
	}
	if len(b) > MaxBodyBytes {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// fieldCodes is the code a body field's refusal by the strict reader
// carries: the code a bad value of that field gets. A field missing here
// (admin) has no code of its own and is invalid_json, as a wrongly typed
// one is.
var fieldCodes = map[string]chat.Code{
	"username":  chat.CodeInvalidUsername,
	"password":  chat.CodeInvalidPassword,
	"name":      chat.CodeInvalidRoomName,
	"members":   chat.CodeInvalidUsername,
	"usernames": chat.CodeInvalidUsername,
	"seq":       codeInvalidQuery,
}

// decode reads the JSON body into v, a pointer to a struct whose fields
// are declared in the order they are judged: one object, nothing after
// it, read strictly (internal/wire/strictjson). A field given twice, under
// a key that differs from its name only in case, or holding invalid UTF-8
// or a lone surrogate gets that field's code; invalid UTF-8 elsewhere, like
// anything that is not one object, is invalid_json. Nothing is rewritten.
func (r *Request) decode(v any) error {
	if r.bodyErr != nil {
		return r.bodyErr
	}
	err := strictjson.Decode(r.body, v)
	if err == nil {
		return nil
	}
	var fe *strictjson.FieldError
	if errors.As(err, &fe) {
		if code, ok := fieldCodes[fe.Field]; ok {
			return &chat.Error{Code: code, Message: fmt.Sprintf("%s %s", fe.Field, fe.Problem)}
		}
	}
	return errInvalidJSON
}

func (h *Handler) answer(ctx context.Context, ev *events.APIGatewayV2HTTPRequest, r Response, err error) events.APIGatewayV2HTTPResponse {
	if err == nil {
		return respond(r.Status, r.Body)
	}
	var ce *chat.Error
	if errors.As(err, &ce) {
		if status, ok := statusOf[ce.Code]; ok {
			return respond(status, wire.Error{Error: wire.ErrorDetail{Code: string(ce.Code), Message: ce.Message, Usernames: ce.Usernames}})
		}
	}
	return h.failure(ctx, ev, err)
}

// failure logs an unexpected error with the request id and answers a 500
// that tells the client nothing about it.
func (h *Handler) failure(ctx context.Context, ev *events.APIGatewayV2HTTPRequest, err error) events.APIGatewayV2HTTPResponse {
	h.logger.ErrorContext(ctx, "request failed",
		"request_id", ev.RequestContext.RequestID,
		"route", ev.RouteKey,
		"status", http.StatusInternalServerError,
		"error", err.Error())
	return respond(http.StatusInternalServerError, wire.Error{Error: wire.ErrorDetail{Code: string(codeInternal), Message: "something went wrong on our side; try again"}})
}

// respond shapes an answer. Every answer carries the same headers: an
// answer is JSON or nothing, never a page, so nothing may load from it or
// frame it, a browser must not sniff it into HTML, and neither it nor a
// link from it tells another site where the caller was.
func respond(status int, body any) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{
		"Cache-Control":           "no-store",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}}
	if body == nil {
		return resp
	}
	raw, err := json.Marshal(body)
	if err != nil {
		// Only our own types are encoded; this cannot happen short of a bug.
		resp.StatusCode = http.StatusInternalServerError
		raw = []byte(`{"error":{"code":"internal","message":"something went wrong on our side; try again"}}`)
	}
	resp.Headers["Content-Type"] = "application/json"
	resp.Body = string(raw)
	return resp
}
