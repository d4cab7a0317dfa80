// Package gateway is the local stand-in for API Gateway: it reads
// template.yaml, serves the HTTP API and the WebSocket API on one port,
// invokes each route's function with the event API Gateway would send, and
// answers the management API (/@connections) the functions push through.
// `sam local start-api` serves no WebSocket APIs; this does, with the same
// handlers, unmodified.
//
// It reproduces what a client can tell: route selection on
// $request.body.action with $default, a $connect refused by a non-2xx
// answer, $disconnect on close, the 32 KB frame and 128 KiB message limits
// (close 1009), binary frames refused (close 1003), the "Internal server
// error" and "Forbidden" answers to a frame whose integration failed or that
// no route takes, the 10 minute idle and 2 hour connection limits, and the
// requestContext fields the handlers read. Its management API can insist on
// signed calls and throttle them (ManagementAuth, ManagementRate), and a
// test can make $disconnect best effort, as it is in API Gateway
// (DropDisconnect).
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// API Gateway's limits that a client can notice.
const (
	MaxMessageBytes = 128 << 10
	// MaxFrameBytes is the WebSocket frame size quota: a message larger
	// than it must come in several frames, and a single larger frame
	// closes the connection with 1009 as an oversized message does.
	MaxFrameBytes     = 32 << 10
	IdleTimeout       = 10 * time.Minute
	MaxConnectionTime = 2 * time.Hour
	// maxHTTPBody is API Gateway's HTTP API payload limit.
	maxHTTPBody = 10 << 20
	// BodyReadTimeout bounds reading a request's body once its headers are
	// in: a client that announces a body and never sends it would
	// otherwise hold the request, its goroutine and its connection for
	// ever. 30 s is API Gateway's HTTP API integration timeout, the
	// longest any request may take there. Past it the answer is 408 and
	// the connection is closed. (Headers have their own bound, the
	// server's ReadHeaderTimeout; WebSocket connections, long-lived after
	// their upgrade, have no body to read and are not affected.)
	BodyReadTimeout = 30 * time.Second
	// IntegrationTimeout is API Gateway's WebSocket integration timeout,
	// 29 s: a frame's function still running then has failed, and the
	// client is told "Internal server error".
	IntegrationTimeout = 29 * time.Second
)

// Config configures the gateway.
type Config struct {
	Routes  *Routes
	Invoker Invoker
	// WebDir is served at /; empty serves nothing there.
	WebDir string
	// Stage is the stage name in events and the management API's path.
	Stage  string
	Logger *slog.Logger
	// Verbose logs every event and answer, with their passwords, tokens,
	// tickets and other secrets redacted (redact).
	Verbose bool
	// IdleTimeout and MaxConnectionTime override API Gateway's limits
	// (tests shorten them).
	IdleTimeout       time.Duration
	MaxConnectionTime time.Duration
	// BodyReadTimeout overrides the bound on reading a request body
	// (tests shorten it).
	BodyReadTimeout time.Duration
	// IntegrationTimeout overrides the bound on a frame's invocation
	// (default IntegrationTimeout, tests shorten it).
	IntegrationTimeout time.Duration
	// ManagementAuth makes the management API's HTTP route refuse calls
	// that are not SigV4-signed (403), as API Gateway does. The in-process
	// ManagementClient is not checked: no network caller can reach it.
	ManagementAuth bool
	// ManagementRate, when positive, is the account-wide rate of
	// management API calls a second, with bursts of ManagementBurst
	// (default: one second's worth); past it a call is answered 429
	// LimitExceededException. Zero does not throttle. The direct pusher
	// is not the management API and is never throttled.
	ManagementRate  float64
	ManagementBurst int
	// ManagementLatency, when positive, holds each management API call
	// that long, plus up to ManagementJitter more at random, before it is
	// served: the network round trip to API Gateway that each post costs
	// a function in the cloud (tens of milliseconds), which the simulated
	// cloud reproduces. Zero adds nothing.
	ManagementLatency, ManagementJitter time.Duration
	// DropDisconnect, when set, is asked at each close whether to skip
	// $disconnect for the connection: a fault for tests, as API Gateway
	// invokes $disconnect on a best-effort basis only.
	DropDisconnect func(connectionID string) bool
}

