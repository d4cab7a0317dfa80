package wsapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

// TestStrictFrames: a frame's text fields are taken exactly as sent or
// refused, never rewritten: invalid UTF-8 and lone surrogates are
// invalid_message (unknown_action in action, invalid_json in a member the
// action does not take), and so is a field given twice or under a key that
// differs from its name only in case. Nothing is stored for a refusal; a
// correctly paired surrogate escape is the character it encodes.
func TestStrictFrames(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()
		before := len(e.stream(roomID))

		room := `"room_id":"` + roomID + `"`
		send := func(fields string) string { return `{"action":"send_message",` + fields + `}` }
		type refusal struct {
			path, body          string
			code, action        string
			roomID, clientMsgID string // echoed in the error frame
		}
		cases := map[string]refusal{
			"text with an invalid byte":            {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"a` + "\xff" + `b"`), "invalid_message", "send_message", roomID, "c1"},
			"text with a truncated sequence":       {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"a` + "\xe2\x82" + `"`), "invalid_message", "send_message", roomID, "c1"},
			"text with an encoded surrogate":       {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"` + "\xed\xa0\x80" + `"`), "invalid_message", "send_message", roomID, "c1"},
			"text with a lone high surrogate":      {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"a\ud800b"`), "invalid_message", "send_message", roomID, "c1"},
			"text ending in a high surrogate":      {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"a\ud83d"`), "invalid_message", "send_message", roomID, "c1"},
			"text with a high then no low":         {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"\ud800\u0041"`), "invalid_message", "send_message", roomID, "c1"},
			"text with a lone low surrogate":       {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"\udc00"`), "invalid_message", "send_message", roomID, "c1"},
			"client_msg_id with an invalid byte":   {"send_message/send.json", send(room + `,"client_msg_id":"c` + "\xff" + `","text":"hi"`), "invalid_message", "send_message", roomID, ""},
			"room_id with a lone surrogate":        {"send_message/send.json", send(`"room_id":"\ud800","client_msg_id":"c1","text":"hi"`), "invalid_message", "send_message", "", "c1"},
			"text twice":                           {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"hi","text":"bye"`), "invalid_message", "send_message", roomID, "c1"},
			"room_id twice":                        {"send_message/send.json", send(room + `,` + room + `,"client_msg_id":"c1","text":"hi"`), "invalid_message", "send_message", "", "c1"},
			"TEXT for text":                        {"send_message/send.json", send(room + `,"client_msg_id":"c1","TEXT":"hi"`), "invalid_message", "send_message", roomID, "c1"},
			"Text beside text":                     {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"hi","Text":"bye"`), "invalid_message", "send_message", roomID, "c1"},
			"client_mſg_id for client_msg_id":      {"send_message/send.json", send(room + `,"client_mſg_id":"c1","text":"hi"`), "invalid_message", "send_message", roomID, ""},
			"another member with a lone surrogate": {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"hi","note":"\udc00"`), "invalid_json", "", "", ""},
			"another member with an invalid byte":  {"send_message/send.json", send(room + `,"client_msg_id":"c1","text":"hi","x` + "\xff" + `":1}`), "invalid_json", "", "", ""},
			"action twice":                         {"send_message/send.json", `{"action":"send_message","action":"send_message",` + room + `,"client_msg_id":"c1","text":"hi"}`, "unknown_action", "", roomID, "c1"},
			"Action beside action":                 {"send_message/send.json", `{"action":"send_message","Action":"typing",` + room + `,"client_msg_id":"c1","text":"hi"}`, "unknown_action", "", roomID, "c1"},
			"ACTION for action":                    {"join_room/join.json", `{"ACTION":"join_room",` + room + `}`, "unknown_action", "", roomID, ""},
			"action with an invalid byte":          {"join_room/join.json", `{"action":"join_room` + "\xff" + `",` + room + `}`, "unknown_action", "", roomID, ""},
			"after_seq twice":                      {"join_room/join.json", `{"action":"join_room",` + room + `,"after_seq":1,"after_seq":2}`, "invalid_message", "join_room", roomID, ""},
			"AFTER_SEQ beside after_seq":           {"join_room/join.json", `{"action":"join_room",` + room + `,"after_seq":1,"AFTER_SEQ":2}`, "invalid_message", "join_room", roomID, ""},
			"leave with room_id twice":             {"leave_room/leave.json", `{"action":"leave_room",` + room + `,"room_id":"other"}`, "invalid_message", "leave_room", "", ""},
			"typing with a lone surrogate":         {"default/typing.json", `{"action":"typing","room_id":"\ud800"}`, "invalid_message", "typing", "", ""},
		}
		for name, c := range cases {
			e.frame(a, c.path, c.body)
			f := e.one(a, "error")
			if f.Code != c.code || f.Action != c.action || f.RoomID != c.roomID || f.ClientMsgID != c.clientMsgID || f.Message == "" {
				t.Errorf("%s: got %s, want code %s, action %q, room_id %q, client_msg_id %q", name, describe([]frame{f}), c.code, c.action, c.roomID, c.clientMsgID)
			}
			if raw := f.raw["message"]; !json.Valid(raw) || strings.Contains(string(raw), "\ufffd") {
				t.Errorf("%s: error message %s", name, raw)
			}
		}
		if n := len(e.stream(roomID)); n != before {
			t.Errorf("refused frames appended %d events", n-before)
		}
		e.none(a, b)

		// A paired escape is the character; a real U+FFFD is kept as sent.
		for i, c := range []struct{ text, want string }{
			{`\ud83d\ude00 ok`, "😀 ok"},
			{`\uD83D\uDE00`, "😀"},
			{"a\uFFFDb", "a\uFFFDb"},
			{`a\ufffdb`, "a\uFFFDb"},
		} {
			cmid := "ok-" + string(rune('a'+i))
			e.frame(a, "send_message/send.json", send(room+`,"client_msg_id":"`+cmid+`","text":"`+c.text+`"`))
			stored, ok := e.last(roomID).Data.(chat.MessageSent)
			if !ok || stored.Text != c.want || stored.ClientMsgID != cmid {
				t.Errorf("text %s: stored %+v, want %q", c.text, e.last(roomID).Data, c.want)
			}
			if f := e.one(b, "receive_message"); f.Text != c.want {
				t.Errorf("text %s: bob got %q, want %q", c.text, f.Text, c.want)
			}
			e.frames(a)
		}
	})
}

