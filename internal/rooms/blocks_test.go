package rooms_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
)

// TestBlockedCannotAdd: once alice blocks bob, bob cannot bring her into
// any room, by creating one or by adding her, and hears exactly what he
// would of someone with no account. Nothing else of his request happens.
func TestBlockedCannotAdd(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		// bob owns a room with carol, who is an admin; alice is in none.
		r, err := f.svc.Create(f.ctx, "bob", "bobs", []string{"carol"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddMembers(f.ctx, "bob", r.ID, []string{"carol"}, true); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Block(f.ctx, "alice", "BOB"); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name    string
			members []string
			names   []string
		}{
			{"alone", []string{"alice"}, []string{"alice"}},
			{"in any case", []string{"Alice"}, []string{"alice"}},
			{"beside people who may be added", []string{"carol", "alice", "dave"}, []string{"alice"}},
			{"beside someone unknown, named in order", []string{"ghost", "carol", "alice"}, []string{"ghost", "alice"}},
		} {
			t.Run("create: "+tc.name, func(t *testing.T) {
				issued := len(f.ids.all())
				before := f.snap(t, r.ID)
				got, err := f.svc.Create(f.ctx, "bob", "new", tc.members)
				wantErr(t, err, chat.CodeUserNotFound, tc.names)
				if got != nil {
					t.Fatalf("refused Create returned %+v", got)
				}
				f.unchanged(t, before)
				for _, id := range f.ids.all()[issued:] {
					if _, err := f.st.Room(f.ctx, id); !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("room %s after a refused Create: %v", id, err)
					}
				}
			})
			for _, admin := range []bool{false, true} {
				t.Run(fmt.Sprintf("add (admin %v): %s", admin, tc.name), func(t *testing.T) {
					before := f.snap(t, r.ID)
					c, err := f.svc.AddMembers(f.ctx, "bob", r.ID, tc.members, admin)
					wantErr(t, err, chat.CodeUserNotFound, tc.names)
					if len(c.Events) != 0 {
						t.Fatalf("refused add appended %+v", c.Events)
					}
					f.unchanged(t, before)
				})
			}
		}

		// The block is against bob alone: carol, an admin of bob's room,
		// may add alice to it.
		c, err := f.svc.AddMembers(f.ctx, "carol", r.ID, []string{"alice"}, false)
		if err != nil {
			t.Fatalf("carol adds alice: %v", err)
		}
		c.Delivery.Done()
		// Being in the room does not undo the block's meaning: bob naming
		// her again hears she is a member, and may promote her; nothing
		// else about the room changes for her.
		_, err = f.svc.AddMembers(f.ctx, "bob", r.ID, []string{"alice"}, false)
		wantErr(t, err, chat.CodeAlreadyMember, []string{"alice"})
		c, err = f.svc.AddMembers(f.ctx, "bob", r.ID, []string{"alice"}, true)
		if err != nil || c.Room.Members["alice"] != chat.RoleAdmin {
			t.Fatalf("bob promotes alice, a member: %v, %+v", err, c.Room)
		}
		c.Delivery.Done()

		// Unblocked, bob can add her again.
		if err := f.svc.Unblock(f.ctx, "alice", "bob"); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.Create(f.ctx, "bob", "after", []string{"alice"})
		if err != nil || got.Members["alice"] != chat.RoleMember {
			t.Fatalf("create with alice after the unblock: %+v, %v", got, err)
		}
	})
}

// TestBlockRules: whom one may block, and what the list shows.
func TestBlockRules(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name     string
			username string
			code     chat.Code
			names    []string
		}{
			{"yourself", "alice", chat.CodeInvalidUsername, []string{"alice"}},
			{"yourself in capitals", "ALICE", chat.CodeInvalidUsername, []string{"alice"}},
			{"someone with no account", "ghost", chat.CodeUserNotFound, []string{"ghost"}},
			{"a malformed name", "b@d", chat.CodeInvalidUsername, []string{"b@d"}},
			{"no name", "", chat.CodeInvalidUsername, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, f.svc.Block(f.ctx, "alice", tc.username), tc.code, tc.names)
				if list, err := f.svc.Blocks(f.ctx, "alice"); err != nil || len(list) != 0 {
					t.Fatalf("blocks after a refused block: %q, %v", list, err)
				}
			})
		}
		for _, u := range []string{"mallory", "bob", "mallory"} {
			if err := f.svc.Block(f.ctx, "alice", u); err != nil {
				t.Fatal(err)
			}
		}
		if list, err := f.svc.Blocks(f.ctx, "alice"); err != nil || !slices.Equal(list, []string{"bob", "mallory"}) {
			t.Fatalf("Blocks(alice) = %q, %v", list, err)
		}
		wantErr(t, f.svc.Unblock(f.ctx, "alice", "b@d"), chat.CodeInvalidUsername, []string{"b@d"})
		for _, u := range []string{"Mallory", "mallory", "ghost", "alice"} {
			if err := f.svc.Unblock(f.ctx, "alice", u); err != nil {
				t.Fatalf("unblock %s: %v", u, err)
			}
		}
		if list, err := f.svc.Blocks(f.ctx, "alice"); err != nil || !slices.Equal(list, []string{"bob"}) {
			t.Fatalf("Blocks(alice) after unblocks = %q, %v", list, err)
		}
	})
}

// TestBlockLimit fills alice's list to rooms.MaxBlocks (straight in the
// store: nobody needs an account to be blocked there) and blocks past it
// through the service.
func TestBlockLimit(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		for i := range rooms.MaxBlocks - 1 {
			if err := f.st.Block(f.ctx, "alice", fmt.Sprintf("filler_%04d", i), rooms.MaxBlocks); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.Block(f.ctx, "alice", "bob"); err != nil {
			t.Fatalf("block number %d: %v", rooms.MaxBlocks, err)
		}
		wantErr(t, f.svc.Block(f.ctx, "alice", "carol"), rooms.CodeTooManyBlocks, nil)
		// Blocking again someone already blocked is no new block.
		if err := f.svc.Block(f.ctx, "alice", "bob"); err != nil {
			t.Fatalf("blocking bob again at the limit: %v", err)
		}
		list, err := f.svc.Blocks(f.ctx, "alice")
		if err != nil || len(list) != rooms.MaxBlocks || slices.Contains(list, "carol") {
			t.Fatalf("%d blocks (carol among them: %v), %v; want %d without carol", len(list), slices.Contains(list, "carol"), err, rooms.MaxBlocks)
		}
		if err := f.svc.Unblock(f.ctx, "alice", "filler_0000"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Block(f.ctx, "alice", "carol"); err != nil {
			t.Fatalf("a block after an unblock made room: %v", err)
		}
	})
}