// Gateway serves the APIs.
type Gateway struct {
	cfg   Config
	mu    sync.Mutex
	conns map[string]*conn
	// closing is set by Shutdown: from then on sockets are refused. wg
	// counts the sockets being served; both change under mu, so Shutdown
	// neither misses a socket nor waits while one is added.
	closing bool
	wg      sync.WaitGroup
	// invocations holds a slot per invocation of a frame under way.
	invocations chan struct{}
	// throttle limits the management API's calls (nil: no limit).
	throttle *tokenBucket
}

// New returns a gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.Routes == nil || cfg.Invoker == nil || cfg.Logger == nil {
		return nil, errors.New("gateway: routes, an invoker and a logger are required")
	}
	if cfg.Stage == "" {
		cfg.Stage = "local"
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = IdleTimeout
	}
	if cfg.MaxConnectionTime == 0 {
		cfg.MaxConnectionTime = MaxConnectionTime
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = BodyReadTimeout
	}
	if cfg.IntegrationTimeout == 0 {
		cfg.IntegrationTimeout = IntegrationTimeout
	}
	if cfg.ManagementRate < 0 || cfg.ManagementBurst < 0 {
		return nil, errors.New("gateway: the management API's rate and burst cannot be negative")
	}
	if cfg.ManagementLatency < 0 || cfg.ManagementJitter < 0 {
		return nil, errors.New("gateway: the management API's latency and jitter cannot be negative")
	}
	g := &Gateway{cfg: cfg, conns: map[string]*conn{}, invocations: make(chan struct{}, maxInvocations)}
	if cfg.ManagementRate > 0 {
		g.throttle = newTokenBucket(cfg.ManagementRate, cfg.ManagementBurst)
	}
	return g, nil
}

// Handler returns the HTTP handler serving everything on one port.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", g.serveHTTPAPI)
	mux.HandleFunc("/ws", g.serveWebSocket)
	mux.HandleFunc("/@connections/{id}", g.serveConnections)
	mux.HandleFunc("/"+g.cfg.Stage+"/@connections/{id}", g.serveConnections)
	// What CloudFront serves in the cloud gets its headers here too.
	mux.Handle("/config.json", g.withWebHeaders(http.HandlerFunc(g.serveConfig)))
	if g.cfg.WebDir != "" {
		mux.Handle("/", g.withWebHeaders(http.FileServer(http.Dir(g.cfg.WebDir))))
	}
	return g.limitBodies(mux)
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// connectionID looks like API Gateway's: 12 random bytes, base64.
func connectionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (g *Gateway) invoke(ctx context.Context, fn *Function, route string, event any, answer any) error {
	payload, err := json.Marshal(event)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := g.cfg.Invoker.Invoke(ctx, fn, payload)
	attrs := []any{"route", route, "function", fn.LogicalID, "duration_ms", time.Since(start).Milliseconds()}
	if g.cfg.Verbose {
		attrs = append(attrs, "event", redact(payload), "answer", redact(out))
	}
	if err != nil {
		g.cfg.Logger.ErrorContext(ctx, "invocation failed", append(attrs, "error", err.Error())...)
		return err
	}
	if err := json.Unmarshal(out, answer); err != nil {
		g.cfg.Logger.ErrorContext(ctx, "invocation answered no JSON", append(attrs, "error", err.Error())...)
		return err
	}
	status := 0
	switch a := answer.(type) {
	case *events.APIGatewayV2HTTPResponse:
		status = a.StatusCode
	case *events.APIGatewayProxyResponse:
		status = a.StatusCode
	}
	g.cfg.Logger.InfoContext(ctx, "invoked", append(attrs, "status", status)...)
	return nil
}

