package wsapi_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

func TestSendMessage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, b, c := e.connect(alice), e.connect(bob), e.connect(carol)
		roomID := e.room("alice", "general", "bob", "carol")
		other := e.room("carol", "elsewhere", "alice")
		e.join(a, roomID)
		e.join(b, roomID)
		e.join(c, other) // carol is a member but has not joined this room
		e.pusher.reset()

		e.do(a, "send_message/send_untrimmed.json", "room_id", roomID, "client_msg_id", "c-1")

		sent := e.last(roomID)
		msg, ok := sent.Data.(chat.MessageSent)
		if !ok || sent.Username != "alice" || msg.ClientMsgID != "c-1" || msg.Text != "Grüße aus Köln 👋" || msg.MessageID == "" {
			t.Fatalf("stored %s by %s %+v, want message_sent by alice with c-1 and the trimmed text", sent.Type(), sent.Username, sent.Data)
		}
		for _, id := range []string{a, b} { // the sender's own socket included
			f := e.one(id, "receive_message")
			if f.RoomID != roomID || f.Seq != sent.Seq || f.MessageID != msg.MessageID || f.ClientMsgID != "c-1" ||
				f.Username != "alice" || f.Text != msg.Text || f.At != at(sent) {
				t.Errorf("%s got %+v, want the stored message %d", id, f.raw, sent.Seq)
			}
		}
		e.none(c)

		// A text of exactly 4000 code points (8000 bytes) is fine.
		long := strings.Repeat("é", chat.MaxMessageLen)
		e.frame(b, "send_message/send.json", `{"action":"send_message","room_id":"`+roomID+`","client_msg_id":"c-2","text":"`+long+`"}`)
		if f := e.one(a, "receive_message"); f.Text != long || f.Username != "bob" {
			t.Errorf("4000 code points: got %d runes from %s", len([]rune(f.Text)), f.Username)
		}
		e.frames(b)
	})
}

func TestSendMessageIsIdempotent(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a1, a2, b := e.connect(alice), e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		for _, id := range []string{a1, a2, b} {
			e.join(id, roomID)
		}
		e.pusher.reset()

		e.send(a1, roomID, "retry-me")
		first := e.one(a1, "receive_message")
		e.one(a2, "receive_message")
		e.one(b, "receive_message")
		before := len(e.stream(roomID))

		// The same client_msg_id again, from alice's other socket: nothing
		// stored, the original to the resending socket alone.
		e.send(a2, roomID, "retry-me")
		if n := len(e.stream(roomID)); n != before {
			t.Errorf("the resend appended %d events", n-before)
		}
		again := e.one(a2, "receive_message")
		if again.Seq != first.Seq || again.MessageID != first.MessageID || again.At != first.At || again.Text != first.Text {
			t.Errorf("resend got %+v, want the original %+v", again.raw, first.raw)
		}
		e.none(a1, b)

		// Another sender's same client_msg_id is a message of its own.
		e.send(b, roomID, "retry-me")
		if n := len(e.stream(roomID)); n != before+1 {
			t.Errorf("bob's message with alice's client_msg_id: %d new events, want 1", n-before)
		}
		if f := e.one(a1, "receive_message"); f.Username != "bob" || f.Seq == first.Seq {
			t.Errorf("bob's message arrived as %+v", f.raw)
		}
	})
}

