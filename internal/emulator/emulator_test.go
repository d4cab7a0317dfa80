package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/emulator"
	"github.com/chatroom/chat/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// stores runs a test against the emulator on each store.
var stores = map[string]func(t *testing.T) emulator.Options{
	"bbolt": func(t *testing.T) emulator.Options {
		return emulator.Options{Store: "bolt", DataDir: t.TempDir()}
	},
	"dynamodb": func(t *testing.T) emulator.Options {
		endpoint := dynamolocaltest.Endpoint(t)
		return emulator.Options{Store: "dynamodb", DynamoDBEndpoint: endpoint, Table: fmt.Sprintf("chat-%d", time.Now().UnixNano())}
	},
}

func start(t *testing.T, o emulator.Options) *emulator.Emulator {
	t.Helper()
	return emulatortest.Start(t, o)
}

// user is a person using the chat over real HTTP and WebSocket connections.
type user struct {
	t     *testing.T
	base  string
	name  string
	token string
}

func (u *user) do(method, path string, body any) (int, map[string]any) {
	u.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, u.base+"/api"+path, rd)
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func signup(t *testing.T, e *emulator.Emulator, name string) *user {
	t.Helper()
	u := &user{t: t, base: e.URL, name: name}
	status, body := u.do("POST", "/auth/signup", map[string]string{"username": name, "password": "correct horse"})
	if status != http.StatusCreated {
		t.Fatalf("signup %s: %d %v", name, status, body)
	}
	u.token = body["token"].(string)
	return u
}

// socket is one WebSocket connection with the frames it received.
type socket struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan map[string]any
	closed chan websocket.CloseError
}

// ticket asks for a single-use socket ticket.
func (u *user) ticket() string {
	u.t.Helper()
	status, body := u.do("POST", "/auth/ticket", nil)
	ticket, _ := body["ticket"].(string)
	if status != http.StatusCreated || ticket == "" {
		u.t.Fatalf("%s: ticket: %d %v", u.name, status, body)
	}
	return ticket
}

// joinBoth joins a, then b, to the room, and reads the join lines each
// is sent: a its own and b's, b its own.
func joinBoth(roomID string, a, b *socket) {
	a.join(roomID)
	a.next("join_room_announcement")
	b.join(roomID)
	b.next("join_room_announcement")
	a.next("join_room_announcement")
}

func (u *user) connect() *socket {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(u.base, "http", "ws", 1)+"/ws?ticket="+u.ticket(), nil)
	if err != nil {
		u.t.Fatalf("%s: connect: %v", u.name, err)
	}
	c.SetReadLimit(1 << 20)
	s := &socket{t: u.t, c: c, frames: make(chan map[string]any, 1000), closed: make(chan websocket.CloseError, 1)}
	go func() {
		for {
			_, raw, err := c.Read(context.Background())
			if err != nil {
				var ce websocket.CloseError
				if ok := asClose(err, &ce); ok {
					s.closed <- ce
				}
				close(s.frames)
				return
			}
			var f map[string]any
			if err := json.Unmarshal(raw, &f); err != nil {
				u.t.Errorf("server sent a frame that is not JSON: %q", raw)
			}
			s.frames <- f
		}
	}()
	u.t.Cleanup(func() { c.CloseNow() })
	return s
}

func asClose(err error, ce *websocket.CloseError) bool {
	status := websocket.CloseStatus(err)
	if status == -1 {
		return false
	}
	*ce = websocket.CloseError{Code: status}
	return true
}

func (s *socket) send(frame string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

// next waits for the next frame, which must have the given type.
func (s *socket) next(typ string) map[string]any {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatalf("socket closed while waiting for %s", typ)
		}
		if f["type"] != typ {
			s.t.Fatalf("got frame %v, want type %s", f, typ)
		}
		return f
	case <-time.After(10 * time.Second):
		s.t.Fatalf("no %s frame within 10s", typ)
	}
	return nil
}

// quiet checks nothing more arrives for a moment.
func (s *socket) quiet() {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if ok {
			s.t.Fatalf("unexpected frame %v", f)
		}
	case <-time.After(150 * time.Millisecond):
	}
}