// serveHTTPAPI turns a request under /api into an HTTP API payload 2.0
// event for the route's function, and its answer into the response.
func (g *Gateway) serveHTTPAPI(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api")
	route, params, ok := g.cfg.Routes.MatchHTTP(r.Method, path)
	if !ok {
		// What API Gateway answers for a request no route takes.
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	body, err := readBody(r, maxHTTPBody, false)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		requestTimeout(w)
		return
	}
	if err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if len(body) > maxHTTPBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
		return
	}
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Key(),
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Headers:               map[string]string{},
		QueryStringParameters: map[string]string{},
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: "000000000000", APIID: "local", DomainName: r.Host, DomainPrefix: "local",
			RequestID: newID(16), RouteKey: route.Key(), Stage: "$default",
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: path, Protocol: r.Proto, SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			ev.Cookies = append(ev.Cookies, vs...)
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	for k, vs := range r.URL.Query() {
		ev.QueryStringParameters[k] = strings.Join(vs, ",")
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := g.invoke(r.Context(), g.cfg.Routes.Functions[route.Function], route.Key(), ev, &resp); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	if resp.StatusCode < 200 || resp.StatusCode > 599 {
		// A malformed answer, as API Gateway sees it; WriteHeader would
		// panic on it (or send a 1xx as informational).
		g.cfg.Logger.ErrorContext(r.Context(), "invocation answered no valid status", "route", route.Key(), "status", resp.StatusCode)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// readBody reads a request body of at most limit bytes (limit+1 tells
// that it is larger). presize allocates the announced length at once, for
// the management API's posts (at most 128 KiB each); an HTTP API body
// grows as it arrives, so that headers alone cannot make the gateway hold
// 10 MiB. The time it may take is bounded by limitBodies.
func readBody(r *http.Request, limit int64, presize bool) ([]byte, error) {
	if n := r.ContentLength; presize && n >= 0 && n <= limit {
		data := make([]byte, n)
		if _, err := io.ReadFull(r.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, limit+1))
}

// limitBodies bounds the time a request's body may take to arrive, from
// the end of its headers: read by the handler, or by the server, which
// reads what a handler left unread before it answers (a 404 to a body that
// never comes would otherwise wait for ever). The deadline is the
// connection's; net/http lifts it once the body is read to its end, when
// it starts its own read that notices a client going away, so a function
// that runs longer than the bound is not cut off. If the body never
// arrives the deadline stays, and the connection is closed after the
// answer. A request without a body, the WebSocket handshake among them,
// is left alone: the deadline would outlive the upgrade and end the
// socket.
func (g *Gateway) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Header.Get("Upgrade") == "" {
			// An error means a writer without a connection (a test's
			// recorder): nothing to bound.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(g.cfg.BodyReadTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// requestTimeout answers a request whose body did not arrive in time and
// closes its connection, whose next bytes could be anything.
func requestTimeout(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestTimeout, map[string]string{"message": "Request Timeout"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveConfig tells the web client where the APIs are.
func (g *Gateway) serveConfig(w http.ResponseWriter, r *http.Request) {
	scheme, wsScheme := "http", "ws"
	if r.TLS != nil {
		scheme, wsScheme = "https", "wss"
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]string{
		"httpApiUrl":   fmt.Sprintf("%s://%s/api", scheme, r.Host),
		"webSocketUrl": fmt.Sprintf("%s://%s/ws", wsScheme, r.Host),
	})
}

// conn is one open WebSocket connection.
type conn struct {
	id          string
	ws          *websocket.Conn
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	mu          sync.Mutex
	lastActive  time.Time
	closeCode   websocket.StatusCode
	closeReason string
	// closing is set once the connection starts to close: from then on the
	// management API answers 410 for it, as API Gateway does, instead of
	// waiting on a socket that is going away.
	closing atomic.Bool
	// ready is closed once the handshake is over (ws set, or the upgrade
	// failed and closing set): the connection is listed from the end of
	// $connect, as API Gateway can post to it from then on, and users of
	// ws wait for ready.
	ready    chan struct{}
	activity chan struct{}
	cancel   context.CancelFunc
	// out queues the frames posted to the connection; cork is its socket,
	// which the writer corks to send queued frames in one write.
	out  *outbox
	cork *corkConn
}

func (c *conn) touch() {
	c.mu.Lock()
	c.lastActive = time.Now()
	c.mu.Unlock()
	select {
	case c.activity <- struct{}{}:
	default:
	}
}

// closeWith ends the connection with a status, once.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.closing.Store(true)
	c.out.close()
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closeCode, c.closeReason = code, reason
	}
	c.mu.Unlock()
	if c.ws == nil {
		return // the upgrade failed: no socket to close
	}
	_ = c.ws.Close(code, reason)
	c.cancel()
}

func (g *Gateway) wsEvent(c *conn, routeKey, eventType string, headers http.Header, query map[string]string, body string) events.APIGatewayWebsocketProxyRequest {
	now := time.Now()
	ev := events.APIGatewayWebsocketProxyRequest{
		QueryStringParameters: query,
		Body:                  body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID: "000000000000", APIID: "local", Stage: g.cfg.Stage,
			RequestID: newID(16), ExtendedRequestID: newID(16),
			ConnectionID: c.id, ConnectedAt: c.connectedAt.UnixMilli(),
			DomainName: "", EventType: eventType, MessageDirection: "IN", RouteKey: routeKey,
			RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), RequestTimeEpoch: now.UnixMilli(),
			Identity: events.APIGatewayRequestIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
		},
	}
	if eventType == "MESSAGE" {
		ev.RequestContext.MessageID = newID(8)
	}
	if headers != nil {
		ev.Headers, ev.MultiValueHeaders = map[string]string{}, map[string][]string{}
		for k, vs := range headers {
			ev.Headers[k] = strings.Join(vs, ",")
			ev.MultiValueHeaders[k] = vs
		}
	}
	return ev
}

