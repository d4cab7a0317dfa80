package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/gateway"
	"github.com/chatroom/chat/internal/sdkhttp"
)

// fakeLambda is the Lambda Invoke API (`sam local start-lambda`): it
// records each invocation and answers what answer says; a non-empty
// fnErr answers a function error.
type fakeLambda struct {
	recorder
	answer func(fn string, ev map[string]any) (payload string, fnErr string)
}

// startFakeLambda serves it on a free 127.0.0.1 port until the test ends.
func startFakeLambda(t *testing.T, answer func(fn string, ev map[string]any) (string, string)) (*fakeLambda, *httptest.Server) {
	t.Helper()
	f := &fakeLambda{answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		event, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name := r.PathValue("name")
		if err := f.add(name, event); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ev map[string]any
		_ = json.Unmarshal(event, &ev)
		payload, fnErr := `{"statusCode":200}`, ""
		if f.answer != nil {
			payload, fnErr = f.answer(name, ev)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if fnErr != "" {
			w.Header().Set("X-Amz-Function-Error", fnErr)
		}
		_, _ = io.WriteString(w, payload)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

// lambdaClient is the client the emulator builds for -lambda-endpoint.
func lambdaClient(endpoint string) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  sdkhttp.Wrap(nil),
	})
}

func TestRemoteHTTPAPI(t *testing.T) {
	lambda, lsrv := startFakeLambda(t, func(fn string, ev map[string]any) (string, string) {
		switch ev["rawPath"] {
		case "/auth/login":
			return `{"errorMessage":"boom","errorType":"Panic"}`, "Unhandled"
		case "/me":
			// The answer as a Go function would give it: base64 body, cookies.
			return `{"statusCode":200,"headers":{"Content-Type":"text/plain"},"cookies":["a=1"],"body":"aGVsbG8=","isBase64Encoded":true}`, ""
		}
		return `{"statusCode":201,"headers":{"Content-Type":"application/json","X-From":"lambda"},"body":"{\"ok\":true}"}`, ""
	})
	_, srv := serve(t, gateway.NewRemote(lambdaClient(lsrv.URL)), nil)

	// A request with path parameters, a query and headers.
	req, _ := http.NewRequest("POST", srv.URL+"/api/rooms/r-1/members?after_seq=3&limit=5&limit=6", strings.NewReader(`{"usernames":["bob"]}`))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("X-Custom-Header", "Value")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The function's answer goes back to the client as it is.
	if resp.StatusCode != http.StatusCreated || string(body) != `{"ok":true}` || resp.Header.Get("X-From") != "lambda" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("client got %d %v %s", resp.StatusCode, resp.Header, body)
	}

	inv := lambda.wait(t, "for the route", func(i invocation) bool { return i.str("rawPath") == "/rooms/r-1/members" })
	if inv.Function != "RoomsFunction" {
		t.Errorf("invoked %s, want RoomsFunction", inv.Function)
	}
	ev := inv.Event
	for k, want := range map[string]string{
		"version": "2.0", "routeKey": "POST /rooms/{room_id}/members", "rawPath": "/rooms/r-1/members",
		"rawQueryString": "after_seq=3&limit=5&limit=6", "body": `{"usernames":["bob"]}`,
	} {
		if ev[k] != want {
			t.Errorf("event %s = %v, want %q", k, ev[k], want)
		}
	}
	if ev["isBase64Encoded"] != false {
		t.Errorf("isBase64Encoded = %v", ev["isBase64Encoded"])
	}
	if p := strMap(ev["pathParameters"]); !maps.Equal(p, map[string]string{"room_id": "r-1"}) {
		t.Errorf("pathParameters = %v", p)
	}
	if q := strMap(ev["queryStringParameters"]); !maps.Equal(q, map[string]string{"after_seq": "3", "limit": "5,6"}) {
		t.Errorf("queryStringParameters = %v", q)
	}
	h := strMap(ev["headers"])
	for k := range h {
		if k != strings.ToLower(k) {
			t.Errorf("header %q is not lower-cased", k)
		}
	}
	if h["authorization"] != "Bearer tok" || h["x-custom-header"] != "Value" || h["content-type"] != "application/json" {
		t.Errorf("headers = %v", h)
	}
	rc := inv.ctx()
	if rc["routeKey"] != "POST /rooms/{room_id}/members" || rc["stage"] != "$default" || rc["requestId"] == "" {
		t.Errorf("requestContext = %v", rc)
	}
	if httpCtx, _ := rc["http"].(map[string]any); httpCtx["method"] != "POST" || httpCtx["path"] != "/rooms/r-1/members" || httpCtx["sourceIp"] != "127.0.0.1" {
		t.Errorf("requestContext.http = %v", rc["http"])
	}
	if epoch, _ := rc["timeEpoch"].(float64); time.Since(time.UnixMilli(int64(epoch))) > time.Minute {
		t.Errorf("timeEpoch = %v", rc["timeEpoch"])
	}

	// Each route goes to its function by logical id.
	for path, fn := range map[string]string{"/me": "AuthFunction", "/rooms": "RoomsFunction", "/anything/else": "RoomsFunction"} {
		status, hdr, body := call(t, "GET", srv.URL+"/api"+path, nil)
		got := lambda.wait(t, "GET "+path, func(i invocation) bool { return i.str("rawPath") == path })
		if got.Function != fn {
			t.Errorf("GET %s invoked %s, want %s", path, got.Function, fn)
		}
		if path == "/me" && (status != 200 || string(body) != "hello" || hdr.Get("Set-Cookie") != "a=1") {
			t.Errorf("GET /me: %d %v %q", status, hdr, body)
		}
	}

	// A function error is API Gateway's 500, and nothing of the error leaks.
	status, _, body := call(t, "POST", srv.URL+"/api/auth/login", []byte(`{}`))
	if status != http.StatusInternalServerError || strings.TrimSpace(string(body)) != `{"message":"Internal Server Error"}` {
		t.Errorf("function error: %d %s", status, body)
	}
	if got := lambda.wait(t, "login", func(i invocation) bool { return i.str("rawPath") == "/auth/login" }); got.Function != "AuthFunction" {
		t.Errorf("login invoked %s", got.Function)
	}

	// No route: API Gateway's own 404, no invocation.
	n := len(lambda.all())
	status, _, body = call(t, "OPTIONS", srv.URL+"/api/rooms", nil)
	if status != http.StatusNotFound || strings.TrimSpace(string(body)) != `{"message":"Not Found"}` {
		t.Errorf("OPTIONS: %d %s", status, body)
	}
	if len(lambda.all()) != n {
		t.Error("a request with no route invoked a function")
	}
}

func strMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := map[string]string{}
	for k, x := range m {
		out[k], _ = x.(string)
	}
	return out
}

func TestRemoteWebSocketAPI(t *testing.T) {
	lambda, lsrv := startFakeLambda(t, func(fn string, ev map[string]any) (string, string) {
		if q, _ := ev["queryStringParameters"].(map[string]any); fn == "ConnectFunction" && q["fail"] == "1" {
			return `{"errorMessage":"exit status 2","errorType":"Runtime.ExitError"}`, "Unhandled"
		}
		return `{"statusCode":200}`, ""
	})
	_, srv := serve(t, gateway.NewRemote(lambdaClient(lsrv.URL)), nil)
	host := strings.TrimPrefix(srv.URL, "http://")

	before := time.Now()
	c := dial(t, srv, &lambda.recorder, "token=abc")
	connect := lambda.wait(t, "$connect", route("$connect", c.id))
	c.send(websocket.MessageText, []byte(`{"action":"join_room","room_id":"r1"}`))
	join := lambda.wait(t, "join_room", route("join_room", c.id))
	c.send(websocket.MessageText, []byte(`{"action":"typing","room_id":"r1"}`))
	def := lambda.wait(t, "$default", route("$default", c.id))
	if err := c.c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	disconnect := lambda.wait(t, "$disconnect", route("$disconnect", c.id))

	cases := []struct {
		inv       invocation
		fn, event string
		body      string
	}{
		{connect, "ConnectFunction", "CONNECT", ""},
		{join, "JoinRoomFunction", "MESSAGE", `{"action":"join_room","room_id":"r1"}`},
		{def, "DefaultFunction", "MESSAGE", `{"action":"typing","room_id":"r1"}`},
		{disconnect, "DisconnectFunction", "DISCONNECT", ""},
	}
	var connectedAt float64
	for _, k := range cases {
		rc := k.inv.ctx()
		what := rc["routeKey"]
		if k.inv.Function != k.fn {
			t.Errorf("%s invoked %s, want %s", what, k.inv.Function, k.fn)
		}
		if rc["eventType"] != k.event || rc["connectionId"] != c.id || rc["domainName"] != host || rc["stage"] != "local" {
			t.Errorf("%s: requestContext = %v", what, rc)
		}
		if ip, _ := rc["identity"].(map[string]any); ip["sourceIp"] != "127.0.0.1" {
			t.Errorf("%s: identity = %v", what, rc["identity"])
		}
		epoch, _ := rc["requestTimeEpoch"].(float64)
		if at := time.UnixMilli(int64(epoch)); at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
			t.Errorf("%s: requestTimeEpoch = %v", what, rc["requestTimeEpoch"])
		}
		ca, _ := rc["connectedAt"].(float64)
		if connectedAt == 0 {
			connectedAt = ca
		}
		if ca == 0 || ca != connectedAt {
			t.Errorf("%s: connectedAt = %v, want %v throughout", what, ca, connectedAt)
		}
		msgID, hasMsgID := rc["messageId"].(string)
		if k.event == "MESSAGE" {
			if !hasMsgID || msgID == "" {
				t.Errorf("%s: no messageId", what)
			}
		} else if hasMsgID {
			t.Errorf("%s: messageId %q on a %s event", what, msgID, k.event)
		}
		if b, _ := k.inv.Event["body"].(string); b != k.body {
			t.Errorf("%s: body %q, want %q", what, b, k.body)
		}
	}
	if join.ctx()["messageId"] == def.ctx()["messageId"] {
		t.Error("two messages with the same messageId")
	}
	if q := strMap(connect.Event["queryStringParameters"]); q["token"] != "abc" {
		t.Errorf("$connect query = %v", q)
	}
	if code, _ := disconnect.ctx()["disconnectStatusCode"].(float64); code != 1000 {
		t.Errorf("disconnectStatusCode = %v, want 1000", disconnect.ctx()["disconnectStatusCode"])
	}

	// A $connect whose function fails: the handshake is refused.
	conn, resp, err := dialRaw(srv, "?fail=1")
	if err == nil {
		conn.CloseNow()
		t.Fatal("handshake accepted though $connect failed")
	}
	if resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("failed $connect: %v (%v), want 500", err, resp)
	}
}

// TestRemoteUnreachable: a Lambda endpoint that does not answer is a
// failed invocation, not a hang.
func TestRemoteUnreachable(t *testing.T) {
	lsrv := httptest.NewServer(http.NotFoundHandler())
	endpoint := lsrv.URL
	lsrv.Close()
	client := awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  sdkhttp.Wrap(nil),
	})
	_, srv := serve(t, gateway.NewRemote(client), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/me", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
}
