package rooms_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
)

func TestNewService(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	if _, err := rooms.NewService(nil, logger, nil, nil); err == nil {
		t.Fatal("NewService(nil store) succeeded")
	}
	eachAdapter(t, func(t *testing.T, f *fixture) {
		if _, err := rooms.NewService(f.st, nil, nil, nil); err == nil {
			t.Fatal("NewService(nil logger) succeeded")
		}
		// Without a clock and ids it uses the system clock and ULIDs.
		svc, err := rooms.NewService(f.st, logger, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		r, err := svc.Create(f.ctx, "alice", "defaults", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.ID) != 26 || strings.Trim(r.ID, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
			t.Fatalf("room id %q is not a ULID", r.ID)
		}
		if r.CreatedAt.Before(before.Add(-time.Second)) || r.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("CreatedAt %v is not now", r.CreatedAt)
		}
		r2, err := svc.Create(f.ctx, "alice", "defaults", nil)
		if err != nil || r2.ID == r.ID {
			t.Fatalf("second room: %v, %v; want a new id", r2, err)
		}
	})
}

func TestCreate(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		t.Run("owner and members", func(t *testing.T) {
			r, err := f.svc.Create(f.ctx, "alice", "  Book club \t", []string{"Bob", "carol", "alice", "BOB", "ALICE"})
			if err != nil {
				t.Fatal(err)
			}
			wantMembers := map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember, "carol": chat.RoleMember}
			if r.ID != f.ids.all()[len(f.ids.all())-1] || r.Name != "Book club" || r.Owner != "alice" || r.Version != 1 || r.Deleted || !mapsEqual(r.Members, wantMembers) {
				t.Fatalf("Create = %+v", r)
			}
			events := f.stream(t, r.ID)
			want := chat.RoomCreated{Name: "Book club", Members: []string{"bob", "carol"}}
			if len(events) != 1 || events[0].Username != "alice" || !equalData(events[0].Data, want) {
				t.Fatalf("stream = %+v, want one room_created %+v by alice", events, want)
			}
			stored, err := f.st.Room(f.ctx, r.ID)
			if err != nil || stored.Name != "Book club" || !mapsEqual(stored.Members, wantMembers) {
				t.Fatalf("stored room = %+v, %v", stored, err)
			}
			for u, role := range wantMembers {
				got, err := f.svc.List(f.ctx, u)
				if err != nil || len(got) != 1 || got[0].RoomID != r.ID || got[0].Role != role || got[0].Owner != "alice" || got[0].LastSeq != 1 {
					t.Fatalf("List(%s) = %+v, %v; want the room with role %s", u, got, err, role)
				}
			}
		})

		t.Run("owner alone", func(t *testing.T) {
			r, err := f.svc.Create(f.ctx, "dave", "solo", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Members) != 1 || r.Members["dave"] != chat.RoleOwner {
				t.Fatalf("members = %v", r.Members)
			}
			if e := f.stream(t, r.ID); len(e) != 1 || !equalData(e[0].Data, chat.RoomCreated{Name: "solo"}) {
				t.Fatalf("stream = %+v", e)
			}
		})

		t.Run("most members at once", func(t *testing.T) {
			many := names("crowd_", chat.MaxMembersPerChange)
			f.createUsers(t, many...)
			r, err := f.svc.Create(f.ctx, "erin", "crowd", many)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Members) != chat.MaxMembersPerChange+1 {
				t.Fatalf("%d members, want %d", len(r.Members), chat.MaxMembersPerChange+1)
			}
			stored, err := f.st.Room(f.ctx, r.ID)
			if err != nil || len(stored.Members) != chat.MaxMembersPerChange+1 {
				t.Fatalf("stored room: %+v, %v", stored, err)
			}
		})

		long := strings.Repeat("é", chat.MaxRoomNameLen)
		for _, tc := range []struct {
			name     string
			roomName string
			members  []string
			code     chat.Code
			names    []string
			lookups  int64
		}{
			{"unknown members named exactly", "r", []string{"bob", "Ghost", "carol", "nobody", "ghost"}, chat.CodeUserNotFound, []string{"ghost", "nobody"}, 1},
			{"one unknown member", "r", []string{"ghost"}, chat.CodeUserNotFound, []string{"ghost"}, 1},
			{"empty name", "", nil, chat.CodeInvalidRoomName, nil, 0},
			{"blank name", " \t\n ", nil, chat.CodeInvalidRoomName, nil, 0},
			{"name too long", long + "x", nil, chat.CodeInvalidRoomName, nil, 0},
			{"name with a control character", "a\x07b", nil, chat.CodeInvalidRoomName, nil, 0},
			{"name with a newline inside", "a\nb", nil, chat.CodeInvalidRoomName, nil, 0},
			{"name not UTF-8", "caf\xe9", nil, chat.CodeInvalidRoomName, nil, 0},
			{"malformed member", "r", []string{"bob", "b@d"}, chat.CodeInvalidUsername, []string{"b@d"}, 0},
			{"too many members", "r", names("x_", chat.MaxMembersPerChange+1), chat.CodeTooManyMembers, nil, 0},
			{"bad name before unknown members", "", []string{"ghost"}, chat.CodeInvalidRoomName, nil, 0},
			{"malformed member before too many", "r", append(names("x_", 60), "b@d"), chat.CodeInvalidUsername, []string{"b@d"}, 0},
			{"too many before unknown", "r", names("ghost_", chat.MaxMembersPerChange+1), chat.CodeTooManyMembers, nil, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				issued := len(f.ids.all())
				before := f.snap(t, "room-never")
				f.h.counts()
				r, err := f.svc.Create(f.ctx, "alice", tc.roomName, tc.members)
				wantErr(t, err, tc.code, tc.names)
				if r != nil {
					t.Fatalf("refused Create returned %+v", r)
				}
				if _, _, lookups := f.h.counts(); lookups != tc.lookups {
					t.Fatalf("%d user look-ups, want %d", lookups, tc.lookups)
				}
				// Nothing stored: no room under any id drawn, nobody's list changed.
				f.unchanged(t, before)
				for _, id := range f.ids.all()[issued:] {
					if _, err := f.st.Room(f.ctx, id); !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("room %s after a refused Create: %v; want ErrNotFound", id, err)
					}
					if e := f.stream(t, id); len(e) != 0 {
						t.Fatalf("room %s has events after a refused Create: %+v", id, e)
					}
				}
			})
		}
		if r, err := f.svc.Create(f.ctx, "alice", " "+long+" ", nil); err != nil || r.Name != long {
			t.Fatalf("a name of %d code points: %+v, %v", chat.MaxRoomNameLen, r, err)
		}
	})
}