// serveWebSocket runs $connect before the upgrade, then one invocation per
// message, then $disconnect.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		http.Error(w, "Service Unavailable: shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()
	connectFn, ok := g.function("$connect")
	c := &conn{id: connectionID(), connectedAt: time.Now(), sourceIP: sourceIP(r), userAgent: r.UserAgent(),
		ready: make(chan struct{}), activity: make(chan struct{}, 1), out: newOutbox()}
	if ok {
		query := map[string]string{}
		for k, vs := range r.URL.Query() {
			query[k] = strings.Join(vs, ",")
		}
		ev := g.wsEvent(c, "$connect", "CONNECT", r.Header, query, "")
		ev.RequestContext.DomainName = r.Host
		var resp events.APIGatewayProxyResponse
		if err := g.invoke(r.Context(), connectFn, "$connect", ev, &resp); err != nil {
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode > 599 {
			// No final HTTP status (a handler that left it unset): a failed
			// integration, not a status for WriteHeader, which panics on
			// 0 and sends 1xx as informational.
			g.cfg.Logger.ErrorContext(r.Context(), "$connect answered no valid status", "status", resp.StatusCode)
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			// API Gateway refuses the handshake with the function's status.
			w.WriteHeader(resp.StatusCode)
			return
		}
	}
	// Listed before the client has its socket, so that the management
	// API never answers 410 for a socket the client already holds.
	g.mu.Lock()
	g.conns[c.id] = c
	late := g.closing // then Shutdown did not see it: close it here
	g.mu.Unlock()
	ws, err := websocket.Accept(corkingWriter{w, c}, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the web client may come from another local port
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		c.closing.Store(true)
		close(c.ready)
		// Not a WebSocket handshake after all: what $connect recorded
		// must not outlive it.
		g.disconnect(c, r.Host, ok)
		return
	}
	ws.SetReadLimit(MaxMessageBytes)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c.ws, c.cancel, c.lastActive = ws, cancel, time.Now()
	close(c.ready)
	host := r.Host
	if late {
		// Shutdown began during $connect: close it as it closed the others.
		c.closeWith(websocket.StatusGoingAway, "Going away: server shutting down")
	}
	go g.watch(ctx, c)
	go g.writeLoop(ctx, c)
	g.readLoop(ctx, c, host)
	g.disconnect(c, host, true)
}

// watch ends the connection after the idle time or the maximum lifetime.
func (g *Gateway) watch(ctx context.Context, c *conn) {
	life := time.NewTimer(g.cfg.MaxConnectionTime)
	defer life.Stop()
	idle := time.NewTimer(g.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.activity:
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			idle.Reset(g.cfg.IdleTimeout)
		case <-idle.C:
			c.closeWith(websocket.StatusGoingAway, "Going away: idle timeout")
			return
		case <-life.C:
			c.closeWith(websocket.StatusGoingAway, "Going away: connection time limit")
			return
		}
	}
}

// Invocations made for a connection's frames are bounded: a connection
// may have MaxSendsInFlight send_message invocations under way at once
// (API Gateway runs a connection's messages concurrently too), and the
// gateway maxInvocations in all. At either bound the gateway stops reading
// the connection until one ends, so a client that sends faster than the
// chat answers is slowed by TCP, and nothing queues without limit.
const (
	MaxSendsInFlight = 16
	maxInvocations   = 256
)