// TestSendMessageRefusals: each malformed request is invalid_message, a
// room this socket has not joined is not_joined, and the error frame
// names the action and echoes the ids; nothing is stored or sent to
// anyone else.
func TestSendMessageRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b, a2 := e.connect(alice), e.connect(bob), e.connect(alice)
		roomID := e.room("alice", "general", "bob")
		elsewhere := e.room("bob", "bob's room")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()
		before := len(e.stream(roomID))

		type refusal struct {
			conn, body            string
			code, roomID, clientM string
		}
		frame := func(fields string) string { return `{"action":"send_message",` + fields + `}` }
		room := `"room_id":"` + roomID + `"`
		cases := map[string]refusal{
			"no room_id":             {a, frame(`"client_msg_id":"c1","text":"hi"`), "invalid_message", "", "c1"},
			"empty room_id":          {a, frame(`"room_id":"","client_msg_id":"c1","text":"hi"`), "invalid_message", "", "c1"},
			"numeric room_id":        {a, frame(`"room_id":7,"client_msg_id":"c1","text":"hi"`), "invalid_message", "", "c1"},
			"no client_msg_id":       {a, frame(room + `,"text":"hi"`), "invalid_message", roomID, ""},
			"empty client_msg_id":    {a, frame(room + `,"client_msg_id":"","text":"hi"`), "invalid_message", roomID, ""},
			"numeric client_msg_id":  {a, frame(room + `,"client_msg_id":17,"text":"hi"`), "invalid_message", roomID, ""},
			"client_msg_id too long": {a, frame(room + `,"client_msg_id":"` + strings.Repeat("x", 65) + `","text":"hi"`), "invalid_message", roomID, strings.Repeat("x", 65)},
			"client_msg_id space":    {a, frame(room + `,"client_msg_id":"c 1","text":"hi"`), "invalid_message", roomID, "c 1"},
			"client_msg_id accent":   {a, frame(room + `,"client_msg_id":"café","text":"hi"`), "invalid_message", roomID, "café"},
			"no text":                {a, frame(room + `,"client_msg_id":"c1"`), "invalid_message", roomID, "c1"},
			"empty text":             {a, frame(room + `,"client_msg_id":"c1","text":""`), "invalid_message", roomID, "c1"},
			"blank text":             {a, frame(room + `,"client_msg_id":"c1","text":" \t\n "`), "invalid_message", roomID, "c1"},
			"null text":              {a, frame(room + `,"client_msg_id":"c1","text":null`), "invalid_message", roomID, "c1"},
			"numeric text":           {a, frame(room + `,"client_msg_id":"c1","text":42`), "invalid_message", roomID, "c1"},
			"object text":            {a, frame(room + `,"client_msg_id":"c1","text":{"t":"hi"}`), "invalid_message", roomID, "c1"},
			"text too long":          {a, frame(room + `,"client_msg_id":"c1","text":"` + strings.Repeat("é", chat.MaxMessageLen+1) + `"`), "invalid_message", roomID, "c1"},
			"text with NUL":          {a, frame(room + `,"client_msg_id":"c1","text":"a\u0000b"`), "invalid_message", roomID, "c1"},
			// invalid_message comes before not_joined.
			"bad text, not joined": {a2, frame(room + `,"client_msg_id":"c1","text":""`), "invalid_message", roomID, "c1"},
			// not_joined whatever the room, with no lookup.
			"member, not joined":      {a2, frame(room + `,"client_msg_id":"c1","text":"hi"`), "not_joined", roomID, "c1"},
			"room of someone else":    {a, frame(`"room_id":"` + elsewhere + `","client_msg_id":"c1","text":"hi"`), "not_joined", elsewhere, "c1"},
			"room that never existed": {a, frame(`"room_id":"01JD3Z8Q5W7M2X4K9V6T1R0PNA","client_msg_id":"c1","text":"hi"`), "not_joined", "01JD3Z8Q5W7M2X4K9V6T1R0PNA", "c1"},
		}
		notJoined := map[string]bool{}
		for name, c := range cases {
			e.frame(c.conn, "send_message/send.json", c.body)
			f := e.one(c.conn, "error")
			if f.Code != c.code || f.Action != "send_message" || f.RoomID != c.roomID || f.ClientMsgID != c.clientM || f.Message == "" {
				t.Errorf("%s: error %+v, want code %s, action send_message, room_id %q, client_msg_id %q", name, f.raw, c.code, c.roomID, c.clientM)
			}
			if c.code == "not_joined" {
				notJoined[f.Message] = true
			}
		}
		if len(notJoined) != 1 {
			t.Errorf("not_joined messages differ by room, which tells rooms apart: %q", slices.Sorted(maps.Keys(notJoined)))
		}
		if n := len(e.stream(roomID)); n != before {
			t.Errorf("refused sends appended %d events", n-before)
		}
		if n := len(e.stream(elsewhere)); n != 1 {
			t.Errorf("bob's room has %d events, want 1", n)
		}
		e.none(a, a2, b)

		// After leaving, sending is not_joined again.
		e.do(a, "leave_room/leave.json", "room_id", roomID)
		e.frames(a)
		e.frames(b)
		e.send(a, roomID, "late")
		if f := e.one(a, "error"); f.Code != "not_joined" || f.RoomID != roomID || f.ClientMsgID != "late" {
			t.Errorf("send after leave: %+v, want not_joined", f.raw)
		}
		e.none(b)
	})
}

func TestLeaveRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, a2, b := e.connect(alice), e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()

		// Not joined on this socket (alice's other tab), or no such room:
		// the same not_joined.
		e.do(a2, "leave_room/leave.json", "room_id", roomID)
		f1 := e.one(a2, "error")
		e.do(a2, "leave_room/leave.json", "room_id", "01JD3Z8Q5W7M2X4K9V6T1R0PNA")
		f2 := e.one(a2, "error")
		for _, f := range []frame{f1, f2} {
			if f.Code != "not_joined" || f.Action != "leave_room" || f.RoomID == "" || f.Message != f1.Message {
				t.Errorf("leave before join: %+v", f.raw)
			}
		}
		e.frame(a, "leave_room/leave.json", `{"action":"leave_room","room_id":["`+roomID+`"]}`)
		if f := e.one(a, "error"); f.Code != "invalid_message" || f.Action != "leave_room" {
			t.Errorf("room_id as a list: %+v, want invalid_message", f.raw)
		}
		e.frame(a, "leave_room/leave.json", `{"action":"leave_room"}`)
		if f := e.one(a, "error"); f.Code != "invalid_message" || f.Action != "leave_room" {
			t.Errorf("no room_id: %+v, want invalid_message", f.raw)
		}
		e.none(b)

		e.do(a, "leave_room/leave.json", "room_id", roomID)

		left := e.last(roomID)
		if left.Type() != "user_left" || left.Username != "alice" {
			t.Fatalf("stream ends with %s by %s, want user_left by alice", left.Type(), left.Username)
		}
		for _, id := range []string{a, b} { // the leaver included
			f := e.one(id, "leave_room_announcement")
			if f.RoomID != roomID || f.Seq != left.Seq || f.Username != "alice" || f.At != at(left) {
				t.Errorf("%s got %+v, want the announcement of %d", id, f.raw, left.Seq)
			}
		}
		if got := e.connections(roomID); !slices.Equal(got, []string{b}) {
			t.Errorf("room's connections %q, want only %s", got, b)
		}
		if r := e.roomsOf(a); len(r) != 0 {
			t.Errorf("%s still in %q", a, r)
		}

		// Leaving again: not_joined, and nothing appended.
		n := len(e.stream(roomID))
		e.do(a, "leave_room/leave.json", "room_id", roomID)
		if f := e.one(a, "error"); f.Code != "not_joined" {
			t.Errorf("second leave: %+v, want not_joined", f.raw)
		}
		if len(e.stream(roomID)) != n {
			t.Error("second leave appended an event")
		}
		e.none(b)
	})
}

func TestTyping(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a1, a2, b, c := e.connect(alice), e.connect(alice), e.connect(bob), e.connect(carol)
		roomID := e.room("alice", "general", "bob", "carol")
		for _, id := range []string{a1, a2, b} {
			e.join(id, roomID)
		}
		e.pusher.reset()
		before := len(e.stream(roomID))

		e.do(a1, "default/typing.json", "room_id", roomID)

		e.none(a1, c) // not the typer's socket; not carol, who has not joined
		for _, id := range []string{a2, b} {
			if f := e.one(id, "typing"); f.RoomID != roomID || f.Username != "alice" {
				t.Errorf("%s got %+v", id, f.raw)
			}
		}
		if n := len(e.stream(roomID)); n != before {
			t.Errorf("typing appended %d events; it is not persisted", n-before)
		}

		// Carol has not joined: not_joined, for a real room or not.
		e.do(c, "default/typing.json", "room_id", roomID)
		if f := e.one(c, "error"); f.Code != "not_joined" || f.Action != "typing" || f.RoomID != roomID {
			t.Errorf("typing before join: %+v, want not_joined", f.raw)
		}
		e.frame(c, "default/typing.json", `{"action":"typing"}`)
		if f := e.one(c, "error"); f.Code != "invalid_message" || f.Action != "typing" {
			t.Errorf("typing without room_id: %+v, want invalid_message", f.raw)
		}
		e.frame(c, "default/typing.json", `{"action":"typing","room_id":false}`)
		if f := e.one(c, "error"); f.Code != "invalid_message" {
			t.Errorf("typing with room_id false: %+v, want invalid_message", f.raw)
		}
		e.none(a1, a2, b)

		// After leaving: not_joined.
		e.do(b, "leave_room/leave.json", "room_id", roomID)
		e.pusher.reset()
		e.do(b, "default/typing.json", "room_id", roomID)
		if f := e.one(b, "error"); f.Code != "not_joined" {
			t.Errorf("typing after leave: %+v, want not_joined", f.raw)
		}
		e.none(a1, a2)
	})
}

