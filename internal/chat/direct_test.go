package chat_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

func direct(t *testing.T) *chat.Room {
	t.Helper()
	evs, err := chat.CreateDirect("bob", "alice", known, at(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return replay(t, evs[0].RoomID, evs...)
}

func TestCreateDirect(t *testing.T) {
	r := direct(t)
	if r.ID != chat.DirectRoomID("alice", "bob") || r.KindOf() != chat.KindDirect || r.Owner != "bob" {
		t.Fatalf("room = %+v", r)
	}
	if r.PeerOf("bob") != "alice" || r.PeerOf("alice") != "bob" {
		t.Errorf("peers: %q %q", r.PeerOf("bob"), r.PeerOf("alice"))
	}
	if chat.DirectRoomID("alice", "bob") != chat.DirectRoomID("bob", "alice") {
		t.Error("the pair's room depends on who starts it")
	}
	for _, tc := range []struct {
		name, other string
		want        error
	}{
		{"yourself", "BOB", chat.ErrInvalidUsername},
		{"bad name", "b!", chat.ErrInvalidUsername},
		{"unknown", "zed", chat.ErrUserNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := chat.CreateDirect("bob", tc.other, known, at(0)); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if r := fixture(t); r.KindOf() != chat.KindGroup || r.PeerOf("alice") != "" {
		t.Errorf("a group room: kind %q peer %q", r.KindOf(), r.PeerOf("alice"))
	}
}

func TestDirectRoomRules(t *testing.T) {
	r := direct(t)
	now := at(time.Minute)
	if _, err := r.Rename("bob", "x", now); !errors.Is(err, chat.ErrForbidden) {
		t.Errorf("rename: %v", err)
	}
	if _, err := r.Rename("bob", "", now); !errors.Is(err, chat.ErrInvalidRoomName) {
		t.Errorf("rename with a bad name answers the name first: %v", err)
	}
	if _, err := r.AddMembers("bob", []string{"carol"}, false, known, now); !errors.Is(err, chat.ErrForbidden) {
		t.Errorf("add: %v", err)
	}
	if _, err := r.RemoveMember("bob", "alice", now); !errors.Is(err, chat.ErrForbidden) {
		t.Errorf("remove the other: %v", err)
	}
	if _, err := r.Delete("bob", now); !errors.Is(err, chat.ErrForbidden) {
		t.Errorf("delete: %v", err)
	}
	if _, err := r.DeleteMessage("bob", &chat.MessageRef{ID: "m", Author: "alice"}, now); !errors.Is(err, chat.ErrForbidden) {
		t.Errorf("the creator deleting the other's message: %v", err)
	}
	// Either may leave, the creator too; starting it again brings them back.
	for _, leaver := range []string{"bob", "alice"} {
		left := cloneRoom(r)
		evs, err := left.RemoveMember(leaver, leaver, now)
		if err != nil {
			t.Fatalf("%s leaves: %v", leaver, err)
		}
		if err := left.Apply(evs[0]); err != nil {
			t.Fatalf("apply leave: %v", err)
		}
		if _, ok := left.Members[leaver]; ok {
			t.Fatalf("%s still a member", leaver)
		}
		back, err := left.ReopenDirect(leaver, now)
		if err != nil || len(back) != 1 {
			t.Fatalf("reopen: %v %v", back, err)
		}
		if err := left.Apply(back[0]); err != nil {
			t.Fatalf("apply reopen: %v", err)
		}
		if left.Members["bob"] != chat.RoleOwner || left.Members["alice"] != chat.RoleMember {
			t.Errorf("after reopening: %v", left.Members)
		}
		if again, _ := left.ReopenDirect(leaver, now); len(again) != 0 {
			t.Errorf("reopening a full pair appended %v", again)
		}
	}
	if _, err := r.ReopenDirect("carol", now); !errors.Is(err, chat.ErrRoomNotFound) {
		t.Errorf("an outsider reopening: %v", err)
	}
	bad := ev(2, "bob", chat.MemberAdded{Member: "carol", Role: chat.RoleMember})
	bad.RoomID = r.ID
	if err := cloneRoom(r).Apply(bad); err == nil {
		t.Error("a third person was applied to a direct room")
	}
}
