package httpapi_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

func (e *env) openDirect(t *testing.T, caller, username string) response {
	t.Helper()
	return e.as(t, caller, "open-direct.json", "", withJSON(map[string]string{"username": username}))
}

func (e *env) markRead(t *testing.T, caller, roomID string, body string) response {
	t.Helper()
	return e.as(t, caller, "mark-read.json", roomID, withBody(body))
}

// sendAs appends a message behind the socket's back, the way send_message
// would store it.
func (e *env) sendAs(t *testing.T, roomID, sender, cmid, text string) int64 {
	t.Helper()
	ctx := context.Background()
	r, err := e.raw.RoomAs(ctx, roomID, append([]string{sender}, chat.MentionCandidates(text)...)...)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := r.SendMessage(sender, chat.MessageID(roomID, sender, cmid), cmid, text, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.raw.Append(ctx, storeAppend(roomID, r, evs)); err != nil {
		t.Fatal(err)
	}
	return evs[0].Seq
}

func TestDirectMessages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave")
		r := e.openDirect(t, "alice", "BOB")
		var room struct {
			RoomID  string        `json:"room_id"`
			Kind    string        `json:"kind"`
			Members []chat.Member `json:"members"`
		}
		r.wantStatus(t, 201)
		r.decode(t, &room)
		if room.Kind != "direct" || len(room.Members) != 2 {
			t.Fatalf("new direct room: %s", r)
		}
		e.wantChanged(t, room.RoomID, chat.TypeRoomCreated)
		// Either person asking again gets the same room, 200, nothing new.
		for _, caller := range []string{"alice", "bob"} {
			other := map[string]string{"alice": "bob", "bob": "alice"}[caller]
			again := e.openDirect(t, caller, other)
			again.wantStatus(t, 200)
			var same struct {
				RoomID string `json:"room_id"`
			}
			again.decode(t, &same)
			if same.RoomID != room.RoomID {
				t.Fatalf("%s got room %s, want %s", caller, same.RoomID, room.RoomID)
			}
		}
		e.wantNoNotes(t)
		// The list shows the other person.
		var list struct {
			Rooms []struct {
				RoomID, Kind, Peer string
			}
		}
		e.listRooms(t, "bob").decode(t, &list)
		if len(list.Rooms) != 1 || list.Rooms[0].Kind != "direct" || list.Rooms[0].Peer != "alice" {
			t.Fatalf("bob's list: %+v", list)
		}

		e.openDirect(t, "alice", "alice").wantError(t, 400, "invalid_username")
		e.openDirect(t, "alice", "no such!").wantError(t, 400, "invalid_username", "no such!")
		e.openDirect(t, "alice", "zed").wantError(t, 404, "user_not_found", "zed")
		e.as(t, "carol", "block-user.json", "", withJSON(map[string]string{"username": "alice"})).wantStatus(t, 204)
		e.openDirect(t, "alice", "carol").wantError(t, 404, "user_not_found", "carol")
		e.as(t, "alice", "open-direct.json", "", withBody(`{"username": 5}`)).wantError(t, 400, "invalid_json")

		// What a direct room refuses.
		e.as(t, "alice", "rename-room.json", room.RoomID).wantError(t, 403, "forbidden")
		e.addMembers(t, "alice", room.RoomID, false, "dave").wantError(t, 403, "forbidden")
		e.removeMember(t, "alice", room.RoomID, "bob").wantError(t, 403, "forbidden")
		e.as(t, "alice", "delete-room.json", room.RoomID).wantError(t, 403, "forbidden")
		e.wantNoNotes(t)
		// Either may leave; starting it again brings them back.
		e.removeMember(t, "alice", room.RoomID, "alice").wantStatus(t, 204)
		e.wantChanged(t, room.RoomID, chat.TypeMemberRemoved)
		e.getRoom(t, "alice", room.RoomID).wantError(t, 404, "room_not_found")
		e.openDirect(t, "bob", "alice").wantStatus(t, 200)
		e.wantChanged(t, room.RoomID, chat.TypeMemberAdded)
		e.getRoom(t, "alice", room.RoomID).wantStatus(t, 200)
	})
}

func TestMarkRead(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		roomID := e.createRoom(t, "alice", "general", "bob")
		e.sendAs(t, roomID, "alice", "m1", "one")
		mention := e.sendAs(t, roomID, "alice", "m2", "@bob two")
		last := e.sendAs(t, roomID, "alice", "m3", "three")
		e.listRooms(t, "bob").wantJSON(t, 200, `{"rooms": [{"room_id": "`+roomID+`", "name": "general", "owner": "alice", "role": "member", "last_seq": `+strconv.FormatInt(last, 10)+
			`, "last_activity_at": "~.", "kind": "group", "read_seq": 1, "unread": 3, "mentions": 1}], "next": null}`)

		e.markRead(t, "bob", roomID, `{"seq": `+strconv.FormatInt(mention, 10)+`}`).wantStatus(t, 204)
		if notes := e.notes.take(); len(notes) != 1 || notes[0].read == nil || notes[0].read.ReadSeq != mention || notes[0].read.Unread != 1 || notes[0].read.Mentions != 0 {
			t.Fatalf("notified %s, want bob's line at %d with one unread", describeNotes(notes), mention)
		}
		// Backwards changes nothing and tells nobody.
		e.markRead(t, "bob", roomID, `{"seq": 1}`).wantStatus(t, 204)
		e.wantNoNotes(t)
		e.markRead(t, "bob", roomID, `{"seq": `+strconv.FormatInt(last+1, 10)+`}`).wantError(t, 400, "invalid_query")
		for _, bad := range []string{`{"seq": "3"}`, `{"seq": 1.5}`, `{"seq": -1}`, `{}`, `{"seq": 1, "seq": 2}`} {
			e.markRead(t, "bob", roomID, bad).wantError(t, 400, "invalid_query")
		}
		e.markRead(t, "bob", roomID, `not json`).wantError(t, 400, "invalid_json")
		// A non-member hears room_not_found before anything about the body.
		e.markRead(t, "carol", roomID, `{"seq": "x"}`).wantError(t, 404, "room_not_found")
		e.markRead(t, "carol", roomID, `{"seq": 1}`).wantError(t, 404, "room_not_found")
		e.markRead(t, "bob", roomID, `{"seq": `+strconv.FormatInt(last, 10)+`}`).wantStatus(t, 204)
		e.notes.take()
		e.listRooms(t, "bob").wantJSON(t, 200, `{"rooms": [{"room_id": "`+roomID+`", "name": "general", "owner": "alice", "role": "member", "last_seq": `+strconv.FormatInt(last, 10)+
			`, "last_activity_at": "~.", "kind": "group", "read_seq": `+strconv.FormatInt(last, 10)+`, "unread": 0, "mentions": 0}], "next": null}`)
	})
}

func storeAppend(roomID string, r *chat.Room, evs []chat.Event) store.AppendRequest {
	return store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: evs}
}