func TestGetAndCheckMember(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		gone := f.deleted(t)
		left := f.general(t)
		if _, err := f.svc.RemoveMember(f.ctx, "bob", left, "bob"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, actor, roomID string
			ok                  bool
		}{
			{"owner", "alice", id, true},
			{"admin", "carol", id, true},
			{"member", "bob", id, true},
			{"non-member", "mallory", id, false},
			{"no such account", "ghost", id, false},
			{"empty actor", "", id, false},
			{"owner of a deleted room", "alice", gone, false},
			{"member of a deleted room", "bob", gone, false},
			{"member who left", "bob", left, false},
			{"never-created room", "alice", "room-never", false},
			{"empty room id", "alice", "", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r, err := f.svc.Get(f.ctx, tc.actor, tc.roomID)
				cerr := f.svc.CheckMember(f.ctx, tc.actor, tc.roomID)
				if !tc.ok {
					if !errors.Is(err, chat.ErrRoomNotFound) || r != nil {
						t.Fatalf("Get = %+v, %v; want room_not_found", r, err)
					}
					wantErr(t, cerr, chat.CodeRoomNotFound, nil)
					return
				}
				if err != nil || cerr != nil {
					t.Fatalf("Get: %v; CheckMember: %v", err, cerr)
				}
				want := map[string]chat.Role{"alice": chat.RoleOwner, "carol": chat.RoleAdmin, "bob": chat.RoleMember}
				if r.ID != id || r.Name != "general" || r.Owner != "alice" || r.Version != 2 || !mapsEqual(r.Members, want) {
					t.Fatalf("Get = %+v; want every member listed", r)
				}
			})
		}
	})
}

