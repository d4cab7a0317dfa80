package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/gateway"
	"github.com/chatroom/chat/internal/push"
)

// TestFrameSizeLimit: API Gateway takes frames of up to 32 KB, and
// messages of up to 128 KiB across frames; a larger frame closes the
// connection with 1009, its message unrouted.
func TestFrameSizeLimit(t *testing.T) {
	message := func(n int) []byte {
		head := `{"action":"send_message","text":"`
		return []byte(head + strings.Repeat("a", n-len(head)-2) + `"}`)
	}
	cases := map[string]struct {
		size, frame int
		wantClosed  bool
	}{
		"one frame of 32 KB":             {gateway.MaxFrameBytes, gateway.MaxFrameBytes, false},
		"one frame of 32 KB and a byte":  {gateway.MaxFrameBytes + 1, gateway.MaxFrameBytes + 1, true},
		"one frame of 64 KB":             {64 << 10, 64 << 10, true},
		"100 KB in frames of 25 KB":      {100 << 10, 25 << 10, false},
		"100 KB in frames of 20 and 40":  {100 << 10, 40 << 10, true},
		"a small message, a small frame": {100, 100, false},
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inv := &fakeInvoker{}
			_, srv := serve(t, inv, nil)
			c := dial(t, srv, &inv.recorder, "")
			msg := message(k.size)
			var first []byte
			if name == "100 KB in frames of 20 and 40" {
				// A whole message first, then the big frames: the first is
				// routed, though it was read with the next frame's header.
				first, msg = msg[:20<<10], msg[20<<10:]
				c.sendFrames(first, 20<<10)
			}
			c.sendFrames(msg, k.frame)
			if !k.wantClosed {
				got := inv.wait(t, "send_message", route("send_message", c.id))
				if !bytes.Equal([]byte(got.str("body")), msg) {
					t.Fatalf("routed %d bytes, want %d", len(got.str("body")), len(msg))
				}
				if !c.isOpen() {
					t.Fatal("the socket was closed")
				}
				return
			}
			if code := c.waitClosed(); code != websocket.StatusMessageTooBig {
				t.Fatalf("closed with %d, want 1009", code)
			}
			if first != nil {
				inv.wait(t, "the message before", func(i invocation) bool { return i.str("body") == string(first) })
			}
			d := inv.wait(t, "$disconnect", route("$disconnect", c.id))
			if code, _ := d.ctx()["disconnectStatusCode"].(float64); code != 1009 {
				t.Errorf("disconnectStatusCode = %v, want 1009", d.ctx()["disconnectStatusCode"])
			}
			if n := inv.count(func(i invocation) bool { return len(i.str("body")) >= k.size-(20<<10) }); n != 0 {
				t.Errorf("the message with the oversized frame was routed %d times", n)
			}
		})
	}
}

// TestBinaryFrameClosed: API Gateway takes no binary frames in; it closes
// the connection with 1003 and routes nothing.
func TestBinaryFrameClosed(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	c := dial(t, srv, &inv.recorder, "")
	c.send(websocket.MessageBinary, []byte(`{"action":"join_room","room_id":"r"}`))
	if code := c.waitClosed(); code != websocket.StatusUnsupportedData {
		t.Fatalf("closed with %d, want 1003", code)
	}
	d := inv.wait(t, "$disconnect", route("$disconnect", c.id))
	if code, _ := d.ctx()["disconnectStatusCode"].(float64); code != 1003 {
		t.Errorf("disconnectStatusCode = %v, want 1003", d.ctx()["disconnectStatusCode"])
	}
	if n := inv.count(func(i invocation) bool { return i.ctx()["eventType"] == "MESSAGE" }); n != 0 {
		t.Errorf("a binary frame was routed %d times", n)
	}
}

// gatewayFrame is what API Gateway sends a client about its frame.
type gatewayFrame struct {
	Message      string `json:"message"`
	ConnectionID string `json:"connectionId"`
	RequestID    string `json:"requestId"`
}

func (c *client) gatewayFrame() gatewayFrame {
	c.t.Helper()
	f := c.next()
	var g gatewayFrame
	if err := json.Unmarshal(f.data, &g); err != nil || f.typ != websocket.MessageText {
		c.t.Fatalf("frame %v %q, want API Gateway's JSON: %v", f.typ, f.data, err)
	}
	return g
}

