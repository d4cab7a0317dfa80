package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/push"
)

// call makes one plain HTTP request and returns the status, headers and body.
func call(t *testing.T, method, u string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

func assertGone(t *testing.T, what string, status int, h http.Header) {
	t.Helper()
	if status != http.StatusGone || h.Get("x-amzn-ErrorType") != "GoneException" {
		t.Errorf("%s: %d with x-amzn-ErrorType %q, want 410 GoneException", what, status, h.Get("x-amzn-ErrorType"))
	}
}

// payloads are frames the handlers might push; they must arrive byte for
// byte, whatever they hold.
var payloads = [][]byte{
	[]byte(`{"type":"receive_message","text":"h\u00e9llo ☃ \n\"quoted\"","seq":7}`),
	[]byte("  not JSON at all, trailing spaces  \n"),
	bytes.Repeat([]byte("x"), 64<<10),
}

func TestManagementAPIRawHTTP(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	for _, prefix := range []string{"", "/local"} {
		t.Run("path="+prefix+"/@connections", func(t *testing.T) {
			before := time.Now()
			c := dial(t, srv, &inv.recorder, "")
			at := srv.URL + prefix + "/@connections/" + url.PathEscape(c.id)

			// POST: the exact bytes, as a text frame.
			for _, p := range payloads {
				if status, _, body := call(t, "POST", at, p); status != http.StatusOK {
					t.Fatalf("POST: %d %s", status, body)
				}
				if f := c.next(); f.typ != websocket.MessageText || !bytes.Equal(f.data, p) {
					t.Fatalf("frame %v %q, want text %q", f.typ, f.data, p)
				}
			}

			// GET describes the connection.
			status, _, body := call(t, "GET", at, nil)
			if status != http.StatusOK {
				t.Fatalf("GET: %d %s", status, body)
			}
			var info struct {
				ConnectedAt  time.Time `json:"connectedAt"`
				LastActiveAt time.Time `json:"lastActiveAt"`
				Identity     struct {
					SourceIP  string `json:"sourceIp"`
					UserAgent string `json:"userAgent"`
				} `json:"identity"`
			}
			if err := json.Unmarshal(body, &info); err != nil {
				t.Fatalf("GET answered %s: %v", body, err)
			}
			if info.ConnectedAt.Before(before.Add(-time.Second)) || info.ConnectedAt.After(time.Now()) {
				t.Errorf("connectedAt %v, want about %v", info.ConnectedAt, before)
			}
			if info.LastActiveAt.Before(info.ConnectedAt) {
				t.Errorf("lastActiveAt %v before connectedAt %v", info.LastActiveAt, info.ConnectedAt)
			}
			if info.Identity.SourceIP != "127.0.0.1" || info.Identity.UserAgent != "gateway-test/1.0" {
				t.Errorf("identity = %+v", info.Identity)
			}
			// A message from the client makes it active again.
			time.Sleep(20 * time.Millisecond)
			c.send(websocket.MessageText, []byte(`{"action":"typing"}`))
			inv.wait(t, "$default", route("$default", c.id))
			_, _, body = call(t, "GET", at, nil)
			var again struct {
				LastActiveAt time.Time `json:"lastActiveAt"`
			}
			_ = json.Unmarshal(body, &again)
			if !again.LastActiveAt.After(info.LastActiveAt) {
				t.Errorf("lastActiveAt %v after a message, was %v", again.LastActiveAt, info.LastActiveAt)
			}

			// DELETE closes the socket; then $disconnect runs.
			if status, _, body := call(t, "DELETE", at, nil); status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", status, body)
			}
			if code := c.waitClosed(); code != websocket.StatusNormalClosure {
				t.Errorf("closed with %d, want 1000", code)
			}
			d := inv.wait(t, "$disconnect", route("$disconnect", c.id))
			if d.Function != "DisconnectFunction" || d.ctx()["eventType"] != "DISCONNECT" {
				t.Errorf("$disconnect went to %s with %v", d.Function, d.ctx())
			}
			// From then on the connection is gone.
			for _, m := range []string{"POST", "GET", "DELETE"} {
				status, h, _ := call(t, m, at, []byte("late"))
				assertGone(t, m+" after DELETE", status, h)
			}
			if n := inv.count(route("$disconnect", c.id)); n != 1 {
				t.Errorf("$disconnect ran %d times", n)
			}
		})
	}

	t.Run("unknown id", func(t *testing.T) {
		for _, prefix := range []string{"", "/local"} {
			for _, m := range []string{"POST", "GET", "DELETE"} {
				status, h, body := call(t, m, srv.URL+prefix+"/@connections/bm8tc3VjaC1jb25u", []byte("x"))
				assertGone(t, m+" "+prefix+" unknown id", status, h)
				if !json.Valid(body) {
					t.Errorf("410 body %q is not JSON", body)
				}
			}
		}
	})
}