func TestList(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		create := func(owner, name string, members ...string) string {
			r, err := f.svc.Create(f.ctx, owner, name, members)
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		list := func(u string) []store.RoomSummary {
			l, err := f.svc.List(f.ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		ids := func(l []store.RoomSummary) []string {
			out := []string{}
			for _, s := range l {
				out = append(out, s.RoomID)
			}
			return out
		}
		wantOrder := func(u string, want ...string) {
			t.Helper()
			if want == nil {
				want = []string{}
			}
			if got := ids(list(u)); !slices.Equal(got, want) {
				t.Fatalf("List(%s) = %v, want %v", u, got, want)
			}
		}

		wantOrder("alice")
		a := create("alice", "a")
		b := create("alice", "b", "bob")
		c := create("carol", "c", "alice")
		wantOrder("alice", c, b, a)
		wantOrder("bob", b)
		wantOrder("mallory")

		if _, err := f.svc.Rename(f.ctx, "alice", a, "a renamed"); err != nil {
			t.Fatal(err)
		}
		wantOrder("alice", a, c, b)

		if _, err := f.svc.Send(f.ctx, "bob", b, "m1", "hello"); err != nil {
			t.Fatal(err)
		}
		wantOrder("alice", b, a, c)

		// A refused command moves nothing.
		if _, err := f.svc.Rename(f.ctx, "bob", b, "nope"); err == nil {
			t.Fatal("a member renamed the room")
		}
		wantOrder("alice", b, a, c)

		// The summary says what the caller is and where the room stands.
		for _, s := range list("alice") {
			r, err := f.st.Room(f.ctx, s.RoomID)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != r.Name || s.Owner != r.Owner || s.Role != r.Members["alice"] || s.LastSeq != r.Version || !s.LastActivityAt.Equal(r.LastActivityAt) {
				t.Fatalf("summary %+v does not match the room %+v", s, r)
			}
		}
		if s := list("alice")[0]; s.Name != "b" || s.Role != chat.RoleOwner || s.LastSeq != 2 {
			t.Fatalf("summary of b = %+v", s)
		}
		if s := list("bob")[0]; s.Role != chat.RoleMember {
			t.Fatalf("bob's role in b = %s", s.Role)
		}

		// Removed and deleted rooms are listed nowhere.
		if _, err := f.svc.RemoveMember(f.ctx, "carol", c, "alice"); err != nil {
			t.Fatal(err)
		}
		wantOrder("alice", b, a)
		if _, err := f.svc.Delete(f.ctx, "alice", b); err != nil {
			t.Fatal(err)
		}
		wantOrder("alice", a)
		wantOrder("bob")
	})
}

func TestRename(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		long := strings.Repeat("ñ", chat.MaxRoomNameLen)
		for _, tc := range []struct {
			name, actor, newName string
			room                 func(t *testing.T) string
			code                 chat.Code // "" for success
			stored               string
		}{
			{"owner", "alice", "  Renamed  ", f.general, "", "Renamed"},
			{"admin", "carol", "by carol", f.general, "", "by carol"},
			{"longest name", "alice", long, f.general, "", long},
			{"same name again", "alice", "general", f.general, "", "general"},
			{"member", "bob", "by bob", f.shared, chat.CodeForbidden, ""},
			{"member with a bad name: body before role", "bob", "", f.shared, chat.CodeInvalidRoomName, ""},
			{"admin, empty name", "carol", "", f.shared, chat.CodeInvalidRoomName, ""},
			{"admin, blank name", "carol", "   ", f.shared, chat.CodeInvalidRoomName, ""},
			{"admin, name too long", "carol", long + "ñ", f.shared, chat.CodeInvalidRoomName, ""},
			{"admin, control character", "carol", "a\x1bb", f.shared, chat.CodeInvalidRoomName, ""},
			{"non-member", "mallory", "by mallory", f.shared, chat.CodeRoomNotFound, ""},
			{"non-member with a bad name: membership first", "mallory", "", f.shared, chat.CodeRoomNotFound, ""},
			{"deleted room", "alice", "again", f.sharedGone, chat.CodeRoomNotFound, ""},
			{"never-created room", "alice", "new", func(*testing.T) string { return "room-never" }, chat.CodeRoomNotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := tc.room(t)
				before := f.snap(t, id)
				ch, err := f.svc.Rename(f.ctx, tc.actor, id, tc.newName)
				if tc.code != "" {
					wantErr(t, err, tc.code, nil)
					f.unchanged(t, before)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				f.checkChange(t, before, ch, tc.actor, chat.RoomRenamed{Name: tc.stored})
				if ch.Room.Name != tc.stored {
					t.Fatalf("room name %q, want %q", ch.Room.Name, tc.stored)
				}
			})
		}
	})
}

