package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/emulator"
)

// lambdaCall is one invocation the fake Lambda Invoke API received.
type lambdaCall struct {
	function string
	event    map[string]any
	auth     string // the request's Authorization header
}

func (c lambdaCall) rc() map[string]any { m, _ := c.event["requestContext"].(map[string]any); return m }

// fakeLambdaAPI is `sam local start-lambda` as far as the emulator can
// tell: POST /2015-03-31/functions/{name}/invocations.
type fakeLambdaAPI struct {
	mu    sync.Mutex
	calls []lambdaCall
}

func (f *fakeLambdaAPI) find(t *testing.T, what string, match func(lambdaCall) bool) lambdaCall {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, c := range f.calls {
			if match(c) {
				f.mu.Unlock()
				return c
			}
		}
		f.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the Lambda API got no invocation %s", what)
	return lambdaCall{}
}

func startLambdaAPI(t *testing.T) (*fakeLambdaAPI, string) {
	f := &fakeLambdaAPI{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		c := lambdaCall{function: r.PathValue("name"), event: ev, auth: r.Header.Get("Authorization")}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		q, _ := ev["queryStringParameters"].(map[string]any)
		switch {
		case c.function == "AuthFunction" && ev["rawPath"] == "/me":
			_, _ = io.WriteString(w, `{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"username\":\"from_lambda\"}"}`)
		case c.function == "RoomsFunction":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_, _ = io.WriteString(w, `{"errorMessage":"runtime error: invalid memory address","errorType":"Runtime.ExitError"}`)
		case c.function == "ConnectFunction" && q["token"] != "good":
			_, _ = io.WriteString(w, `{"statusCode":403}`)
		default:
			_, _ = io.WriteString(w, `{"statusCode":200}`)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// TestLambdaEndpoint: with LambdaEndpoint every route is invoked through
// the Lambda Invoke API by logical id, and the answers reach the client.
func TestLambdaEndpoint(t *testing.T) {
	lambda, endpoint := startLambdaAPI(t)
	e := start(t, emulator.Options{Store: "bolt", DataDir: t.TempDir(), LambdaEndpoint: endpoint})
	host := strings.TrimPrefix(e.URL, "http://")

	// No token, yet 200: the answer is the remote function's, not the
	// in-process handler's (which would say 401).
	u := &user{t: t, base: e.URL}
	status, body := u.do("GET", "/me", nil)
	if status != http.StatusOK || body["username"] != "from_lambda" {
		t.Fatalf("GET /me: %d %v", status, body)
	}
	me := lambda.find(t, "for GET /me", func(c lambdaCall) bool { return c.event["rawPath"] == "/me" })
	if me.function != "AuthFunction" || me.event["routeKey"] != "GET /me" || me.event["version"] != "2.0" {
		t.Errorf("GET /me invoked %s with %v", me.function, me.event)
	}
	if !strings.HasPrefix(me.auth, "AWS4-HMAC-SHA256 Credential=local/") {
		t.Errorf("Invoke request not signed with the local credentials: %q", me.auth)
	}

	// A function error is API Gateway's bare 500.
	status, body = u.do("GET", "/rooms", nil)
	if status != http.StatusInternalServerError || body["message"] != "Internal Server Error" || len(body) != 1 {
		t.Errorf("function error: %d %v", status, body)
	}

	// $connect answering 403 refuses the handshake with 403.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.URL, "http") + "/ws"
	if c, resp, err := websocket.Dial(ctx, wsURL+"?token=bad", nil); err == nil {
		c.CloseNow()
		t.Error("handshake accepted though $connect answered 403")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("refused $connect: %v (%v), want 403", err, resp)
	}

	// Accepted: messages and the close reach their functions.
	c, _, err := websocket.Dial(ctx, wsURL+"?token=good", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	connect := lambda.find(t, "$connect", func(c lambdaCall) bool {
		q, _ := c.event["queryStringParameters"].(map[string]any)
		return c.function == "ConnectFunction" && q["token"] == "good"
	})
	id, _ := connect.rc()["connectionId"].(string)
	if id == "" || connect.rc()["eventType"] != "CONNECT" || connect.rc()["domainName"] != host || connect.rc()["stage"] != "local" {
		t.Errorf("$connect requestContext = %v", connect.rc())
	}
	for _, frame := range []string{`{"action":"join_room","room_id":"r"}`, `{"action":"send_message"}`, `{"action":"leave_room"}`, `{"action":"typing"}`, `garbage`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for fn, key := range map[string]string{"JoinRoomFunction": "join_room", "SendMessageFunction": "send_message", "LeaveRoomFunction": "leave_room", "DefaultFunction": "$default"} {
		got := lambda.find(t, key, func(c lambdaCall) bool { return c.function == fn && c.rc()["connectionId"] == id })
		if got.rc()["routeKey"] != key || got.rc()["eventType"] != "MESSAGE" || got.rc()["messageId"] == nil {
			t.Errorf("%s: requestContext %v", fn, got.rc())
		}
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	lambda.find(t, "$disconnect", func(c lambdaCall) bool {
		return c.function == "DisconnectFunction" && c.rc()["connectionId"] == id && c.rc()["eventType"] == "DISCONNECT"
	})
}
