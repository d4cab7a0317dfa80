package wsapi_test

// FuzzSocketFrame sends arbitrary frame bodies to the four action routes
// (join_room, send_message, leave_room, $default) of a chat wired like a
// function (app.NewLocal over bbolt, a recording pusher). Whatever the
// body, the handler answers 200 and the caller gets what the contract's
// precedence says: invalid_json for a body that is not one JSON object
// (or holds invalid UTF-8 in a member the action does not take),
// unknown_action for a wrong action, invalid_message for missing or bad
// fields (a field given twice, under another case, or with invalid UTF-8
// or a lone surrogate among them), not_joined / room_not_found, and
// otherwise the frames of a success; never an `internal` error. The seed corpus is under
// testdata/fuzz/FuzzSocketFrame; in it "@ROOM@" stands for a room the
// caller has joined and "@ROOM2@" for one they are not a member of.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatroom/chat/internal/app"
	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/auth/authtest"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/store/boltstore"
	"github.com/chatroom/chat/internal/testkit"
	"github.com/chatroom/chat/internal/wire/strictjson"
	"github.com/chatroom/chat/internal/wsapi"
)

// fzRecorder is a push port that keeps every frame per connection.
type fzRecorder struct {
	mu     sync.Mutex
	frames map[string][][]byte
}

func (r *fzRecorder) Post(_ context.Context, ids []string, frame []byte) push.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.frames[id] = append(r.frames[id], bytes.Clone(frame))
	}
	return push.Result{}
}

func (r *fzRecorder) Disconnect(context.Context, string) error { return nil }

func (r *fzRecorder) take() map[string][][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.frames
	r.frames = map[string][][]byte{}
	return out
}

// fzFrame is any server frame, read loosely.
type fzFrame struct {
	Type        string          `json:"type"`
	Code        string          `json:"code"`
	Message     string          `json:"message"`
	Action      string          `json:"action"`
	RoomID      string          `json:"room_id"`
	ClientMsgID string          `json:"client_msg_id"`
	Text        string          `json:"text"`
	Seq         int64           `json:"seq"`
	Events      json.RawMessage `json:"events"`
}

// The socket's error codes (PROTOCOL.md), internal left out on purpose.
var fzSocketCodes = []string{"invalid_json", "unknown_action", "invalid_message", "room_not_found", "not_joined", "rate_limited"}

type fzSocketEnv struct {
	ws       *wsapi.Handlers
	app      *app.App
	pusher   *fzRecorder
	room     string // alice and bob are members; both connections joined it
	room2    string // bob's; alice is not a member
	connA    string // alice's connection, the caller
	connB    string // bob's, joined to room
	aliceTok string
	windows  atomic.Int64 // how many limit windows the handlers' clock has moved on
}

