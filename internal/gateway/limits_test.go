package gateway_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/gateway"
)

// TestConnectRefused: a $connect answering non-2xx refuses the handshake
// with that status; no connection exists and no $disconnect runs.
func TestConnectRefused(t *testing.T) {
	inv := &fakeInvoker{answer: func(fn string, ev map[string]any) ([]byte, error) {
		q, _ := ev["queryStringParameters"].(map[string]any)
		if fn != "ConnectFunction" || q["status"] == nil {
			return []byte(`{"statusCode":200}`), nil
		}
		if q["status"] == "error" {
			return nil, errors.New("the function crashed")
		}
		return fmt.Appendf(nil, `{"statusCode":%s,"body":"no"}`, q["status"]), nil
	}}
	gw, srv := serve(t, inv, nil)
	for _, c := range []struct {
		query string
		want  int
	}{
		{"status=401", 401},
		{"status=403", 403},
		{"status=429", 429},
		{"status=500", 500},
		{"status=302", 302},
		{"status=error", 500},
	} {
		conn, resp, err := dialRaw(srv, "?"+c.query)
		if err == nil {
			conn.CloseNow()
			t.Errorf("%s: handshake accepted", c.query)
			continue
		}
		if resp == nil || resp.StatusCode != c.want {
			t.Errorf("%s: %v (%v), want %d", c.query, err, resp, c.want)
		}
	}
	for _, status := range []int{200, 201, 204} {
		c := dial(t, srv, &inv.recorder, fmt.Sprint("status=", status))
		if !c.isOpen() {
			t.Errorf("$connect %d: socket closed", status)
		}
		c.c.Close(websocket.StatusNormalClosure, "")
		inv.wait(t, "$disconnect", route("$disconnect", c.id))
	}
	time.Sleep(50 * time.Millisecond)
	if n := inv.count(route("$disconnect", "")); n != 3 {
		t.Errorf("%d $disconnect invocations, want 3 (the refused never connected)", n)
	}
	if ids := gw.ConnectionIDs(); len(ids) != 0 {
		t.Errorf("connections left: %v", ids)
	}
}

// TestMessageSizeLimit: up to 128 KiB a message is routed; one byte more
// closes the socket with 1009, and $disconnect runs.
func TestMessageSizeLimit(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	c := dial(t, srv, &inv.recorder, "")

	exact := `{"action":"send_message","text":"` + strings.Repeat("a", gateway.MaxMessageBytes-len(`{"action":"send_message","text":""}`)) + `"}`
	if len(exact) != 128<<10 {
		t.Fatalf("len %d", len(exact))
	}
	// In frames of 32 KB, the most API Gateway takes in one.
	c.sendFrames([]byte(exact), gateway.MaxFrameBytes)
	got := inv.wait(t, "send_message", route("send_message", c.id))
	if body := got.str("body"); body != exact {
		t.Fatalf("body of %d bytes, want %d", len(body), len(exact))
	}
	if !c.isOpen() {
		t.Fatal("a 128 KiB message closed the socket")
	}
	// Still usable: the management API reaches it.
	if status, _, _ := call(t, "POST", srv.URL+"/@connections/"+escape(c.id), []byte("still here")); status != http.StatusOK {
		t.Fatalf("POST after 128 KiB: %d", status)
	}
	c.next()

	// Split over several frames, the message counts whole.
	over := bytes.Repeat([]byte("b"), gateway.MaxMessageBytes+1)
	c.sendFrames(over, gateway.MaxFrameBytes)
	if code := c.waitClosed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
	d := inv.wait(t, "$disconnect", route("$disconnect", c.id))
	if code, _ := d.ctx()["disconnectStatusCode"].(float64); code != 1009 {
		t.Errorf("disconnectStatusCode = %v, want 1009", d.ctx()["disconnectStatusCode"])
	}
	if n := inv.count(func(i invocation) bool { return len(i.str("body")) > gateway.MaxMessageBytes }); n != 0 {
		t.Errorf("an oversized message was routed %d times", n)
	}
}

func escape(id string) string { return strings.ReplaceAll(id, "/", "%2F") }

// TestMaxConnectionTime: a connection past its lifetime is closed with
// 1001 however busy it is, and $disconnect runs.
func TestMaxConnectionTime(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, func(c *gateway.Config) {
		c.MaxConnectionTime = 400 * time.Millisecond
		c.IdleTimeout = time.Minute
	})
	start := time.Now()
	c := dial(t, srv, &inv.recorder, "")
	// Activity does not extend the lifetime.
	stop := time.After(10 * time.Second)
	var code websocket.StatusCode
loop:
	for {
		select {
		case code = <-c.closed:
			break loop
		case <-stop:
			t.Fatal("not closed within 10s")
		case <-time.After(50 * time.Millisecond):
			_ = c.c.Write(t.Context(), websocket.MessageText, []byte(`{"action":"typing"}`))
		}
	}
	if code != websocket.StatusGoingAway {
		t.Errorf("closed with %d, want 1001", code)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("closed after %v, before its lifetime", d)
	}
	d := inv.wait(t, "$disconnect", route("$disconnect", c.id))
	if code, _ := d.ctx()["disconnectStatusCode"].(float64); code != 1001 {
		t.Errorf("disconnectStatusCode = %v, want 1001", d.ctx()["disconnectStatusCode"])
	}
	status, h, _ := call(t, "GET", srv.URL+"/@connections/"+escape(c.id), nil)
	assertGone(t, "GET after the time limit", status, h)
}

