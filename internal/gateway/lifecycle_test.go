package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestShutdownClosesAndRefuses: Shutdown closes open sockets with 1001,
// waits for their $disconnect, and refuses sockets that come later.
func TestShutdownClosesAndRefuses(t *testing.T) {
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, nil)
	a, b := dial(t, srv, &inv.recorder, ""), dial(t, srv, &inv.recorder, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, b} {
		if code := c.waitClosed(); code != websocket.StatusGoingAway {
			t.Errorf("closed with %d, want 1001", code)
		}
		// Shutdown returned: the $disconnect already ran.
		if n := inv.count(route("$disconnect", c.id)); n != 1 {
			t.Errorf("%d $disconnect for %s when Shutdown returned", n, c.id)
		}
	}
	connects := inv.count(route("$connect", ""))
	conn, resp, err := dialRaw(srv, "")
	if err == nil {
		conn.CloseNow()
		t.Fatal("a socket was accepted after Shutdown")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown: %v (%v), want 503", err, resp)
	}
	if inv.count(route("$connect", "")) != connects {
		t.Error("$connect ran after Shutdown")
	}
	if ids := gw.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("connections after Shutdown: %v", ids)
	}
}

// TestShutdownDuringConnect: a handshake whose $connect is running when
// Shutdown starts is waited for, then closed like the others.
func TestShutdownDuringConnect(t *testing.T) {
	release := make(chan struct{})
	inv := &fakeInvoker{}
	inv.answer = func(fn string, ev map[string]any) ([]byte, error) {
		if fn == "ConnectFunction" {
			<-release
		}
		return []byte(`{"statusCode":200}`), nil
	}
	gw, srv := serve(t, inv, nil)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before serve's cleanup, even when the test fails
	type dialed struct {
		c   *websocket.Conn
		err error
	}
	dialDone := make(chan dialed, 1)
	go func() {
		c, _, err := dialRaw(srv, "?slow=1")
		dialDone <- dialed{c, err}
	}()
	connect := inv.wait(t, "$connect", route("$connect", ""))
	id := connect.ctx()["connectionId"].(string)

	shutDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutDone <- gw.Shutdown(ctx)
	}()
	select {
	case err := <-shutDone:
		t.Fatalf("Shutdown returned (%v) while a $connect was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	unblock()

	d := <-dialDone
	if d.err == nil {
		defer d.c.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, _, err := d.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("late socket: read %v, want close 1001", err)
		}
	}
	select {
	case err := <-shutDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	// Whatever the client saw, the connection $connect accepted was
	// disconnected before Shutdown returned.
	if n := inv.count(route("$disconnect", id)); n != 1 {
		t.Errorf("%d $disconnect for the late connection, want 1", n)
	}
}

// TestConnectWithoutStatus: a $connect that answers no status refuses the
// handshake cleanly instead of breaking the server's handler.
func TestConnectWithoutStatus(t *testing.T) {
	for _, answer := range []string{`{}`, `{"statusCode":101}`, `{"statusCode":1000}`} {
		inv := &fakeInvoker{answer: func(fn string, ev map[string]any) ([]byte, error) {
			if fn == "ConnectFunction" {
				return []byte(answer), nil
			}
			return []byte(`{"statusCode":200}`), nil
		}}
		_, srv := serve(t, inv, nil)
		conn, resp, err := dialRaw(srv, "")
		if err == nil {
			conn.CloseNow()
			t.Errorf("$connect answering %s: handshake accepted", answer)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("$connect answering %s: %v (%v), want 500", answer, err, resp)
		}
	}
}

// TestPlainRequestOnWS: a request to /ws that is no WebSocket handshake
// gets no socket, and whatever $connect recorded is undone by $disconnect.
func TestPlainRequestOnWS(t *testing.T) {
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, nil)
	status, _, _ := call(t, "GET", srv.URL+"/ws?token=abc", nil)
	if status == http.StatusSwitchingProtocols || status < 400 {
		t.Errorf("plain GET /ws: %d", status)
	}
	for _, c := range inv.all() {
		if c.ctx()["routeKey"] == "$connect" {
			id := c.ctx()["connectionId"].(string)
			inv.wait(t, "$disconnect after a failed upgrade", route("$disconnect", id))
		}
	}
	if ids := gw.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("connections: %v", ids)
	}
}

// TestHTTPAnswerStatus: the function's status goes to the client; none
// means 200 (payload 2.0); one that is no HTTP status is a malformed
// answer, API Gateway's 500, not a broken connection.
func TestHTTPAnswerStatus(t *testing.T) {
	answers := map[string]string{
		"/ok":      `{"statusCode":204}`,
		"/teapot":  `{"statusCode":418,"body":"short and stout"}`,
		"/none":    `{"body":"implied 200"}`,
		"/zero":    `{"statusCode":0,"body":"implied 200"}`,
		"/info":    `{"statusCode":102,"headers":{"X-Leak":"yes"}}`,
		"/huge":    `{"statusCode":1000,"headers":{"X-Leak":"yes"}}`,
		"/notjson": `this is not JSON`,
	}
	inv := &fakeInvoker{answer: func(fn string, ev map[string]any) ([]byte, error) {
		return []byte(answers[ev["rawPath"].(string)]), nil
	}}
	_, srv := serve(t, inv, nil)
	for path, want := range map[string]struct {
		status int
		body   string
	}{
		"/ok":      {204, ""},
		"/teapot":  {418, "short and stout"},
		"/none":    {200, "implied 200"},
		"/zero":    {200, "implied 200"},
		"/info":    {500, `{"message":"Internal Server Error"}`},
		"/huge":    {500, `{"message":"Internal Server Error"}`},
		"/notjson": {500, `{"message":"Internal Server Error"}`},
	} {
		status, h, body := call(t, "GET", srv.URL+"/api"+path, nil)
		if status != want.status || strings.TrimSpace(string(body)) != want.body {
			t.Errorf("GET %s: %d %q, want %d %q", path, status, body, want.status, want.body)
		}
		if status == 500 && h.Get("X-Leak") != "" {
			t.Errorf("GET %s: the malformed answer's headers leaked", path)
		}
	}
}