func fzSocketSetup(f *testing.F) *fzSocketEnv {
	st, err := boltstore.Open(filepath.Join(testkit.ScratchDir(f), "chat.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	e := &fzSocketEnv{pusher: &fzRecorder{frames: map[string][][]byte{}}, connA: "connA=", connB: "connB="}
	// Each input runs in a window of the per-connection limits of its
	// own, so that a valid frame is never refused for the ones before it
	// (the limits have tests of their own).
	cfg := auth.Config{
		Params:     authtest.Params,
		SessionTTL: 24 * time.Hour, MaxFailedLogins: 10, MaxFailedLoginsPerAddress: 30, MaxTicketsPerMinute: 60,
		Now: func() time.Time { return time.Now().Add(time.Duration(e.windows.Load()) * 10 * time.Second) },
	}
	a, err := app.NewLocal(st, e.pusher, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	e.app, e.ws = a, a.Sockets
	ctx := context.Background()
	alice, err := a.Auth.Signup(ctx, "alice", "password-a")
	if err != nil {
		f.Fatal(err)
	}
	bob, err := a.Auth.Signup(ctx, "bob", "password-b")
	if err != nil {
		f.Fatal(err)
	}
	e.aliceTok = alice.Token
	r, err := a.Rooms.Create(ctx, "alice", "General", []string{"bob"})
	if err != nil {
		f.Fatal(err)
	}
	e.room = r.ID
	r2, err := a.Rooms.Create(ctx, "bob", "Bob's", nil)
	if err != nil {
		f.Fatal(err)
	}
	e.room2 = r2.ID
	for conn, tok := range map[string]string{e.connA: alice.Token, e.connB: bob.Token} {
		id, err := a.Auth.Authenticate(ctx, tok)
		if err != nil {
			f.Fatal(err)
		}
		ticket, err := a.Auth.IssueTicket(ctx, id)
		if err != nil {
			f.Fatal(err)
		}
		resp, err := e.ws.Connect(ctx, e.event(conn, "$connect", "", ticket.Value))
		if err != nil || resp.StatusCode != 200 {
			f.Fatalf("connect %s: %d, %v", conn, resp.StatusCode, err)
		}
		e.join(f, conn)
	}
	e.pusher.take()
	return e
}

func (e *fzSocketEnv) event(conn, routeKey, body, ticket string) wsapi.Event {
	ev := wsapi.Event{Body: body, RequestContext: events.APIGatewayWebsocketProxyRequestContext{
		ConnectionID: conn, RouteKey: routeKey, RequestID: "fuzz", EventType: "MESSAGE", Stage: "$default",
	}}
	if ticket != "" {
		ev.QueryStringParameters = map[string]string{"ticket": ticket}
		ev.RequestContext.EventType = "CONNECT"
	}
	return ev
}

// join puts conn back into the room when a frame took it out.
func (e *fzSocketEnv) join(tb testing.TB, conn string) {
	joined, err := e.app.Store.ConnectionRooms(context.Background(), conn)
	if err != nil {
		tb.Fatal(err)
	}
	if slices.Contains(joined, e.room) {
		return
	}
	body := fmt.Sprintf(`{"action":"join_room","room_id":%q}`, e.room)
	if resp, err := e.ws.JoinRoom(context.Background(), e.event(conn, "join_room", body, "")); err != nil || resp.StatusCode != 200 {
		tb.Fatalf("rejoin %s: %d, %v", conn, resp.StatusCode, err)
	}
}

// fzRoutes are the four action routes, by the action each serves.
var fzRoutes = []string{"join_room", "send_message", "leave_room", "typing"}

func FuzzSocketFrame(f *testing.F) {
	e := fzSocketSetup(f)
	for i, body := range []string{
		`{"action":"join_room","room_id":"@ROOM@"}`,
		`{"action":"send_message","room_id":"@ROOM@","client_msg_id":"m1","text":"hello"}`,
		`{"action":"leave_room","room_id":"@ROOM@"}`,
		`{"action":"typing","room_id":"@ROOM@"}`,
	} {
		f.Add(uint8(i), body)
	}
	f.Add(uint8(0), `{"action":"join_room","room_id":"@ROOM@","after_seq":99999999999999999999}`)
	f.Add(uint8(3), `{"action":"typing","room_id":"@ROOM@"}]`)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		ctx := context.Background()
		body = strings.NewReplacer("@ROOM@", e.room, "@ROOM2@", e.room2).Replace(body)
		want := fzRoutes[int(route)%len(fzRoutes)]
		handler := map[string]func(context.Context, wsapi.Event) (wsapi.Response, error){
			"join_room": e.ws.JoinRoom, "send_message": e.ws.SendMessage, "leave_room": e.ws.LeaveRoom, "typing": e.ws.Default,
		}[want]
		routeKey := want
		if want == "typing" {
			routeKey = "$default"
		}
		e.pusher.take()
		e.windows.Add(1)
		resp, err := handler(ctx, e.event(e.connA, routeKey, body, ""))
		sent := e.pusher.take()
		defer e.join(t, e.connA)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s(%q) = %d, %v; want 200", want, body, resp.StatusCode, err)
		}
		frames := map[string][]fzFrame{}
		for conn, raws := range sent {
			if conn != e.connA && conn != e.connB {
				t.Fatalf("a frame went to unknown connection %q", conn)
			}
			for _, raw := range raws {
				var fr fzFrame
				if err := json.Unmarshal(raw, &fr); err != nil || fr.Type == "" {
					t.Fatalf("frame %s to %s is not a typed JSON object: %v", raw, conn, err)
				}
				frames[conn] = append(frames[conn], fr)
			}
		}
		expected := fzExpect(e, want, body)
		mine := frames[e.connA]
		if expected.code != "" || len(mine) > 0 && mine[0].Type == "error" {
			if len(mine) != 1 || mine[0].Type != "error" || len(frames[e.connB]) != 0 {
				t.Fatalf("%s(%q): frames %+v, want one error frame %q to the caller alone", want, body, frames, expected.code)
			}
			got := mine[0]
			if !slices.Contains(fzSocketCodes, got.Code) || got.Message == "" {
				t.Fatalf("%s(%q): error frame %+v; want one of %q with a message", want, body, got, fzSocketCodes)
			}
			if got.Code != expected.code {
				t.Fatalf("%s(%q): error %q (%s), want %q", want, body, got.Code, got.Message, expected.code)
			}
			if got.Action != expected.action {
				t.Fatalf("%s(%q): error frame names action %q, want %q", want, body, got.Action, expected.action)
			}
			return
		}
		types := func(fs []fzFrame) []string {
			var out []string
			for _, f := range fs {
				out = append(out, f.Type)
			}
			return out
		}
		a, b := types(frames[e.connA]), types(frames[e.connB])
		switch want {
		case "join_room":
			if !slices.Equal(a, []string{"history", "join_room_announcement"}) || !slices.Equal(b, []string{"join_room_announcement"}) {
				t.Fatalf("join_room(%q): caller got %q, other %q", body, a, b)
			}
		case "send_message":
			if !slices.Equal(a, []string{"receive_message"}) || len(b) > 1 || len(b) == 1 && b[0] != "receive_message" {
				t.Fatalf("send_message(%q): caller got %q, other %q", body, a, b)
			}
			if got := frames[e.connA][0]; got.Text != expected.text && len(b) == 1 {
				t.Fatalf("send_message(%q): text %q, want %q", body, got.Text, expected.text)
			}
		case "leave_room":
			if !slices.Equal(a, []string{"leave_room_announcement"}) || !slices.Equal(b, []string{"leave_room_announcement"}) {
				t.Fatalf("leave_room(%q): caller got %q, other %q", body, a, b)
			}
		case "typing":
			if len(a) != 0 || !slices.Equal(b, []string{"typing"}) {
				t.Fatalf("typing(%q): caller got %q, other %q", body, a, b)
			}
		}
	})
}