func (g *Gateway) readLoop(ctx context.Context, c *conn, host string) {
	sends := make(chan struct{}, MaxSendsInFlight)
	var running sync.WaitGroup
	var read int64 // messages read
	// $disconnect runs after every invocation of the connection's frames.
	defer running.Wait()
	for {
		typ, msg, err := c.ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			switch {
			case errors.As(err, &ce):
				c.closeWith(ce.Code, ce.Reason)
			case errors.Is(err, websocket.ErrMessageTooBig):
				c.closeWith(websocket.StatusMessageTooBig, "Message too big")
			default:
				c.closeWith(websocket.StatusAbnormalClosure, "")
			}
			return
		}
		if c.closing.Load() {
			continue // closed by the management API: read on only to end the handshake
		}
		read++
		if c.cork.tooBig(read - 1) {
			// A frame over 32 KB, in this message of at most 128 KiB; the
			// messages before it were routed.
			c.closeWith(websocket.StatusMessageTooBig, "Message too big")
			continue // read on to end the handshake
		}
		if typ == websocket.MessageBinary {
			// API Gateway does not take binary frames in: it closes the
			// connection with 1003 (a client sends binary data as base64
			// in a text frame instead).
			c.closeWith(websocket.StatusUnsupportedData, "Unsupported data: binary frames are not supported")
			continue
		}
		c.touch()
		routeKey := selectRoute(msg, g.cfg.Routes.WebSocket)
		fn, ok := g.function(routeKey)
		ev := g.wsEvent(c, routeKey, "MESSAGE", nil, nil, string(msg))
		ev.RequestContext.DomainName = host
		if !ok {
			// No route and no $default: API Gateway answers Forbidden.
			c.post(gatewayError("Forbidden", c.id, ev.RequestContext.RequestID))
			continue
		}
		invoke := func() {
			if c.closing.Load() {
				return // closed while the frame waited its turn
			}
			// API Gateway does not stop an integration when its client
			// goes: the invocation runs to its end or its timeout, so a
			// message it has stored still reaches the others. Cancelled
			// with the socket, a send could store the message and push it
			// to nobody.
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.IntegrationTimeout)
			defer cancel()
			var resp events.APIGatewayProxyResponse
			err := g.invoke(ictx, fn, routeKey, ev, &resp)
			if err == nil && resp.StatusCode >= 500 {
				err = fmt.Errorf("gateway: %s answered %d", routeKey, resp.StatusCode)
			}
			if err != nil && ctx.Err() == nil {
				// A failed integration (an error, a panic, the timeout, a
				// 5xx, an answer that is not JSON): API Gateway tells the
				// client so, with ids it can quote.
				c.post(gatewayError("Internal server error", c.id, ev.RequestContext.RequestID))
			}
		}
		if routeKey != "send_message" {
			// Anything else waits for the frames before it, so that a
			// client's join is done before its next frame is taken up.
			running.Wait()
			g.invocations <- struct{}{}
			invoke()
			<-g.invocations
			continue
		}
		sends <- struct{}{}
		g.invocations <- struct{}{}
		running.Add(1)
		go func() {
			defer running.Done()
			invoke()
			<-g.invocations
			<-sends
		}()
	}
}