// TestIntegrationFailure: when a frame's function fails, API Gateway tells
// the client "Internal server error", with the connection's and the
// request's ids; the connection stays open.
func TestIntegrationFailure(t *testing.T) {
	cases := map[string]func(ctx context.Context) ([]byte, error){
		"an error":           func(context.Context) ([]byte, error) { return nil, errors.New("boom") },
		"a 500":              func(context.Context) ([]byte, error) { return []byte(`{"statusCode":500}`), nil },
		"a 502":              func(context.Context) ([]byte, error) { return []byte(`{"statusCode":502}`), nil },
		"an answer not JSON": func(context.Context) ([]byte, error) { return []byte(`<html>`), nil },
		"the timeout": func(ctx context.Context) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inv := &ctxInvoker{answer: answer}
			_, srv := serve(t, inv, func(c *gateway.Config) { c.IntegrationTimeout = 100 * time.Millisecond })
			c := dial(t, srv, &inv.recorder, "")
			c.send(websocket.MessageText, []byte(`{"action":"send_message","room_id":"r","text":"hi"}`))
			got := c.gatewayFrame()
			ev := inv.wait(t, "send_message", route("send_message", c.id))
			want := gatewayFrame{"Internal server error", c.id, ev.ctx()["requestId"].(string)}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			if !c.isOpen() {
				t.Fatal("the socket was closed")
			}
		})
	}
	t.Run("a 4xx is no failure", func(t *testing.T) {
		inv := &ctxInvoker{answer: func(context.Context) ([]byte, error) { return []byte(`{"statusCode":400}`), nil }}
		_, srv := serve(t, inv, nil)
		c := dial(t, srv, &inv.recorder, "")
		c.send(websocket.MessageText, []byte(`{"action":"send_message"}`))
		inv.wait(t, "send_message", route("send_message", c.id))
		// The management API's frame comes after anything the frame made.
		if status, _, _ := call(t, "POST", srv.URL+"/@connections/"+escape(c.id), []byte("marker")); status != http.StatusOK {
			t.Fatalf("POST: %d", status)
		}
		if f := c.next(); string(f.data) != "marker" {
			t.Fatalf("got %q before the marker", f.data)
		}
	})
}

// ctxInvoker answers MESSAGE events with answer, everything else 200.
type ctxInvoker struct {
	recorder
	answer func(ctx context.Context) ([]byte, error)
}

func (f *ctxInvoker) Invoke(ctx context.Context, fn *gateway.Function, event []byte) ([]byte, error) {
	if err := f.add(fn.LogicalID, event); err != nil {
		return nil, err
	}
	if bytes.Contains(event, []byte(`"eventType":"MESSAGE"`)) {
		return f.answer(ctx)
	}
	return []byte(`{"statusCode":200}`), nil
}

// TestNoRouteForbidden: with no $default, a frame no route takes is
// answered "Forbidden" and invokes nothing.
func TestNoRouteForbidden(t *testing.T) {
	inv := &fakeInvoker{}
	routes := realRoutes(t)
	routes.WebSocket = maps.Clone(routes.WebSocket)
	delete(routes.WebSocket, "$default")
	_, srv := serve(t, inv, func(c *gateway.Config) { c.Routes = routes })
	c := dial(t, srv, &inv.recorder, "")
	for _, f := range []string{`{"action":"nowhere"}`, `not json`, `{"action":"$connect"}`} {
		c.send(websocket.MessageText, []byte(f))
		got := c.gatewayFrame()
		if got.Message != "Forbidden" || got.ConnectionID != c.id || len(got.RequestID) == 0 {
			t.Errorf("%s: got %+v, want Forbidden for %s", f, got, c.id)
		}
	}
	if n := inv.count(func(i invocation) bool { return i.ctx()["eventType"] == "MESSAGE" }); n != 0 {
		t.Errorf("%d frames were routed", n)
	}
	// A route that exists is still taken.
	c.send(websocket.MessageText, []byte(`{"action":"send_message"}`))
	inv.wait(t, "send_message", route("send_message", c.id))
}

// TestManagementAuth: with ManagementAuth on, the management API's HTTP
// route refuses a call that is not SigV4-signed, before it looks at the
// connection; the SDK's signed calls and the in-process client go through.
func TestManagementAuth(t *testing.T) {
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, func(c *gateway.Config) { c.ManagementAuth = true })
	c := dial(t, srv, &inv.recorder, "")
	at := srv.URL + "/@connections/" + url.PathEscape(c.id)

	const sig = "AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"
	cases := map[string]struct {
		auth, query string
		status      int
		errType     string
	}{
		"unsigned":                {"", "", http.StatusForbidden, "MissingAuthenticationTokenException"},
		"a bearer token":          {"Bearer T-one", "", http.StatusForbidden, "IncompleteSignatureException"},
		"SigV4 with no signature": {"AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/execute-api/aws4_request, SignedHeaders=host", "", http.StatusForbidden, "IncompleteSignatureException"},
		"SigV4":                   {sig, "", http.StatusOK, ""},
		"presigned":               {"", "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=abcd", http.StatusOK, ""},
	}
	for name, k := range cases {
		t.Run(name, func(t *testing.T) {
			for _, u := range []string{at, srv.URL + "/@connections/Z29uZS1jb25uZWN0aW9u"} {
				req, _ := http.NewRequest("POST", u+k.query, strings.NewReader("hello"))
				if k.auth != "" {
					req.Header.Set("Authorization", k.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]string
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if k.status == http.StatusOK {
					if u != at {
						assertGone(t, name, resp.StatusCode, resp.Header)
						continue
					}
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%d %v, want 200", resp.StatusCode, body)
					}
					c.next()
					continue
				}
				if resp.StatusCode != k.status || resp.Header.Get("x-amzn-ErrorType") != k.errType || body["message"] == "" {
					t.Errorf("%s: %d %q %v, want %d %s", u, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), body, k.status, k.errType)
				}
			}
		})
	}

	// The SDK: signed it goes through, anonymous it is refused; the
	// in-process client is not a network caller and is not checked.
	ctx := t.Context()
	for name, k := range map[string]struct {
		creds  aws.CredentialsProvider
		optFns []func(*apigatewaymanagementapi.Options)
		ok     bool
	}{
		"signed over HTTP":      {credentials.NewStaticCredentialsProvider("local", "local", ""), nil, true},
		"anonymous over HTTP":   {aws.AnonymousCredentials{}, nil, false},
		"anonymous, in process": {aws.AnonymousCredentials{}, []func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() }}, true},
	} {
		client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: k.creds}, srv.URL, k.optFns...)
		_, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(c.id), Data: []byte(name)})
		if (err == nil) != k.ok {
			t.Errorf("%s: %v, want ok %v", name, err, k.ok)
		}
		if k.ok {
			if f := c.next(); string(f.data) != name {
				t.Errorf("%s: got %q", name, f.data)
			}
		}
	}
}