// TestIdleTimeoutGateway: a quiet connection is closed with 1001; one that
// keeps talking is not.
func TestIdleTimeoutGateway(t *testing.T) {
	inv := &fakeInvoker{}
	const idleTimeout = 500 * time.Millisecond
	_, srv := serve(t, inv, func(c *gateway.Config) { c.IdleTimeout = idleTimeout })
	// The busy one talks every 50 ms from the moment it is connected.
	busy := dial(t, srv, &inv.recorder, "")
	stop, stopped := make(chan struct{}), make(chan struct{})
	var maxGap time.Duration
	go func() {
		defer close(stopped)
		last := time.Now()
		for {
			if gap := time.Since(last); gap > maxGap {
				maxGap = gap
			}
			last = time.Now()
			_ = busy.c.Write(t.Context(), websocket.MessageText, []byte(`{"action":"typing"}`))
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	quiet := dial(t, srv, &inv.recorder, "")
	code := quiet.waitClosed()
	idle := time.Since(start)
	inv.wait(t, "$disconnect", route("$disconnect", quiet.id))
	busyGone := inv.count(route("$disconnect", busy.id))
	close(stop)
	<-stopped
	if code != websocket.StatusGoingAway {
		t.Errorf("idle socket closed with %d, want 1001", code)
	}
	if idle < idleTimeout {
		t.Errorf("idle socket closed after %v, before the idle timeout", idle)
	}
	switch {
	case busyGone == 0:
	case maxGap > idleTimeout/2:
		// The test goroutine itself stalled (a loaded machine): the busy
		// socket was not busy, so its close proves nothing.
		t.Logf("busy socket disconnected after a %v stall of its writer", maxGap)
	default:
		d := inv.wait(t, "busy", route("$disconnect", busy.id))
		t.Errorf("the busy socket was disconnected (%v %v; longest gap between its messages %v)",
			d.ctx()["disconnectStatusCode"], d.ctx()["disconnectReason"], maxGap)
	}
}

// TestRouteSelection: $request.body.action picks the route, else $default.
func TestRouteSelection(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	c := dial(t, srv, &inv.recorder, "")
	cases := []struct{ frame, key, fn string }{
		{`{"action":"join_room","room_id":"r"}`, "join_room", "JoinRoomFunction"},
		{`{"action":"send_message","room_id":"r","text":"x"}`, "send_message", "SendMessageFunction"},
		{`{"room_id":"r","action":"leave_room"}`, "leave_room", "LeaveRoomFunction"},
		{` {"action" : "join_room"} `, "join_room", "JoinRoomFunction"},
		{`{"action":"typing","room_id":"r"}`, "$default", "DefaultFunction"},
		{`{"action":"$connect"}`, "$default", "DefaultFunction"},
		{`{"action":"$disconnect"}`, "$default", "DefaultFunction"},
		{`{"action":"$default"}`, "$default", "DefaultFunction"},
		{`not json`, "$default", "DefaultFunction"},
		{`{"action":"join_room"`, "$default", "DefaultFunction"},
		{`{"action": 5}`, "$default", "DefaultFunction"},
		{`{"action":["join_room"]}`, "$default", "DefaultFunction"},
		{`{"action":null}`, "$default", "DefaultFunction"},
		{`["join_room"]`, "$default", "DefaultFunction"},
		{`"join_room"`, "$default", "DefaultFunction"},
		{`{"room_id":"r"}`, "$default", "DefaultFunction"},
		{`{"action":"JOIN_ROOM"}`, "$default", "DefaultFunction"},
		// The selection expression names the key exactly.
		{`{"Action":"join_room"}`, "$default", "DefaultFunction"},
		{`{"ACTION":"send_message"}`, "$default", "DefaultFunction"},
		{``, "$default", "DefaultFunction"},
	}
	for i, k := range cases {
		frame := fmt.Sprintf("%s%s", k.frame, strings.Repeat(" ", i)) // each frame unique
		c.send(websocket.MessageText, []byte(frame))
		got := inv.wait(t, "for "+k.frame, func(inv invocation) bool {
			return inv.ctx()["connectionId"] == c.id && inv.ctx()["eventType"] == "MESSAGE" && inv.str("body") == frame
		})
		if got.ctx()["routeKey"] != k.key || got.Function != k.fn {
			t.Errorf("%s -> %v (%s), want %s (%s)", k.frame, got.ctx()["routeKey"], got.Function, k.key, k.fn)
		}
	}
}

func TestConfigAndWeb(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, func(c *gateway.Config) { c.WebDir = "../../web" })
	for _, host := range []string{"chat.example:8080", "localhost:3000", "[::1]:3000"} {
		req, _ := http.NewRequest("GET", srv.URL+"/config.json", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]string
		err = json.NewDecoder(resp.Body).Decode(&cfg)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("config.json for %s: %d %v %v", host, resp.StatusCode, resp.Header, err)
		}
		want := map[string]string{"httpApiUrl": "http://" + host + "/api", "webSocketUrl": "ws://" + host + "/ws"}
		if fmt.Sprint(cfg) != fmt.Sprint(want) {
			t.Errorf("config.json for %s = %v, want %v", host, cfg, want)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
		}
	}

	index, err := os.ReadFile("../../web/index.html")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("web/index.html does not exist")
	}
	if err != nil {
		t.Fatal(err)
	}
	status, h, body := call(t, "GET", srv.URL+"/", nil)
	if status != http.StatusOK || !bytes.Equal(body, index) || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("GET / = %d %q (%d bytes), want web/index.html (%d bytes)", status, h.Get("Content-Type"), len(body), len(index))
	}
}
