package rooms_test

import (
	"errors"
	"testing"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
)

func TestSendMentionsAndMessageIDs(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		c, err := f.svc.Send(f.ctx, "bob", id, "c1", "@carol @mallory @Alice hello")
		if err != nil {
			t.Fatal(err)
		}
		sent := c.Events[0].Data.(chat.MessageSent)
		if want := (chat.Usernames{"carol", "alice"}); len(sent.Mentions) != 2 || sent.Mentions[0] != want[0] || sent.Mentions[1] != want[1] {
			t.Errorf("mentions = %q, want %q", sent.Mentions, want)
		}
		if sent.MessageID != chat.MessageID(id, "bob", "c1") {
			t.Errorf("message id %q is not derived from the send", sent.MessageID)
		}
	})
}

func TestEditAndDeleteMessages(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		c, err := f.svc.Send(f.ctx, "bob", id, "c1", "first")
		if err != nil {
			t.Fatal(err)
		}
		c.Delivery.Done()
		mid := c.Events[0].Data.(chat.MessageSent).MessageID
		edit, err := f.svc.EditMessage(f.ctx, "bob", id, mid, "second @carol")
		if err != nil {
			t.Fatal(err)
		}
		edit.Delivery.Done()
		if d := edit.Events[0].Data.(chat.MessageEdited); d.Text != "second @carol" || len(d.Mentions) != 1 {
			t.Errorf("edit = %+v", d)
		}
		for _, tc := range []struct {
			name, actor, mid, text string
			want                   error
		}{
			{"someone else's", "carol", mid, "x", chat.ErrForbidden},
			{"unknown", "bob", "m-nope", "x", chat.ErrMessageNotFound},
			{"bad text", "bob", mid, " ", chat.ErrInvalidMessage},
			{"outsider", "mallory", mid, "x", chat.ErrRoomNotFound},
		} {
			if _, err := f.svc.EditMessage(f.ctx, tc.actor, id, tc.mid, tc.text); !errors.Is(err, tc.want) {
				t.Errorf("edit %s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if _, err := f.svc.DeleteMessage(f.ctx, "bob", id, mid); err == nil {
			// bob is the author: allowed. Deleting again is not found.
		} else {
			t.Fatal(err)
		}
		if _, err := f.svc.DeleteMessage(f.ctx, "carol", id, mid); !errors.Is(err, chat.ErrMessageNotFound) {
			t.Errorf("second delete: %v", err)
		}
		page, err := f.svc.Events(f.ctx, "alice", id, rooms.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			switch d := e.Data.(type) {
			case chat.MessageSent:
				if !d.Deleted || d.Text != "" {
					t.Errorf("message after deletion: %+v", d)
				}
			case chat.MessageEdited:
				if !d.Deleted || d.Text != "" {
					t.Errorf("edit after deletion: %+v", d)
				}
			}
		}
		// An admin deletes someone else's message; a member cannot.
		c2, err := f.svc.Send(f.ctx, "bob", id, "c2", "again")
		if err != nil {
			t.Fatal(err)
		}
		c2.Delivery.Done()
		m2 := c2.Events[0].Data.(chat.MessageSent).MessageID
		if _, err := f.svc.DeleteMessage(f.ctx, "carol", id, m2); err != nil {
			t.Errorf("admin deletes: %v", err)
		}
	})
}