func TestAddMembers(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name    string
			actor   string
			add     []string
			admin   bool
			want    []chat.EventData
			members map[string]chat.Role // changes to general's members
		}{
			{"admin adds members", "carol", []string{"Dave", "erin", "dave"}, false,
				[]chat.EventData{chat.MemberAdded{Member: "dave", Role: chat.RoleMember}, chat.MemberAdded{Member: "erin", Role: chat.RoleMember}},
				map[string]chat.Role{"dave": chat.RoleMember, "erin": chat.RoleMember}},
			{"owner adds an admin", "alice", []string{"dave"}, true,
				[]chat.EventData{chat.MemberAdded{Member: "dave", Role: chat.RoleAdmin}},
				map[string]chat.Role{"dave": chat.RoleAdmin}},
			{"admin promotes a member", "carol", []string{"bob"}, true,
				[]chat.EventData{chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}},
				map[string]chat.Role{"bob": chat.RoleAdmin}},
			{"promoting an admin changes nothing", "alice", []string{"carol"}, true, nil, nil},
			{"promoting the owner changes nothing", "carol", []string{"alice"}, true, nil, nil},
			{"promoting oneself as admin changes nothing", "carol", []string{"CAROL"}, true, nil, nil},
			{"promotion mixed with a newcomer and an admin", "carol", []string{"carol", "bob", "frank", "alice"}, true,
				[]chat.EventData{chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}, chat.MemberAdded{Member: "frank", Role: chat.RoleAdmin}},
				map[string]chat.Role{"bob": chat.RoleAdmin, "frank": chat.RoleAdmin}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := f.general(t)
				before := f.snap(t, id)
				ch, err := f.svc.AddMembers(f.ctx, tc.actor, id, tc.add, tc.admin)
				if err != nil {
					t.Fatal(err)
				}
				if len(tc.want) == 0 {
					if len(ch.Events) != 0 || ch.Room == nil || ch.Duplicate {
						t.Fatalf("change = %+v; want no events and the room", ch)
					}
					if d := mapsDiff(ch.Room.Members, before.room.Members); d != "" {
						t.Fatalf("returned members: %s", d)
					}
					f.unchanged(t, before)
					return
				}
				f.checkChange(t, before, ch, tc.actor, tc.want...)
				want := map[string]chat.Role{}
				for u, r := range before.room.Members {
					want[u] = r
				}
				for u, r := range tc.members {
					want[u] = r
					l, err := f.svc.List(f.ctx, u)
					if err != nil || !slices.ContainsFunc(l, func(s store.RoomSummary) bool { return s.RoomID == id && s.Role == r }) {
						t.Fatalf("List(%s) = %+v, %v; want the room with role %s", u, l, err, r)
					}
				}
				if d := mapsDiff(ch.Room.Members, want); d != "" {
					t.Fatalf("members: %s", d)
				}
			})
		}
	})
}

// TestAddMembersRefused follows the contract's order of checks: membership
// (404), the request's shape (400), role (403), then user_not_found before
// already_member before too_many_members; and a refused request stores
// nothing.
func TestAddMembersRefused(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		gone := f.deleted(t)
		tooMany := names("ghost_", chat.MaxMembersPerChange+1)
		for _, tc := range []struct {
			name   string
			actor  string
			roomID string
			add    []string
			admin  bool
			code   chat.Code
			names  []string
			// noLookups: refused on membership or shape, before any
			// user is looked up.
			noLookups bool
		}{
			{"non-member, malformed list", "mallory", id, []string{"b@d"}, false, chat.CodeRoomNotFound, nil, true},
			{"non-member, too many", "mallory", id, tooMany, false, chat.CodeRoomNotFound, nil, true},
			{"non-member, valid list", "mallory", id, []string{"dave"}, false, chat.CodeRoomNotFound, nil, true},
			{"no such account", "ghost", id, []string{"dave"}, true, chat.CodeRoomNotFound, nil, true},
			{"deleted room, owner", "alice", gone, []string{"dave"}, false, chat.CodeRoomNotFound, nil, true},
			{"never-created room", "alice", "room-never", []string{"b@d"}, false, chat.CodeRoomNotFound, nil, true},
			{"member, malformed list", "bob", id, []string{"dave", "b@d"}, false, chat.CodeInvalidUsername, []string{"b@d"}, true},
			{"member, empty name", "bob", id, []string{""}, false, chat.CodeInvalidUsername, []string{""}, true},
			{"member, too many", "bob", id, tooMany, false, chat.CodeTooManyMembers, nil, true},
			{"member, malformed and too many", "bob", id, append(slices.Clone(tooMany), "b@d"), false, chat.CodeInvalidUsername, []string{"b@d"}, true},
			{"member, valid list", "bob", id, []string{"dave"}, false, chat.CodeForbidden, nil, false},
			{"member, unknown user", "bob", id, []string{"ghost"}, false, chat.CodeForbidden, nil, false},
			{"member, existing member", "bob", id, []string{"carol"}, false, chat.CodeForbidden, nil, false},
			{"member promoting themself", "bob", id, []string{"bob"}, true, chat.CodeForbidden, nil, false},
			{"admin, malformed list", "carol", id, []string{"x"}, false, chat.CodeInvalidUsername, []string{"x"}, true},
			{"admin, too many", "carol", id, tooMany, true, chat.CodeTooManyMembers, nil, true},
			{"admin, unknown before already member", "carol", id, []string{"ghost", "bob", "dave"}, false, chat.CodeUserNotFound, []string{"ghost"}, false},
			{"admin, unknown users named exactly", "carol", id, []string{"Ghost", "dave", "nobody", "ghost"}, false, chat.CodeUserNotFound, []string{"ghost", "nobody"}, false},
			{"admin, unknown with admin set", "carol", id, []string{"bob", "ghost"}, true, chat.CodeUserNotFound, []string{"ghost"}, false},
			{"admin, existing members named exactly", "carol", id, []string{"dave", "bob", "Alice"}, false, chat.CodeAlreadyMember, []string{"bob", "alice"}, false},
			{"owner, an admin without admin set", "alice", id, []string{"carol"}, false, chat.CodeAlreadyMember, []string{"carol"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := f.snap(t, tc.roomID)
				f.h.counts()
				ch, err := f.svc.AddMembers(f.ctx, tc.actor, tc.roomID, tc.add, tc.admin)
				wantErr(t, err, tc.code, tc.names)
				if ch.Room != nil || len(ch.Events) != 0 {
					t.Fatalf("refused AddMembers returned %+v", ch)
				}
				_, appends, lookups := f.h.counts()
				if appends != 0 {
					t.Fatalf("%d appends for a refused command", appends)
				}
				if tc.noLookups && lookups != 0 {
					t.Fatalf("%d user look-ups before the request was refused on its shape or membership", lookups)
				}
				f.unchanged(t, before)
			})
		}
	})
}

