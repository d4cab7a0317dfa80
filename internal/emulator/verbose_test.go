package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// syncBuffer is a log destination the emulator's goroutines share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestVerboseLogHasNoSecrets runs the emulator at its most verbose (-v,
// debug level) through sign-up, login, a socket opened with a token and a
// ticket, messages and logout, with passwords also sent in the ways a
// careless or hostile client might (under another case, not as JSON, not
// as UTF-8), and wants no password, token, ticket or cookie in the log,
// which still shows every invocation.
func TestVerboseLogHasNoSecrets(t *testing.T) {
	logs := &syncBuffer{}
	o := stores["bbolt"](t)
	o.Verbose = true
	o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := start(t, o)

	const (
		password       = "Password-One correct horse"
		upperPassword  = "Password-Two UPPER key"
		formPassword   = "Password-Three in a form"
		binaryPassword = "Password-Four not UTF-8"
		cookie         = "Cookie-0123456789abcdef"
	)
	post := func(path, contentType string, body []byte, header ...string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", e.URL+"/api"+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Cookie", "session="+cookie)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	creds := func(pw string) []byte { return []byte(fmt.Sprintf(`{"username":"alice","password":%q}`, pw)) }

	status, signed := post("/auth/signup", "application/json", creds(password))
	if status != http.StatusCreated {
		t.Fatalf("signup: %d %v", status, signed)
	}
	status, logged := post("/auth/login", "application/json", creds(password))
	if status != http.StatusOK {
		t.Fatalf("login: %d %v", status, logged)
	}
	tokens := []string{signed["token"].(string), logged["token"].(string)}
	token := tokens[1]
	for _, c := range []struct {
		contentType string
		body        []byte
		status      int
	}{
		{"application/json", []byte(`{"username":"bob","PASSWORD":"` + upperPassword + `"}`), http.StatusBadRequest},
		{"application/x-www-form-urlencoded", []byte("username=bob&password=" + formPassword), http.StatusBadRequest},
		{"application/json", []byte(`{"username":"bob","password":"` + binaryPassword + "\xff" + `"}`), http.StatusBadRequest},
	} {
		if status, body := post("/auth/signup", c.contentType, c.body); status != c.status {
			t.Errorf("signup with %q: %d %v, want %d", c.body, status, body, c.status)
		}
	}
	status, room := post("/rooms", "application/json", []byte(`{"name":"general"}`), "Authorization", "Bearer "+token)
	if status != http.StatusCreated {
		t.Fatalf("create room: %d %v", status, room)
	}

	status, issued := post("/auth/ticket", "application/json", nil, "Authorization", "Bearer "+token)
	ticket, _ := issued["ticket"].(string)
	if status != http.StatusCreated || ticket == "" {
		t.Fatalf("ticket: %d %v", status, issued)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(e.URL, "http", "ws", 1)+"/ws?token="+token+"&ticket="+ticket, &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {"session=" + cookie}},
	})
	if err != nil {
		t.Fatal(err)
	}
	roomID := room["room_id"].(string)
	for _, frame := range []string{
		`{"action":"join_room","room_id":"` + roomID + `"}`,
		`{"action":"send_message","room_id":"` + roomID + `","client_msg_id":"c-1","text":"hello"}`,
	} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // history, the announcement, the message
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Read on, so that the close the logout brings is answered at once.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}()
	if status, body := post("/auth/logout", "application/json", nil, "Authorization", "Bearer "+token); status != http.StatusNoContent {
		t.Fatalf("logout: %d %v", status, body)
	}
	<-closed
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"route":"$disconnect"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	log := logs.String()
	// The log is verbose: every route it went through is there, with its
	// event and answer.
	for _, route := range []string{"POST /auth/signup", "POST /auth/login", "POST /rooms", "$connect", "join_room", "send_message", "POST /auth/logout", "$disconnect"} {
		if !strings.Contains(log, `"route":"`+route+`","function"`) {
			t.Errorf("no invocation of %s in the log", route)
		}
	}
	if !strings.Contains(log, `"event":{`) || !strings.Contains(log, `"answer":{`) || !strings.Contains(log, "hello") {
		t.Errorf("the log shows no events and answers:\n%s", log)
	}
	for _, s := range append(tokens, password, upperPassword, formPassword, binaryPassword, ticket, cookie) {
		if strings.Contains(log, s) {
			t.Errorf("the log holds the secret %q", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}
