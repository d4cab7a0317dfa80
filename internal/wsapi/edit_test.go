package wsapi_test

import (
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

// sentID sends a message from connID and returns its id.
func (e *env) sentID(connID, roomID, cmid string) string {
	e.t.Helper()
	e.send(connID, roomID, cmid)
	return e.last(roomID).Data.(chat.MessageSent).MessageID
}

func TestEditAndDeleteMessage(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, b, c := e.connect(alice), e.connect(bob), e.connect(carol)
		roomID := e.room("alice", "general", "bob", "carol")
		for _, id := range []string{a, b, c} {
			e.join(id, roomID)
		}
		mid := e.sentID(b, roomID, "c-1")
		e.pusher.reset()

		e.do(b, "send_message/edit.json", "room_id", roomID, "message_id", mid)
		edited := e.last(roomID)
		for _, id := range []string{a, b, c} {
			f := e.one(id, "message_edited")
			if f.RoomID != roomID || f.Seq != edited.Seq || f.MessageID != mid || f.Username != "bob" || f.Text != "hello again, everyone" || f.At != at(edited) {
				t.Errorf("%s got %+v, want the edit %d", id, f.raw, edited.Seq)
			}
		}

		// Refusals, to the caller alone, nothing appended.
		version := e.last(roomID).Seq
		for _, tc := range []struct {
			name, conn, body, code string
		}{
			{"someone else's", c, `{"action":"edit_message","room_id":"` + roomID + `","message_id":"` + mid + `","text":"mine now"}`, "forbidden"},
			{"unknown message", b, `{"action":"edit_message","room_id":"` + roomID + `","message_id":"m-nope","text":"x"}`, "message_not_found"},
			{"empty text", b, `{"action":"edit_message","room_id":"` + roomID + `","message_id":"` + mid + `","text":"  "}`, "invalid_message"},
			{"no message id", b, `{"action":"edit_message","room_id":"` + roomID + `","text":"x"}`, "invalid_message"},
			{"a member deletes another's", c, `{"action":"delete_message","room_id":"` + roomID + `","message_id":"` + mid + `"}`, "forbidden"},
			{"not joined", b, `{"action":"delete_message","room_id":"` + e.room("bob", "elsewhere") + `","message_id":"` + mid + `"}`, "not_joined"},
		} {
			path := "send_message/edit.json"
			if strings.Contains(tc.body, "delete_message") {
				path = "send_message/delete.json"
			}
			e.frame(tc.conn, path, tc.body)
			if f := e.one(tc.conn, "error"); f.Code != tc.code {
				t.Errorf("%s: error %s, want %s", tc.name, f.Code, tc.code)
			}
		}
		if got := e.last(roomID).Seq; got != version {
			t.Fatalf("refusals appended up to %d", got)
		}
		e.none(a, b, c)

		// The owner deletes it: everyone hears, and the text is gone.
		e.do(a, "send_message/delete.json", "room_id", roomID, "message_id", mid)
		deleted := e.last(roomID)
		for _, id := range []string{a, b, c} {
			f := e.one(id, "message_deleted")
			if f.Seq != deleted.Seq || f.MessageID != mid || f.Username != "alice" {
				t.Errorf("%s got %+v", id, f.raw)
			}
		}
		for _, ev := range e.stream(roomID) {
			raw, _ := ev.MarshalJSON()
			if strings.Contains(string(raw), "hello") {
				t.Errorf("event %d keeps the deleted text: %s", ev.Seq, raw)
			}
		}
		e.frame(b, "send_message/delete.json", `{"action":"delete_message","room_id":"`+roomID+`","message_id":"`+mid+`"}`)
		if f := e.one(b, "error"); f.Code != "message_not_found" {
			t.Errorf("deleting twice: %s", f.Code)
		}
	})
}

func TestMentionsOnMessages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		alice, bob := e.user("alice"), e.user("bob")
		e.user("carol") // has an account, not a member
		a, b := e.connect(alice), e.connect(bob)
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b, roomID)
		e.pusher.reset()
		e.frame(a, "send_message/send.json", `{"action":"send_message","room_id":"`+roomID+`","client_msg_id":"m1","text":"@bob and @carol, @BOB"}`)
		for _, id := range []string{a, b} {
			if f := e.one(id, "receive_message"); len(f.Mentions) != 1 || f.Mentions[0] != "bob" {
				t.Errorf("%s: mentions %q, want [bob]", id, f.Mentions)
			}
		}
	})
}