// TestAddMembersRoomFull fills a room to the brim and checks the cap comes
// last in the order of checks.
func TestAddMembersRoomFull(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		// Fill to one short of the cap straight through the store: the
		// fillers need no accounts there.
		fillers := make([]string, 0, chat.MaxMembers)
		for i := 0; len(fillers) < chat.MaxMembers-1-3; i++ {
			fillers = append(fillers, fmt.Sprintf("filler_%04d", i))
		}
		r, err := f.st.Room(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for batch := range slices.Chunk(fillers, chat.MaxMembersPerChange) {
			events, err := r.AddMembers("alice", batch, false, func(string) bool { return true }, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.st.Append(f.ctx, store.AppendRequest{RoomID: id, ExpectedVersion: r.Version, Events: events}); err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if err := r.Apply(e); err != nil {
					t.Fatal(err)
				}
			}
		}
		size := func() int {
			r, err := f.st.Room(f.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return len(r.Members)
		}
		if n := size(); n != chat.MaxMembers-1 {
			t.Fatalf("%d members, want %d", n, chat.MaxMembers-1)
		}
		// The thousandth fits.
		if _, err := f.svc.AddMembers(f.ctx, "carol", id, []string{"dave"}, false); err != nil {
			t.Fatalf("adding member %d: %v", chat.MaxMembers, err)
		}
		// Every refusal below leaves the room as it is now.
		full := f.snap(t, id)
		for _, tc := range []struct {
			name  string
			add   []string
			admin bool
			code  chat.Code
			names []string
		}{
			{"one more", []string{"erin"}, false, chat.CodeTooManyMembers, nil},
			{"unknown before already member before full", []string{"erin", "bob", "ghost"}, false, chat.CodeUserNotFound, []string{"ghost"}},
			{"already member before full", []string{"bob", "erin"}, false, chat.CodeAlreadyMember, []string{"bob"}},
			{"promotion with a newcomer", []string{"bob", "erin"}, true, chat.CodeTooManyMembers, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.AddMembers(f.ctx, "carol", id, tc.add, tc.admin)
				wantErr(t, err, tc.code, tc.names)
				f.unchanged(t, full)
			})
		}
		// A promotion adds nobody, so a full room allows it.
		before := full
		ch, err := f.svc.AddMembers(f.ctx, "carol", id, []string{"bob"}, true)
		if err != nil {
			t.Fatalf("promotion in a full room: %v", err)
		}
		f.checkChange(t, before, ch, "carol", chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin})
		// Someone leaves, and there is room again.
		if _, err := f.svc.RemoveMember(f.ctx, "dave", id, "dave"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AddMembers(f.ctx, "bob", id, []string{"erin"}, false); err != nil {
			t.Fatalf("adding after a leave: %v", err)
		}
		if n := size(); n != chat.MaxMembers {
			t.Fatalf("%d members, want %d", n, chat.MaxMembers)
		}
	})
}