type fzExpectation struct {
	code   string // "" for success
	action string // the action an error frame names
	text   string // the stored text of a message
}

// fzTakes are the fields each action takes (PROTOCOL.md's action table).
var fzTakes = map[string][]string{
	"join_room":    {"action", "room_id", "after_seq"},
	"send_message": {"action", "room_id", "client_msg_id", "text"},
	"leave_room":   {"action", "room_id"},
	"typing":       {"action", "room_id"},
}

// fzExpect is the contract's precedence, written out independently of the
// handlers. Members are read with strictjson, which FuzzParse holds to an
// oracle of its own: a field given twice, under another case, or with
// invalid UTF-8 or a lone surrogate is a bad field (for action,
// unknown_action; for the rest, invalid_message), and such a string in a
// member the action does not take makes the frame invalid_json.
func fzExpect(e *fzSocketEnv, route, body string) fzExpectation {
	obj, err := strictjson.Parse(body)
	if err != nil {
		return fzExpectation{code: "invalid_json"}
	}
	str := func(name string) (string, bool) {
		s, ok, err := obj.String(name)
		if err != nil || !ok || s == "" {
			return "", false
		}
		return s, true
	}
	action, _ := str("action")
	takes, ok := fzTakes[action]
	if !ok {
		takes = []string{"action"}
	}
	if obj.CheckOthers(takes...) != nil {
		return fzExpectation{code: "invalid_json"}
	}
	x := fzExpectation{action: action}
	if action != route {
		x.code = "unknown_action"
		return x
	}
	roomID, okRoom := str("room_id")
	switch route {
	case "join_room":
		// Absent or null, or an integer from 0 to 2^63-1.
		raw, present, err := obj.Field("after_seq")
		okSeq := err == nil
		if okSeq && present && raw != "null" {
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			var v any
			if dec.Decode(&v) != nil {
				okSeq = false
			} else if n, isNum := v.(json.Number); !isNum {
				okSeq = false
			} else if i, err := strconv.ParseInt(n.String(), 10, 64); err != nil || i < 0 {
				okSeq = false
			}
		}
		switch {
		case !okRoom || !okSeq:
			x.code = "invalid_message"
		case roomID != e.room:
			x.code = "room_not_found"
		}
	case "send_message":
		cmid, okCmid := str("client_msg_id")
		text, okText := str("text")
		norm, textErr := chat.NormalizeMessageText(text)
		switch {
		case !okRoom || !okCmid || !okText || chat.ValidateClientMsgID(cmid) != nil || textErr != nil:
			x.code = "invalid_message"
		case roomID != e.room:
			x.code = "not_joined"
		}
		x.text = norm
	case "leave_room", "typing":
		switch {
		case !okRoom:
			x.code = "invalid_message"
		case roomID != e.room:
			x.code = "not_joined"
		}
	}
	return x
}