func (s *socket) join(roomID string, after ...int64) map[string]any {
	s.t.Helper()
	if len(after) > 0 {
		s.send(fmt.Sprintf(`{"action":"join_room","room_id":%q,"after_seq":%d}`, roomID, after[0]))
	} else {
		s.send(fmt.Sprintf(`{"action":"join_room","room_id":%q}`, roomID))
	}
	return s.next("history")
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

func seqs(events any) []int64 {
	var out []int64
	for _, e := range events.([]any) {
		out = append(out, num(e.(map[string]any)["seq"]))
	}
	return out
}

func TestWholeContract(t *testing.T) {
	for name, opts := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := start(t, opts(t))
			alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
			carol := signup(t, e, "carol")
			status, room := alice.do("POST", "/rooms", map[string]any{"name": "general", "members": []string{"bob"}})
			if status != http.StatusCreated {
				t.Fatalf("create room: %d %v", status, room)
			}
			id := room["room_id"].(string)

			// Two clients join; each sees the history, the announcements.
			a := alice.connect()
			h := a.join(id)
			if got := seqs(h["events"]); len(got) != 1 || got[0] != 1 || num(h["last_seq"]) != 1 {
				t.Fatalf("alice's history = %v", h)
			}
			if ann := a.next("join_room_announcement"); ann["username"] != "alice" || num(ann["seq"]) != 2 {
				t.Fatalf("announcement = %v", ann)
			}
			b := bob.connect()
			h = b.join(id)
			if online := fmt.Sprint(h["online"]); online != "[alice bob]" {
				t.Fatalf("online = %s", online)
			}
			b.next("join_room_announcement")
			if ann := a.next("join_room_announcement"); ann["username"] != "bob" {
				t.Fatalf("alice saw %v", ann)
			}

			// Messages both ways, to everyone, the sender included.
			b.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"b1","text":"hi alice"}`, id))
			for _, s := range []*socket{a, b} {
				if m := s.next("receive_message"); m["text"] != "hi alice" || m["username"] != "bob" || m["client_msg_id"] != "b1" {
					t.Fatalf("message = %v", m)
				}
			}
			a.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"a1","text":"hi bob"}`, id))
			a.next("receive_message")
			last := num(b.next("receive_message")["seq"])

			// A resend of the same client_msg_id: the original, to the sender alone.
			b.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"b1","text":"again"}`, id))
			if m := b.next("receive_message"); m["text"] != "hi alice" {
				t.Fatalf("resend got %v", m)
			}
			a.quiet()

			// Typing reaches the others only.
			a.send(fmt.Sprintf(`{"action":"typing","room_id":%q}`, id))
			if f := b.next("typing"); f["username"] != "alice" {
				t.Fatalf("typing = %v", f)
			}
			a.quiet()

			// Bob leaves; both hear it. Then alice writes while he is out.
			b.send(fmt.Sprintf(`{"action":"leave_room","room_id":%q}`, id))
			b.next("leave_room_announcement")
			a.next("leave_room_announcement")
			for i := range 3 {
				a.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"m%d","text":"missed %d"}`, id, i, i))
				a.next("receive_message")
				// Out of the room, his socket still hears of each
				// message, as his room list's line.
				line, _ := b.next("room_summary")["room"].(map[string]any)
				if line["room_id"] != id || num(line["unread"]) < int64(i+1) || num(line["last_seq"]) != last+int64(i)+2 {
					t.Fatalf("bob's line after message %d: %v", i, line)
				}
			}
			b.quiet()
			// He comes back from where he was: exactly what he missed.
			h = b.join(id, last)
			got := seqs(h["events"])
			want := []int64{last + 1, last + 2, last + 3, last + 4}
			if fmt.Sprint(got) != fmt.Sprint(want) || h["has_more"] != false || num(h["last_seq"]) != last+4 {
				t.Fatalf("resume history %v (has_more %v, last_seq %v), want %v", got, h["has_more"], h["last_seq"], want)
			}
			b.next("join_room_announcement")
			a.next("join_room_announcement")

			// Every error of the socket table, to the caller alone.
			cases := []struct{ frame, code string }{
				{`not json`, "invalid_json"},
				{`{"action":"dance"}`, "unknown_action"},
				{`{"room_id":"x"}`, "unknown_action"},
				{fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"x"}`, id), "invalid_message"},
				{fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"bad id!","text":"x"}`, id), "invalid_message"},
				{fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"x","text":%q}`, id, strings.Repeat("a", 4001)), "invalid_message"},
				{`{"action":"join_room","room_id":42}`, "invalid_message"},
				{`{"action":"join_room","room_id":"no-such-room"}`, "room_not_found"},
				{`{"action":"send_message","room_id":"elsewhere","client_msg_id":"x","text":"x"}`, "not_joined"},
				{`{"action":"leave_room","room_id":"elsewhere"}`, "not_joined"},
				{`{"action":"typing","room_id":"elsewhere"}`, "not_joined"},
			}
			for _, c := range cases {
				a.send(c.frame)
				if f := a.next("error"); f["code"] != c.code {
					t.Errorf("%s: error %v, want %s", c.frame, f, c.code)
				}
			}
			b.quiet()
			// An outsider cannot join; the room does not exist for them.
			c := carol.connect()
			c.send(fmt.Sprintf(`{"action":"join_room","room_id":%q}`, id))
			if f := c.next("error"); f["code"] != "room_not_found" {
				t.Fatalf("outsider join: %v", f)
			}

			// Closing a socket leaves its rooms: the others hear it.
			b.c.Close(websocket.StatusNormalClosure, "")
			if ann := a.next("leave_room_announcement"); ann["username"] != "bob" {
				t.Fatalf("disconnect announcement %v", ann)
			}

			// A bad ticket never gets a socket, nor does a session token.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, q := range []string{"", "?ticket=", "?ticket=not-a-ticket", "?ticket=" + strings.Repeat("A", 43), "?token=" + alice.token, "?ticket=" + alice.token} {
				_, resp, err := websocket.Dial(ctx, strings.Replace(e.URL, "http", "ws", 1)+"/ws"+q, nil)
				if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("handshake with %q: %v, want 401", q, err)
				}
			}

			// Over 128 KiB: the socket is closed with 1009.
			a.send(strings.Repeat("x", 128<<10+1))
			select {
			case ce := <-a.closed:
				if ce.Code != websocket.StatusMessageTooBig {
					t.Fatalf("closed with %d, want 1009", ce.Code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("an oversized frame did not close the socket")
			}
		})
	}
}

// TestLogoutClosesSockets: the token stops working and its sockets close,
// and the room hears the leave.
func TestLogoutClosesSockets(t *testing.T) {
	e := start(t, stores["bbolt"](t))
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	_, room := alice.do("POST", "/rooms", map[string]any{"name": "r", "members": []string{"bob"}})
	id := room["room_id"].(string)
	a, b := alice.connect(), bob.connect()
	joinBoth(id, a, b)
	if status, _ := bob.do("POST", "/auth/logout", nil); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	select {
	case <-b.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("logout did not close the socket")
	}
	if ann := a.next("leave_room_announcement"); ann["username"] != "bob" {
		t.Fatalf("got %v", ann)
	}
	if status, _ := bob.do("GET", "/me", nil); status != http.StatusUnauthorized {
		t.Fatalf("token after logout: %d", status)
	}
}

// TestIdleTimeout: a quiet connection is closed and $disconnect runs.
func TestIdleTimeout(t *testing.T) {
	o := stores["bbolt"](t)
	o.IdleTimeout = 300 * time.Millisecond
	e := start(t, o)
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	_, room := alice.do("POST", "/rooms", map[string]any{"name": "r", "members": []string{"bob"}})
	id := room["room_id"].(string)
	a := alice.connect()
	a.join(id)
	a.next("join_room_announcement")
	b := bob.connect()
	b.join(id)
	b.next("join_room_announcement")
	// alice is idle from here; bob keeps talking for a while.
	deadline := time.Now().Add(time.Second)
	var mu sync.Mutex
	for time.Now().Before(deadline) {
		mu.Lock()
		b.send(fmt.Sprintf(`{"action":"typing","room_id":%q}`, id))
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case ce := <-a.closed:
		if ce.Code != websocket.StatusGoingAway {
			t.Fatalf("closed with %d, want 1001", ce.Code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection not closed")
	}
	for {
		f := <-b.frames
		if f["type"] == "leave_room_announcement" {
			if f["username"] != "alice" {
				t.Fatalf("got %v", f)
			}
			return
		}
	}
}

// TestSendRateLimit: sending flat out on one socket hits rate_limited, and
// what was refused is not stored.
func TestSendRateLimit(t *testing.T) {
	e := start(t, stores["bbolt"](t))
	alice := signup(t, e, "alice")
	_, room := alice.do("POST", "/rooms", map[string]any{"name": "r"})
	id := room["room_id"].(string)
	a := alice.connect()
	a.join(id)
	a.next("join_room_announcement")
	const n = 100
	for i := range n {
		a.send(fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"m%d","text":"hi"}`, id, i))
	}
	accepted, limited := 0, 0
	for range n {
		f := a.next2("receive_message", "error")
		if f["type"] == "error" {
			if f["code"] != "rate_limited" {
				t.Fatalf("error %v, want rate_limited", f)
			}
			limited++
		} else {
			accepted++
		}
	}
	if limited == 0 {
		t.Fatalf("%d sends in a burst were all accepted", n)
	}
	_, page := alice.do("GET", "/rooms/"+id+"/events?limit=200", nil)
	stored := 0
	for _, ev := range page["events"].([]any) {
		if ev.(map[string]any)["type"] == "message_sent" {
			stored++
		}
	}
	if stored != accepted {
		t.Fatalf("%d messages stored, %d accepted", stored, accepted)
	}
}

// next2 waits for the next frame, which must be of one of two types.
func (s *socket) next2(a, b string) map[string]any {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatal("socket closed")
		}
		if f["type"] != a && f["type"] != b {
			s.t.Fatalf("got frame %v, want %s or %s", f, a, b)
		}
		return f
	case <-time.After(10 * time.Second):
		s.t.Fatalf("no frame within 10s")
	}
	return nil
}