func TestRemoveMember(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		for _, tc := range []struct {
			name, actor, member string
			room                func(t *testing.T) string
			code                chat.Code // "" for success
			names               []string
			removed             string
		}{
			{"admin removes a member", "carol", "bob", f.general, "", nil, "bob"},
			{"owner removes an admin", "alice", "carol", f.general, "", nil, "carol"},
			{"member removes themself", "bob", "bob", f.general, "", nil, "bob"},
			{"member removes themself in capitals", "bob", "BOB", f.general, "", nil, "bob"},
			{"admin removes themself", "carol", "carol", f.general, "", nil, "carol"},
			{"owner removes themself", "alice", "alice", f.shared, chat.CodeForbidden, nil, ""},
			{"admin removes the owner", "carol", "alice", f.shared, chat.CodeForbidden, nil, ""},
			{"admin removes the owner in capitals", "carol", "Alice", f.shared, chat.CodeForbidden, nil, ""},
			{"member removes another", "bob", "carol", f.shared, chat.CodeForbidden, nil, ""},
			{"member removes a non-member: role first", "bob", "dave", f.shared, chat.CodeForbidden, nil, ""},
			{"member removes the owner", "bob", "alice", f.shared, chat.CodeForbidden, nil, ""},
			{"admin removes a non-member", "carol", "dave", f.shared, chat.CodeUserNotFound, []string{"dave"}, ""},
			{"admin removes no such account", "carol", "ghost", f.shared, chat.CodeUserNotFound, []string{"ghost"}, ""},
			{"admin removes a malformed name", "carol", "b@d", f.shared, chat.CodeUserNotFound, []string{"b@d"}, ""},
			{"non-member removes a member", "mallory", "bob", f.shared, chat.CodeRoomNotFound, nil, ""},
			{"non-member removes themself", "mallory", "mallory", f.shared, chat.CodeRoomNotFound, nil, ""},
			{"deleted room", "alice", "bob", f.sharedGone, chat.CodeRoomNotFound, nil, ""},
			{"never-created room", "alice", "bob", func(*testing.T) string { return "room-never" }, chat.CodeRoomNotFound, nil, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := tc.room(t)
				before := f.snap(t, id)
				ch, err := f.svc.RemoveMember(f.ctx, tc.actor, id, tc.member)
				if tc.code != "" {
					wantErr(t, err, tc.code, tc.names)
					f.unchanged(t, before)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				f.checkChange(t, before, ch, tc.actor, chat.MemberRemoved{Member: tc.removed})
				if _, ok := ch.Room.Members[tc.removed]; ok {
					t.Fatalf("%s is still a member: %v", tc.removed, ch.Room.Members)
				}
				if _, err := f.svc.Get(f.ctx, tc.removed, id); !errors.Is(err, chat.ErrRoomNotFound) {
					t.Fatalf("Get by the removed member: %v; want room_not_found", err)
				}
				l, err := f.svc.List(f.ctx, tc.removed)
				if err != nil || slices.ContainsFunc(l, func(s store.RoomSummary) bool { return s.RoomID == id }) {
					t.Fatalf("List of the removed member: %+v, %v; want the room gone", l, err)
				}
			})
		}
	})
}