// TestJoinAfterSeqAtTheEdge: a resume point at the largest seq reads
// nothing (an empty history, has_more false), never wraps round to the
// first event; one past it is not a seq at all.
func TestJoinAfterSeqAtTheEdge(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice := e.user("alice")
		a := e.connect(alice)
		roomID := e.room("alice", "general")
		e.bulk(roomID, "alice", 3)
		for _, after := range []string{"9223372036854775806", "9223372036854775807"} {
			e.frame(a, "join_room/join.json", `{"action":"join_room","room_id":"`+roomID+`","after_seq":`+after+`}`)
			got := e.frames(a)
			if len(got) != 2 || got[0].Type != "history" || got[1].Type != "join_room_announcement" {
				t.Fatalf("after_seq %s: got %s, want history and the announcement", after, describe(got))
			}
			h := got[0]
			if evs := historyEvents(t, h); len(evs) != 0 || h.HasMore || h.LastSeq != got[1].Seq-1 {
				t.Errorf("after_seq %s: history of %d events (seqs %v), has_more %v, last_seq %d; want none, false, %d", after, len(evs), seqs(evs), h.HasMore, h.LastSeq, got[1].Seq-1)
			}
		}
		for _, after := range []string{"9223372036854775808", "18446744073709551616"} {
			e.frame(a, "join_room/join.json", `{"action":"join_room","room_id":"`+roomID+`","after_seq":`+after+`}`)
			if f := e.one(a, "error"); f.Code != "invalid_message" || f.Action != "join_room" {
				t.Errorf("after_seq %s: %s, want invalid_message", after, describe([]frame{f}))
			}
		}
	})
}
