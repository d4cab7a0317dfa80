package wsapi_test

import (
	"encoding/json"
	"testing"

	"github.com/chatroom/chat/internal/wsapi"
)

type summary struct {
	RoomID   string `json:"room_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Kind     string `json:"kind"`
	Peer     string `json:"peer"`
	LastSeq  int64  `json:"last_seq"`
	ReadSeq  int64  `json:"read_seq"`
	Unread   int64  `json:"unread"`
	Mentions int64  `json:"mentions"`
}

// lines returns the room_summary frames a connection got, and fails on
// any other frame.
func (e *env) lines(connID string) []summary {
	e.t.Helper()
	var out []summary
	for _, f := range e.frames(connID) {
		if f.Type != "room_summary" {
			e.t.Fatalf("%s got %s, want only room_summary frames", connID, f.raw)
		}
		var s summary
		if err := json.Unmarshal(f.Room, &s); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (e *env) notifier() *wsapi.Notifier {
	e.t.Helper()
	n, err := wsapi.NewNotifier(e.ws)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestUnreadReachesSocketsNotJoined(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.userFrames = true
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, aElsewhere := e.connect(alice), e.connect(alice)
		b1, b2 := e.connect(bob), e.connect(bob)
		c := e.connect(carol) // not a member
		roomID := e.room("alice", "general", "bob")
		e.join(a, roomID)
		e.join(b1, roomID)
		e.pusher.reset()

		e.frame(a, "send_message/send.json", `{"action":"send_message","room_id":"`+roomID+`","client_msg_id":"m1","text":"@bob look"}`)
		sent := e.last(roomID)
		// Joined sockets get the message and nothing else.
		for _, id := range []string{a, b1} {
			if f := e.one(id, "receive_message"); f.Seq != sent.Seq {
				t.Errorf("%s: %+v", id, f.raw)
			}
		}
		// bob's other socket gets his line with the unread and the mention.
		got := e.lines(b2)
		if len(got) != 1 || got[0].RoomID != roomID || got[0].Unread != 1 || got[0].Mentions != 1 || got[0].LastSeq != sent.Seq || got[0].ReadSeq != 1 {
			t.Errorf("bob's other socket: %+v", got)
		}
		// The sender's other socket: her read position moved with it.
		if got := e.lines(aElsewhere); len(got) != 1 || got[0].Unread != 0 || got[0].ReadSeq != sent.Seq {
			t.Errorf("alice's other socket: %+v", got)
		}
		e.none(c)
	})
}

func TestListChangesReachEverySocket(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.userFrames = true
		ctx := t.Context()
		alice, bob, carol := e.user("alice"), e.user("bob"), e.user("carol")
		a, b, c := e.connect(alice), e.connect(bob), e.connect(carol)
		n := e.notifier()

		// Created: every member's sockets.
		r, err := e.app.Rooms.Create(ctx, "alice", "general", []string{"bob"})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RoomCreated(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a, b} {
			if got := e.lines(id); len(got) != 1 || got[0].RoomID != r.ID || got[0].Name != "general" || got[0].Kind != "group" {
				t.Errorf("%s after creation: %+v", id, got)
			}
		}
		e.none(c)

		// Added: the newcomer's sockets.
		change, err := e.app.Rooms.AddMembers(ctx, "alice", r.ID, []string{"carol"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		if got := e.lines(c); len(got) != 1 || got[0].RoomID != r.ID || got[0].Role != "member" || got[0].ReadSeq != change.Events[0].Seq {
			t.Errorf("carol after being added: %+v", got)
		}
		e.none(a, b)

		// Renamed: everyone's.
		change, err = e.app.Rooms.Rename(ctx, "alice", r.ID, "news")
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a, b, c} {
			if got := e.lines(id); len(got) != 1 || got[0].Name != "news" {
				t.Errorf("%s after the rename: %+v", id, got)
			}
		}

		// Removed: room_removed to the removed person's sockets.
		change, err = e.app.Rooms.RemoveMember(ctx, "alice", r.ID, "carol")
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		if f := e.one(c, "room_removed"); f.RoomID != r.ID {
			t.Errorf("carol: %+v", f.raw)
		}
		e.none(a, b)

		// Read position moved: all the reader's sockets.
		b2 := e.connect(bob)
		res, err := e.app.Rooms.MarkRead(ctx, "bob", r.ID, change.Room.Version)
		if err != nil || !res.Moved {
			t.Fatalf("MarkRead: %+v %v", res, err)
		}
		if err := n.ReadMoved(ctx, "bob", res.Summary); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{b, b2} {
			if got := e.lines(id); len(got) != 1 || got[0].ReadSeq != change.Room.Version {
				t.Errorf("%s after reading: %+v", id, got)
			}
		}

		// Deleted: room_removed to everyone's.
		change, err = e.app.Rooms.Delete(ctx, "alice", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.RoomChanged(ctx, change); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a, b, b2} {
			if f := e.one(id, "room_removed"); f.RoomID != r.ID {
				t.Errorf("%s: %+v", id, f.raw)
			}
		}
		e.none(c)
	})
}

func TestDirectRoomReachesBoth(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.userFrames = true
		ctx := t.Context()
		alice, bob := e.user("alice"), e.user("bob")
		a, b := e.connect(alice), e.connect(bob)
		d, err := e.app.Rooms.OpenDirect(ctx, "alice", "bob")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.notifier().RoomChanged(ctx, d.Change); err != nil {
			t.Fatal(err)
		}
		d.Delivery.Done()
		for id, peer := range map[string]string{a: "bob", b: "alice"} {
			if got := e.lines(id); len(got) != 1 || got[0].Kind != "direct" || got[0].Peer != peer {
				t.Errorf("%s: %+v", id, got)
			}
		}
	})
}