func TestDelete(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		t.Run("owner", func(t *testing.T) {
			id := f.general(t)
			before := f.snap(t, id)
			ch, err := f.svc.Delete(f.ctx, "alice", id)
			if err != nil {
				t.Fatal(err)
			}
			f.checkChange(t, before, ch, "alice", chat.RoomDeleted{})
			if !ch.Room.Deleted || len(ch.Room.Members) != 0 {
				t.Fatalf("room after delete = %+v", ch.Room)
			}
			// Afterwards the room is room_not_found everywhere, for everyone.
			for _, u := range []string{"alice", "carol", "bob", "mallory"} {
				if _, err := f.svc.Get(f.ctx, u, id); !errors.Is(err, chat.ErrRoomNotFound) {
					t.Fatalf("Get(%s): %v", u, err)
				}
				if err := f.svc.CheckMember(f.ctx, u, id); !errors.Is(err, chat.ErrRoomNotFound) {
					t.Fatalf("CheckMember(%s): %v", u, err)
				}
				if _, err := f.svc.Events(f.ctx, u, id, rooms.Page{Limit: 50}); !errors.Is(err, chat.ErrRoomNotFound) {
					t.Fatalf("Events(%s): %v", u, err)
				}
				if l, err := f.svc.List(f.ctx, u); err != nil || len(l) != 0 {
					t.Fatalf("List(%s) = %+v, %v", u, l, err)
				}
			}
			after := f.snap(t, id)
			for _, cmd := range []struct {
				name string
				run  func() error
			}{
				{"delete again", func() error { _, err := f.svc.Delete(f.ctx, "alice", id); return err }},
				{"rename", func() error { _, err := f.svc.Rename(f.ctx, "alice", id, "back"); return err }},
				{"add", func() error { _, err := f.svc.AddMembers(f.ctx, "alice", id, []string{"dave"}, false); return err }},
				{"remove", func() error { _, err := f.svc.RemoveMember(f.ctx, "carol", id, "bob"); return err }},
				{"send", func() error { _, err := f.svc.Send(f.ctx, "bob", id, "c1", "hello?"); return err }},
			} {
				wantErr(t, cmd.run(), chat.CodeRoomNotFound, nil)
				f.unchanged(t, after)
			}
		})
		for _, tc := range []struct {
			name, actor string
			room        func(t *testing.T) string
			code        chat.Code
		}{
			{"admin", "carol", f.shared, chat.CodeForbidden},
			{"member", "bob", f.shared, chat.CodeForbidden},
			{"non-member", "mallory", f.shared, chat.CodeRoomNotFound},
			{"never-created room", "alice", func(*testing.T) string { return "room-never" }, chat.CodeRoomNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := tc.room(t)
				before := f.snap(t, id)
				_, err := f.svc.Delete(f.ctx, tc.actor, id)
				wantErr(t, err, tc.code, nil)
				f.unchanged(t, before)
			})
		}
	})
}

func TestEvents(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t) // seq 1 room_created, seq 2 carol promoted
		for i := range 8 {
			f.message(t, id, []string{"alice", "bob", "carol"}[i%3], "c"+itoa(i)) // seqs 3 to 10
		}
		all := f.stream(t, id)
		if len(all) != 10 {
			t.Fatalf("%d events, want 10", len(all))
		}
		ptr := func(n int64) *int64 { return &n }
		for _, tc := range []struct {
			name     string
			page     rooms.Page
			from, to int64 // seqs expected; from > to for none
			hasMore  bool
		}{
			{"newest page", rooms.Page{Limit: 3}, 8, 10, true},
			{"newest page, all of it", rooms.Page{Limit: 10}, 1, 10, false},
			{"newest page, more than all", rooms.Page{Limit: 200}, 1, 10, false},
			{"before 8", rooms.Page{Before: ptr(8), Limit: 3}, 5, 7, true},
			{"before 4, exactly the rest", rooms.Page{Before: ptr(4), Limit: 3}, 1, 3, false},
			{"before 3, fewer than the limit", rooms.Page{Before: ptr(3), Limit: 5}, 1, 2, false},
			{"before 2", rooms.Page{Before: ptr(2), Limit: 5}, 1, 1, false},
			{"before 1", rooms.Page{Before: ptr(1), Limit: 5}, 1, 0, false},
			{"before 0", rooms.Page{Before: ptr(0), Limit: 5}, 1, 0, false},
			{"before past the newest", rooms.Page{Before: ptr(100), Limit: 3}, 8, 10, true},
			{"before the newest plus one", rooms.Page{Before: ptr(11), Limit: 3}, 8, 10, true},
			{"after 0", rooms.Page{After: ptr(0), Limit: 4}, 1, 4, true},
			{"after 4", rooms.Page{After: ptr(4), Limit: 3}, 5, 7, true},
			{"after 7, exactly the rest", rooms.Page{After: ptr(7), Limit: 3}, 8, 10, false},
			{"after 6, fewer than the limit", rooms.Page{After: ptr(6), Limit: 50}, 7, 10, false},
			{"after the newest", rooms.Page{After: ptr(10), Limit: 5}, 1, 0, false},
			{"after past the newest", rooms.Page{After: ptr(50), Limit: 5}, 1, 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// bob, a plain member, reads like anyone else in the room.
				p, err := f.svc.Events(f.ctx, "bob", id, tc.page)
				if err != nil {
					t.Fatal(err)
				}
				var want []chat.Event
				if tc.from <= tc.to {
					want = all[tc.from-1 : tc.to]
				}
				if d := diffEvents(want, p.Events); d != "" {
					t.Fatal(d)
				}
				if p.HasMore != tc.hasMore {
					t.Fatalf("has_more = %v, want %v", p.HasMore, tc.hasMore)
				}
			})
		}

		gone := f.deleted(t)
		left := f.general(t)
		if _, err := f.svc.RemoveMember(f.ctx, "carol", left, "bob"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, actor, roomID string
		}{
			{"non-member", "mallory", id},
			{"no such account", "ghost", id},
			{"removed member", "bob", left},
			{"deleted room", "alice", gone},
			{"never-created room", "alice", "room-never"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, page := range []rooms.Page{{Limit: 5}, {Before: ptr(3), Limit: 5}, {After: ptr(0), Limit: 5}} {
					p, err := f.svc.Events(f.ctx, tc.actor, tc.roomID, page)
					wantErr(t, err, chat.CodeRoomNotFound, nil)
					if len(p.Events) != 0 || p.HasMore {
						t.Fatalf("refused page leaks %+v", p)
					}
				}
			})
		}
	})
}