// gatewayError is the frame API Gateway sends a client when it cannot
// route its frame, or the route's integration failed. Only those paths
// build it.
func gatewayError(message, connectionID, requestID string) []byte {
	b, _ := json.Marshal(struct {
		Message      string `json:"message"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	}{message, connectionID, requestID})
	return b
}

// selectRoute evaluates $request.body.action: the route whose key equals
// the frame's action, else $default.
func selectRoute(msg []byte, routes map[string]string) string {
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and the selection expression names "action" exactly.
	var body map[string]json.RawMessage
	if json.Unmarshal(msg, &body) == nil {
		var a string
		if json.Unmarshal(body["action"], &a) == nil && !strings.HasPrefix(a, "$") {
			if _, ok := routes[a]; ok {
				return a
			}
		}
	}
	return "$default"
}

func (g *Gateway) function(routeKey string) (*Function, bool) {
	id, ok := g.cfg.Routes.WebSocket[routeKey]
	if !ok {
		return nil, false
	}
	return g.cfg.Routes.Functions[id], true
}

// disconnect forgets the connection and, when it was connected, runs
// $disconnect.
func (g *Gateway) disconnect(c *conn, host string, connected bool) {
	g.mu.Lock()
	delete(g.conns, c.id)
	g.mu.Unlock()
	fn, ok := g.function("$disconnect")
	if !ok || !connected {
		return
	}
	if g.cfg.DropDisconnect != nil && g.cfg.DropDisconnect(c.id) {
		g.cfg.Logger.Info("$disconnect dropped (fault injected)", "connection_id", c.id)
		return
	}
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	ev := g.wsEvent(c, "$disconnect", "DISCONNECT", nil, nil, "")
	ev.RequestContext.DomainName = host
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	// $disconnect runs even while the gateway shuts down.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp events.APIGatewayProxyResponse
	_ = g.invoke(ctx, fn, "$disconnect", ev, &resp)
}

// serveConnections is the management API: POST sends a frame, GET
// describes the connection, DELETE closes it; 410 for an unknown id.
func (g *Gateway) serveConnections(w http.ResponseWriter, r *http.Request) {
	if g.cfg.ManagementAuth {
		if ok, errType, message := signed(r); !ok {
			refuseManagement(w, http.StatusForbidden, errType, message)
			return
		}
	}
	g.manage(w, r, r.PathValue("id"))
}

// manage answers one management API request for a connection.
func (g *Gateway) manage(w http.ResponseWriter, r *http.Request, id string) {
	if g.throttle != nil && !g.throttle.allow() {
		refuseManagement(w, http.StatusTooManyRequests, "LimitExceededException", "Rate exceeded")
		return
	}
	if !g.delay(r.Context()) {
		return // the caller gave up
	}
	c, ok := g.open(r.Context(), id)
	if !ok {
		w.Header().Set("x-amzn-ErrorType", "GoneException")
		writeJSON(w, http.StatusGone, map[string]string{"message": "Gone"})
		return
	}
	switch r.Method {
	case http.MethodPost:
		data, err := readBody(r, MaxMessageBytes, true)
		if err == nil && len(data) > MaxMessageBytes {
			err = errors.New("gateway: frame over the message limit")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			requestTimeout(w)
			return
		}
		if err != nil {
			w.Header().Set("x-amzn-ErrorType", "PayloadTooLargeException")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Message too long"})
			return
		}
		if !c.post(data) {
			w.Header().Set("x-amzn-ErrorType", "GoneException")
			writeJSON(w, http.StatusGone, map[string]string{"message": "Gone"})
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		c.mu.Lock()
		last := c.lastActive
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": last.UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
		})
	case http.MethodDelete:
		// As with API Gateway, the connection ends at once: nothing more
		// is posted to it or routed from it. The close handshake with
		// the client goes on without holding the caller, who may be
		// closing many (a logout closes every socket of its session).
		c.closing.Store(true)
		c.out.close()
		go c.closeWith(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// open returns the connection once its handshake is over, unless it is
// unknown or closing.
func (g *Gateway) open(ctx context.Context, id string) (*conn, bool) {
	g.mu.Lock()
	c, ok := g.conns[id]
	g.mu.Unlock()
	if !ok {
		return nil, false
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, false
	}
	return c, !c.closing.Load()
}

// Post queues a frame for each connection straight away: the in-process
// pusher for benchmarks, skipping the management API's HTTP round trip. It
// returns the connections that are gone.
func (g *Gateway) Post(ctx context.Context, ids []string, frame []byte) (gone []string) {
	for _, id := range ids {
		c, ok := g.open(ctx, id)
		if !ok || !c.post(frame) {
			gone = append(gone, id)
		}
	}
	return gone
}

// post queues a frame for the connection; false means it is gone, or it
// just went because its reader fell too far behind.
func (c *conn) post(frame []byte) bool {
	switch c.out.put(frame) {
	case queued:
		return true
	case queueFull:
		// Gone from now on; the close handshake can take seconds, which
		// the post (a room's fan-out) must not wait out.
		c.closing.Store(true)
		c.out.close()
		go c.closeWith(websocket.StatusPolicyViolation, "the client reads too slowly")
	}
	return false
}

// CloseConnection closes one connection as DELETE /@connections/{id}
// would; $disconnect follows. It reports whether the connection existed.
func (g *Gateway) CloseConnection(id string) bool {
	c, ok := g.open(context.Background(), id)
	if ok {
		c.closeWith(websocket.StatusNormalClosure, "")
	}
	return ok
}

// ConnectionIDs lists the open connections.
func (g *Gateway) ConnectionIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.conns))
	for id := range g.conns {
		ids = append(ids, id)
	}
	return ids
}

// Shutdown refuses new sockets (503), closes every open one with "going
// away" and waits until each $disconnect has run, or ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	open := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		open = append(open, c)
	}
	g.mu.Unlock()
	for _, c := range open {
		select {
		case <-c.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.closeWith(websocket.StatusGoingAway, "Going away: server shutting down")
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