func TestMarkRead(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t) // version 2
		var last int64
		for i, text := range []string{"one", "@bob two", "three"} {
			c, err := f.svc.Send(f.ctx, "alice", id, string(rune('a'+i)), text)
			if err != nil {
				t.Fatal(err)
			}
			c.Delivery.Done()
			last = c.Events[0].Seq
		}
		list, err := f.svc.List(f.ctx, "bob")
		if err != nil || len(list) != 1 || list[0].Unread != 3 || list[0].Mentions != 1 {
			t.Fatalf("bob's list: %+v, %v", list, err)
		}
		// Read up to the mention: one unread left, no mention.
		res, err := f.svc.MarkRead(f.ctx, "bob", id, last-1)
		if err != nil || !res.Moved || res.Summary.Unread != 1 || res.Summary.Mentions != 0 || res.Summary.ReadSeq != last-1 {
			t.Fatalf("MarkRead(last-1) = %+v, %v", res, err)
		}
		if res, err := f.svc.MarkRead(f.ctx, "bob", id, 1); err != nil || res.Moved || res.Summary.ReadSeq != last-1 {
			t.Fatalf("a backward move: %+v, %v", res, err)
		}
		if _, err := f.svc.MarkRead(f.ctx, "bob", id, last+1); !errors.Is(err, rooms.ErrBadReadPosition) {
			t.Fatalf("past the end: %v", err)
		}
		if _, err := f.svc.MarkRead(f.ctx, "mallory", id, last); !errors.Is(err, chat.ErrRoomNotFound) {
			t.Fatalf("outsider: %v", err)
		}
		if res, err := f.svc.MarkRead(f.ctx, "bob", id, last); err != nil || !res.Moved || res.Summary.Unread != 0 {
			t.Fatalf("MarkRead(last) = %+v, %v", res, err)
		}
	})
}

func TestOpenDirect(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		d, err := f.svc.OpenDirect(f.ctx, "alice", "Bob")
		if err != nil || !d.Created || d.Room.KindOf() != chat.KindDirect {
			t.Fatalf("OpenDirect = %+v, %v", d, err)
		}
		d.Delivery.Done()
		again, err := f.svc.OpenDirect(f.ctx, "bob", "alice")
		if err != nil || again.Created || again.Room.ID != d.Room.ID || len(again.Events) != 0 {
			t.Fatalf("the pair's existing room: %+v, %v", again, err)
		}
		for _, tc := range []struct {
			name, actor, other string
			want               error
		}{
			{"yourself", "alice", "alice", chat.ErrInvalidUsername},
			{"unknown", "alice", "nobody_here", chat.ErrUserNotFound},
			{"bad name", "alice", "no way", chat.ErrInvalidUsername},
		} {
			if _, err := f.svc.OpenDirect(f.ctx, tc.actor, tc.other); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if err := f.svc.Block(f.ctx, "carol", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.OpenDirect(f.ctx, "alice", "carol"); !errors.Is(err, chat.ErrUserNotFound) {
			t.Errorf("someone who blocked you: %v", err)
		}
		// bob leaves; alice opening it again brings him back.
		c, err := f.svc.RemoveMember(f.ctx, "bob", d.Room.ID, "bob")
		if err != nil {
			t.Fatal(err)
		}
		c.Delivery.Done()
		back, err := f.svc.OpenDirect(f.ctx, "alice", "bob")
		if err != nil || back.Created || len(back.Events) != 1 || back.Room.Members["bob"] != chat.RoleMember {
			t.Fatalf("reopened: %+v, %v", back, err)
		}
		back.Delivery.Done()
		list, _ := f.svc.List(f.ctx, "bob")
		if len(list) != 1 || list[0].Kind != chat.KindDirect || list[0].Peer != "alice" {
			t.Fatalf("bob's list: %+v", list)
		}
		if _, err := f.svc.Rename(f.ctx, "alice", d.Room.ID, "x"); !errors.Is(err, chat.ErrForbidden) {
			t.Errorf("rename a direct room: %v", err)
		}
		// Once bob blocks alice, she cannot write to him there either.
		if c, err := f.svc.Send(f.ctx, "alice", d.Room.ID, "before", "hi"); err != nil {
			t.Fatal(err)
		} else {
			c.Delivery.Done()
		}
		if err := f.svc.Block(f.ctx, "bob", "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Send(f.ctx, "alice", d.Room.ID, "after", "hi"); !errors.Is(err, chat.ErrForbidden) {
			t.Errorf("a message to someone who blocked you: %v", err)
		}
		if c, err := f.svc.Send(f.ctx, "bob", d.Room.ID, "his", "bye"); err != nil {
			t.Errorf("the blocker still writes: %v", err)
		} else {
			c.Delivery.Done()
		}
	})
}