// TestEventsPagesThroughEverything walks a stream both ways with a small
// page and finds every event once.
func TestEventsPagesThroughEverything(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		id := f.general(t)
		for i := range 15 {
			f.message(t, id, "bob", "p"+itoa(i))
		}
		all := f.stream(t, id)
		var back []chat.Event
		page := rooms.Page{Limit: 4}
		for {
			p, err := f.svc.Events(f.ctx, "bob", id, page)
			if err != nil {
				t.Fatal(err)
			}
			back = append(slices.Clone(p.Events), back...)
			if !p.HasMore {
				break
			}
			first := p.Events[0].Seq
			page.Before = &first
		}
		if d := diffEvents(all, back); d != "" {
			t.Fatalf("backwards: %s", d)
		}
		var fwd []chat.Event
		var after int64
		for {
			p, err := f.svc.Events(f.ctx, "bob", id, rooms.Page{After: &after, Limit: 4})
			if err != nil {
				t.Fatal(err)
			}
			fwd = append(fwd, p.Events...)
			if !p.HasMore {
				break
			}
			after = p.Events[len(p.Events)-1].Seq
		}
		if d := diffEvents(all, fwd); d != "" {
			t.Fatalf("forwards: %s", d)
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func mapsEqual(a, b map[string]chat.Role) bool { return mapsDiff(a, b) == "" }

func mapsDiff(got, want map[string]chat.Role) string {
	for u, r := range want {
		if got[u] != r {
			return u + " is " + string(got[u]) + ", want " + string(r)
		}
	}
	for u := range got {
		if _, ok := want[u]; !ok {
			return u + " should not be a member"
		}
	}
	return ""
}

// equalData compares room_created data, where no members and an empty
// list are the same.
func equalData(a chat.EventData, b chat.RoomCreated) bool {
	ca, ok := a.(chat.RoomCreated)
	return ok && ca.Name == b.Name && slices.Equal(ca.Members, b.Members)
}

// TestCreateIsRateLimited: one person creates at most
// MaxRoomsCreatedPerHour rooms in a clock hour; a refused creation stores
// nothing, and others are not affected.
func TestCreateIsRateLimited(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		for i := range rooms.MaxRoomsCreatedPerHour {
			if _, err := f.svc.Create(f.ctx, "mallory", fmt.Sprintf("spam %d", i), []string{"bob"}); err != nil {
				t.Fatalf("room %d: %v", i+1, err)
			}
		}
		_, err := f.svc.Create(f.ctx, "mallory", "one too many", []string{"bob"})
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != "rate_limited" {
			t.Fatalf("room %d: %v, want rate_limited", rooms.MaxRoomsCreatedPerHour+1, err)
		}
		if got, err := f.svc.List(f.ctx, "bob"); err != nil || len(got) != rooms.MaxRoomsCreatedPerHour {
			t.Fatalf("bob's list has %d rooms (%v), want %d", len(got), err, rooms.MaxRoomsCreatedPerHour)
		}
		if _, err := f.svc.Create(f.ctx, "alice", "mine", nil); err != nil {
			t.Fatalf("another person: %v", err)
		}
		f.clock.n.Add(int64(time.Hour / time.Second))
		if _, err := f.svc.Create(f.ctx, "mallory", "next hour", nil); err != nil {
			t.Fatalf("in the next hour: %v", err)
		}
	})
}
