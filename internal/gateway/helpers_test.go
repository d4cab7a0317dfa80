package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/gateway"
)

// invocation is one event a function received.
type invocation struct {
	Function string // logical id
	Event    map[string]any
	Raw      []byte
}

func (i invocation) ctx() map[string]any {
	m, _ := i.Event["requestContext"].(map[string]any)
	return m
}

func (i invocation) str(path ...string) string {
	var v any = i.Event
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// recorder keeps every invocation in order, whoever made it.
type recorder struct {
	mu    sync.Mutex
	calls []invocation
}

func (r *recorder) add(fn string, event []byte) error {
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	r.mu.Lock()
	r.calls = append(r.calls, invocation{Function: fn, Event: ev, Raw: append([]byte(nil), event...)})
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invocation(nil), r.calls...)
}

// wait returns the first invocation that satisfies match, waiting for it
// at most 10 s.
func (r *recorder) wait(t testing.TB, what string, match func(invocation) bool) invocation {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, c := range r.all() {
			if match(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invocation %s within 10s; got %d others", what, len(r.all()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count is how many invocations satisfy match now.
func (r *recorder) count(match func(invocation) bool) int {
	n := 0
	for _, c := range r.all() {
		if match(c) {
			n++
		}
	}
	return n
}

func route(key, connID string) func(invocation) bool {
	return func(i invocation) bool {
		return i.ctx()["routeKey"] == key && (connID == "" || i.ctx()["connectionId"] == connID)
	}
}

// fakeInvoker stands in for the functions: it records the events and
// answers what answer says (by default a 200 for everything).
type fakeInvoker struct {
	recorder
	answer func(fn string, ev map[string]any) ([]byte, error)
}

func (f *fakeInvoker) Invoke(_ context.Context, fn *gateway.Function, event []byte) ([]byte, error) {
	if err := f.add(fn.LogicalID, event); err != nil {
		return nil, err
	}
	if f.answer != nil {
		var ev map[string]any
		_ = json.Unmarshal(event, &ev)
		return f.answer(fn.LogicalID, ev)
	}
	return []byte(`{"statusCode":200}`), nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve runs a gateway on the project's routes on a free 127.0.0.1 port;
// the test stops it.
func serve(t testing.TB, inv gateway.Invoker, tweak func(*gateway.Config)) (*gateway.Gateway, *httptest.Server) {
	t.Helper()
	cfg := gateway.Config{Routes: realRoutes(t), Invoker: inv, Logger: discard, Stage: "local"}
	if tweak != nil {
		tweak(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		srv.Close()
	})
	return gw, srv
}

// client is one WebSocket connection with what it received.
type client struct {
	t      testing.TB
	c      *websocket.Conn
	id     string // the connection id the gateway gave it
	frames chan frame
	closed chan websocket.StatusCode // the close status, once
}

type frame struct {
	typ  websocket.MessageType
	data []byte
}

var dials struct {
	mu sync.Mutex
	n  int
}

// dial opens a socket and learns its connection id from the $connect
// event (the invoker must record, see fakeInvoker).
func dial(t testing.TB, srv *httptest.Server, rec *recorder, query string) *client {
	t.Helper()
	dials.mu.Lock()
	dials.n++
	tag := fmt.Sprint(dials.n)
	dials.mu.Unlock()
	q := "?tag=" + tag
	if query != "" {
		q += "&" + query
	}
	c, resp, err := dialRaw(srv, q)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	cl := &client{t: t, c: c, frames: make(chan frame, 100), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			typ, data, err := c.Read(context.Background())
			if err != nil {
				cl.closed <- websocket.CloseStatus(err)
				close(cl.frames)
				return
			}
			cl.frames <- frame{typ, data}
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	connect := rec.wait(t, "$connect tag="+tag, func(i invocation) bool {
		q, _ := i.Event["queryStringParameters"].(map[string]any)
		return i.ctx()["routeKey"] == "$connect" && q["tag"] == tag
	})
	cl.id = connect.ctx()["connectionId"].(string)
	return cl
}

func dialRaw(srv *httptest.Server, query string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws"+query, &websocket.DialOptions{
		HTTPHeader: http.Header{"User-Agent": {"gateway-test/1.0"}},
	})
	if c != nil {
		c.SetReadLimit(1 << 20)
	}
	return c, resp, err
}

func (c *client) send(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendFrames sends one text message in frames of at most size bytes.
func (c *client) sendFrames(data []byte, size int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := c.c.Writer(ctx, websocket.MessageText)
	if err != nil {
		c.t.Fatalf("writer: %v", err)
	}
	// Each Write is a frame of its own (compression is off).
	for len(data) > 0 {
		n := min(size, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			c.t.Fatalf("write: %v", err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) next() frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("socket closed while waiting for a frame")
		}
		return f
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10s")
	}
	return frame{}
}

// waitClosed waits for the socket to be closed and returns the status.
func (c *client) waitClosed() websocket.StatusCode {
	c.t.Helper()
	select {
	case code := <-c.closed:
		return code
	case <-time.After(10 * time.Second):
		c.t.Fatal("socket not closed within 10s")
	}
	return 0
}

// isOpen reports whether the socket is still open a moment later.
func (c *client) isOpen() bool {
	select {
	case code := <-c.closed:
		c.closed <- code
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}