// TestDefaultRefusals: what no route takes is unknown_action, what is not
// one JSON object invalid_json; only the caller hears, and the socket
// stays open.
func TestDefaultRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(b, roomID)
		e.pusher.reset()

		e.do(a, "default/unknown_action.json")
		if f := e.one(a, "error"); f.Code != "unknown_action" || f.Action != "ping" {
			t.Errorf("ping: %+v, want unknown_action naming the action", f.raw)
		}
		e.do(a, "default/missing_action.json", "room_id", roomID)
		if f := e.one(a, "error"); f.Code != "unknown_action" || f.Action != "" {
			t.Errorf("no action: %+v, want unknown_action", f.raw)
		}
		e.do(a, "default/invalid_json.json")
		if f := e.one(a, "error"); f.Code != "invalid_json" || f.Action != "" || f.RoomID != "" {
			t.Errorf("truncated frame: %+v, want invalid_json", f.raw)
		}

		for name, body := range map[string]string{
			"numeric action":       `{"action":5,"room_id":"` + roomID + `"}`,
			"null action":          `{"action":null}`,
			"empty action":         `{"action":""}`,
			"action in upper case": `{"action":"TYPING","room_id":"` + roomID + `"}`,
			"action of a route":    `{"action":"send_message","room_id":"` + roomID + `","client_msg_id":"c1","text":"hi"}`,
		} {
			e.frame(a, "default/typing.json", body)
			if f := e.one(a, "error"); f.Code != "unknown_action" {
				t.Errorf("%s: %+v, want unknown_action", name, f.raw)
			}
		}
		for name, body := range map[string]string{
			"empty":          ``,
			"text":           `hello`,
			"null":           `null`,
			"array":          `[{"action":"typing"}]`,
			"string":         `"typing"`,
			"number":         `42`,
			"two objects":    `{"action":"typing","room_id":"x"}{"action":"typing","room_id":"x"}`,
			"trailing bytes": `{"action":"typing","room_id":"x"} x`,
		} {
			e.frame(a, "default/typing.json", body)
			if f := e.one(a, "error"); f.Code != "invalid_json" || f.Action != "" {
				t.Errorf("%s: %+v, want invalid_json", name, f.raw)
			}
		}
		// The routed actions answer the same to a frame that is not JSON.
		for _, path := range []string{"join_room/join.json", "send_message/send.json", "leave_room/leave.json"} {
			e.frame(a, path, `{"action":`)
			if f := e.one(a, "error"); f.Code != "invalid_json" {
				t.Errorf("%s with a broken frame: %+v, want invalid_json", path, f.raw)
			}
		}
		e.none(b)
		if len(e.pusher.disconnected) != 0 {
			t.Errorf("sockets closed: %q", e.pusher.disconnected)
		}
	})
}

// TestCachedConnectionGoneCannotSend: a process remembers who holds a
// connection between messages, but a connection another process has
// deleted since (its $disconnect ran there) sends nothing: the room's
// roster, read with the message, no longer has it.
func TestCachedConnectionGoneCannotSend(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.send(a, roomID, "first") // now in this process's cache
		before := len(e.stream(roomID))
		if err := e.store.DeleteConnection(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		e.pusher.reset()
		e.send(a, roomID, "after-gone")
		if got := len(e.stream(roomID)); got != before {
			t.Fatalf("a connection deleted elsewhere appended %d events", got-before)
		}
		e.none(b)
	})
}