// TestConnectionIDsWithURLCharacters: connection ids are base64 and hold
// '/' and '+' now and then; the SDK escapes them in the path and the
// gateway must still find the connection.
func TestConnectionIDsWithURLCharacters(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	var c *client
	for range 64 {
		cl := dial(t, srv, &inv.recorder, "")
		if strings.ContainsAny(cl.id, "/+") {
			c = cl
			break
		}
		cl.c.Close(websocket.StatusNormalClosure, "")
	}
	if c == nil {
		t.Skip("no connection id with / or + in 64 tries")
	}
	status, _, body := call(t, "POST", srv.URL+"/@connections/"+url.PathEscape(c.id), []byte("raw"))
	if status != http.StatusOK {
		t.Fatalf("POST to %q: %d %s", c.id, status, body)
	}
	if f := c.next(); string(f.data) != "raw" {
		t.Fatalf("got %q", f.data)
	}
	m := sdkPusher(t, srv.URL)
	if res := m.Post(context.Background(), []string{c.id}, []byte("sdk")); len(res.Gone)+len(res.Failed) > 0 {
		t.Fatalf("SDK post to %q: %+v", c.id, res)
	}
	if f := c.next(); string(f.data) != "sdk" {
		t.Fatalf("got %q", f.data)
	}
}

func sdkClient(endpoint string, optFns ...func(*apigatewaymanagementapi.Options)) *apigatewaymanagementapi.Client {
	return push.NewClient(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	}, endpoint, optFns...)
}

func sdkPusher(t *testing.T, endpoint string, optFns ...func(*apigatewaymanagementapi.Options)) *push.ManagementAPI {
	t.Helper()
	m, err := push.NewManagementAPI(sdkClient(endpoint, optFns...), discard)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManagementAPIThroughSDK drives the management API with the client the
// handlers use in the cloud, unchanged: only the endpoint differs, and, in
// process, the HTTP client beneath the SDK (what make run posts through).
func TestManagementAPIThroughSDK(t *testing.T) {
	inv := &fakeInvoker{}
	gw, srv := serve(t, inv, nil)
	inProcess := func(o *apigatewaymanagementapi.Options) { o.HTTPClient = gw.ManagementClient() }
	for _, endpoint := range []string{srv.URL, srv.URL + "/local"} {
		for name, optFns := range map[string][]func(*apigatewaymanagementapi.Options){"http": nil, "in-process": {inProcess}} {
			t.Run(name+strings.TrimPrefix(endpoint, srv.URL)+"/@connections", func(t *testing.T) {
				testManagementAPIThroughSDK(t, srv, inv, endpoint, optFns)
			})
		}
	}
}

func testManagementAPIThroughSDK(t *testing.T, srv *httptest.Server, inv *fakeInvoker, endpoint string, optFns []func(*apigatewaymanagementapi.Options)) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, m := sdkClient(endpoint, optFns...), sdkPusher(t, endpoint, optFns...)
	a, b := dial(t, srv, &inv.recorder, ""), dial(t, srv, &inv.recorder, "")

	for _, p := range payloads {
		res := m.Post(ctx, []string{a.id, b.id, "Z29uZS1jb25uZWN0aW9u"}, p)
		if !slices.Equal(res.Gone, []string{"Z29uZS1jb25uZWN0aW9u"}) || len(res.Failed) > 0 {
			t.Fatalf("Post: %+v", res)
		}
		for _, c := range []*client{a, b} {
			if f := c.next(); f.typ != websocket.MessageText || !bytes.Equal(f.data, p) {
				t.Fatalf("frame %v %q, want text %q", f.typ, f.data, p)
			}
		}
	}

	out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(a.id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if out.ConnectedAt == nil || time.Since(*out.ConnectedAt) > time.Minute || out.LastActiveAt == nil {
		t.Errorf("GetConnection times: connected %v, last active %v", out.ConnectedAt, out.LastActiveAt)
	}
	if out.Identity == nil || aws.ToString(out.Identity.SourceIp) != "127.0.0.1" || aws.ToString(out.Identity.UserAgent) != "gateway-test/1.0" {
		t.Errorf("GetConnection identity = %+v", out.Identity)
	}
	var gone *types.GoneException
	if _, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String("bm9wZQ==")}); !errors.As(err, &gone) {
		t.Errorf("GetConnection of an unknown id: %v, want GoneException", err)
	}

	if err := m.Disconnect(ctx, a.id); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if code := a.waitClosed(); code != websocket.StatusNormalClosure {
		t.Errorf("closed with %d, want 1000", code)
	}
	inv.wait(t, "$disconnect", route("$disconnect", a.id))
	if err := m.Disconnect(ctx, a.id); !errors.Is(err, push.ErrGone) {
		t.Errorf("second Disconnect: %v, want ErrGone", err)
	}
	if res := m.Post(ctx, []string{a.id, b.id}, []byte("after")); !slices.Equal(res.Gone, []string{a.id}) || len(res.Failed) > 0 {
		t.Errorf("Post after Disconnect: %+v", res)
	}
	if f := b.next(); string(f.data) != "after" {
		t.Errorf("b got %q", f.data)
	}
	if !b.isOpen() {
		t.Error("b was closed too")
	}
}

// TestPostRightAfterHandshake: once the client holds its socket, the
// management API reaches it (API Gateway establishes the connection before
// answering the upgrade).
func TestPostRightAfterHandshake(t *testing.T) {
	inv := &fakeInvoker{}
	_, srv := serve(t, inv, nil)
	for i := range 30 {
		c := dial(t, srv, &inv.recorder, "")
		status, h, body := call(t, "POST", srv.URL+"/@connections/"+url.PathEscape(c.id), []byte("first"))
		if status != http.StatusOK {
			t.Fatalf("dial %d: POST right after the handshake: %d %s %s", i, status, h.Get("x-amzn-ErrorType"), body)
		}
		if f := c.next(); string(f.data) != "first" {
			t.Fatalf("got %q", f.data)
		}
		c.c.Close(websocket.StatusNormalClosure, "")
	}
}