// TestManagementThrottle: past the account-wide rate, the management API
// answers 429 LimitExceededException, over HTTP and in process alike.
func TestManagementThrottle(t *testing.T) {
	inv := &fakeInvoker{}
	// A rate so low that the test's posts outrun it whatever the machine.
	gw, srv := serve(t, inv, func(c *gateway.Config) { c.ManagementRate, c.ManagementBurst = 0.01, 3 })
	c := dial(t, srv, &inv.recorder, "")
	at := srv.URL + "/@connections/" + url.PathEscape(c.id)
	for i := range 3 {
		if status, _, body := call(t, "POST", at, []byte("within the burst")); status != http.StatusOK {
			t.Fatalf("post %d: %d %s", i, status, body)
		}
		c.next()
	}
	status, h, body := call(t, "POST", at, []byte("past it"))
	var msg map[string]string
	_ = json.Unmarshal(body, &msg)
	if status != http.StatusTooManyRequests || h.Get("x-amzn-ErrorType") != "LimitExceededException" || msg["message"] != "Rate exceeded" {
		t.Fatalf("past the burst: %d %q %s, want 429 LimitExceededException", status, h.Get("x-amzn-ErrorType"), body)
	}
	// The SDK sees it as its throttling error; the push adapter as a
	// failure, not a gone connection.
	client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, srv.URL,
		func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() })
	_, err := client.PostToConnection(t.Context(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(c.id), Data: []byte("x")})
	var limit interface{ ErrorCode() string }
	if !errors.As(err, &limit) || limit.ErrorCode() != "LimitExceededException" {
		t.Fatalf("in process: %v, want LimitExceededException", err)
	}
	if _, err := gateway.New(gateway.Config{Routes: realRoutes(t), Invoker: inv, Logger: discard, ManagementRate: -1}); err == nil {
		t.Error("a negative rate was accepted")
	}
}

// TestManagementLatency: with a latency set, every management API call
// is held at least that long, over HTTP and in process alike; a caller
// that gives up is not served.
func TestManagementLatency(t *testing.T) {
	const latency = 80 * time.Millisecond
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, func(c *gateway.Config) { c.ManagementLatency, c.ManagementJitter = latency, 20*time.Millisecond })
	c := dial(t, srv, &inv.recorder, "")
	at := srv.URL + "/@connections/" + url.PathEscape(c.id)
	start := time.Now()
	if status, _, body := call(t, "POST", at, []byte("late")); status != http.StatusOK {
		t.Fatalf("post: %d %s", status, body)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("a post took %v, less than the %v latency", took, latency)
	}
	if f := c.next(); string(f.data) != "late" {
		t.Errorf("got %q", f.data)
	}
	client := push.NewClient(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}, srv.URL,
		func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() })
	ctx, cancel := context.WithTimeout(t.Context(), latency/4)
	defer cancel()
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(c.id), Data: []byte("abandoned")}); err == nil {
		t.Error("a post whose caller gave up before the latency passed succeeded")
	}
	start = time.Now()
	if _, err := client.PostToConnection(t.Context(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(c.id), Data: []byte("in process")}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("an in-process post took %v, less than the %v latency", took, latency)
	}
	if f := c.next(); string(f.data) != "in process" {
		t.Errorf("got %q, want the in-process post (the abandoned one must not arrive)", f.data)
	}
	if _, err := gateway.New(gateway.Config{Routes: realRoutes(t), Invoker: inv, Logger: discard, ManagementLatency: -time.Second}); err == nil {
		t.Error("a negative latency was accepted")
	}
}
