package chat_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

// Fixture: room r1 at version 3. alice owns it, dave and erin are admins,
// bob and carol are members. frank and grace have accounts but are not in
// the room; zed and yuri have no account.
var known = accounts("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")

func fixtureEvents() []chat.Event {
	return []chat.Event{
		ev(1, "alice", chat.RoomCreated{Name: "General", Members: []string{"bob", "carol", "dave", "erin"}}),
		ev(2, "alice", chat.MemberAdded{Member: "dave", Role: chat.RoleAdmin}),
		ev(3, "alice", chat.MemberAdded{Member: "erin", Role: chat.RoleAdmin}),
	}
}

func fixture(t testing.TB) *chat.Room { return replay(t, "r1", fixtureEvents()...) }

// deletedFixture is the fixture after alice deleted it (version 4).
func deletedFixture(t testing.TB) *chat.Room {
	return replay(t, "r1", append(fixtureEvents(), ev(4, "alice", chat.RoomDeleted{}))...)
}

// neverCreated is a room with no events.
func neverCreated(testing.TB) *chat.Room { return chat.NewRoom("r1") }

// bigRoom is a room owned by alice with bob a member, dave an admin, and
// generated members u0001... up to n members in all.
func bigRoom(t testing.TB, n int) *chat.Room {
	members := append([]string{"bob", "dave"}, memberNames(n-3)...)
	r := replay(t, "r1",
		ev(1, "alice", chat.RoomCreated{Name: "Big", Members: members}),
		ev(2, "alice", chat.MemberAdded{Member: "dave", Role: chat.RoleAdmin}),
	)
	if len(r.Members) != n {
		t.Fatalf("bigRoom has %d members, want %d", len(r.Members), n)
	}
	return r
}

// atIn is the time commands are given: not UTC, with nanoseconds. atOut is
// what their events must carry: UTC, cut to the millisecond.
var (
	atIn  = time.Date(2026, 11, 21, 12, 0, 0, 123_456_789, time.FixedZone("EET", 2*3600))
	atOut = time.Date(2026, 11, 21, 10, 0, 0, 123_000_000, time.UTC)
)

// out builds an event as a command on room r1 must produce it.
func out(seq int64, actor string, data chat.EventData) chat.Event {
	return chat.Event{RoomID: "r1", Seq: seq, Username: actor, At: atOut, Data: data}
}

// cmdCase is one command run against a room: either it is refused with
// wantErr (and Usernames wantNames, when set) or it yields want.
type cmdCase struct {
	name      string
	room      func(testing.TB) *chat.Room // default: fixture
	run       func(r *chat.Room) ([]chat.Event, error)
	want      []chat.Event
	wantErr   *chat.Error
	wantNames []string
	// check, if set, is called with the room after applying the events.
	check func(t *testing.T, r *chat.Room)
	skip  string
}

func runCmdCases(t *testing.T, tests []cmdCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			build := tc.room
			if build == nil {
				build = fixture
			}
			r := build(t)
			before := cloneRoom(r)
			events, err := tc.run(r)

			// A command never changes the room it is given, refused or not:
			// the caller appends and applies its events.
			if !reflect.DeepEqual(r, before) {
				t.Fatalf("the command changed the room:\n got %#v\nwant %#v", r, before)
			}

			if tc.wantErr != nil {
				checkErr(t, err, tc.wantErr)
				if events != nil {
					t.Errorf("refused command returned events %v", events)
				}
				if tc.wantNames != nil {
					if got := errUsernames(t, err); !slices.Equal(got, tc.wantNames) {
						t.Errorf("Usernames = %q, want exactly %q", got, tc.wantNames)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(events) != len(tc.want) || (len(events) > 0 && !reflect.DeepEqual(events, tc.want)) {
				t.Fatalf("events:\n got %#v\nwant %#v", events, tc.want)
			}
			for i, e := range events {
				if e.Seq != r.Version+int64(i)+1 {
					t.Errorf("event %d has seq %d, want %d", i, e.Seq, r.Version+int64(i)+1)
				}
			}
			for _, e := range events {
				if err := r.Apply(e); err != nil {
					t.Fatalf("Apply(%+v): %v", e, err)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// hasRoles checks the room's members are exactly want.
func hasRoles(want map[string]chat.Role) func(*testing.T, *chat.Room) {
	return func(t *testing.T, r *chat.Room) {
		t.Helper()
		if !maps.Equal(r.Members, want) {
			t.Errorf("members = %v, want %v", r.Members, want)
		}
	}
}

func fixtureRolesWith(changes map[string]chat.Role, removed ...string) map[string]chat.Role {
	m := map[string]chat.Role{"alice": chat.RoleOwner, "dave": chat.RoleAdmin, "erin": chat.RoleAdmin, "bob": chat.RoleMember, "carol": chat.RoleMember}
	maps.Copy(m, changes)
	for _, u := range removed {
		delete(m, u)
	}
	return m
}

func TestReplay(t *testing.T) {
	created := ev(1, "alice", chat.RoomCreated{Name: "General", Members: []string{"bob"}})
	tests := []struct {
		name   string
		events []chat.Event
		want   chat.Room
	}{
		{
			name:   "empty stream: not created",
			events: nil,
			want:   chat.Room{ID: "r1", Members: map[string]chat.Role{}},
		},
		{
			name:   "room_created",
			events: []chat.Event{created},
			want: chat.Room{ID: "r1", Name: "General", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(time.Second),
				Members: map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember}, Version: 1},
		},
		{
			name:   "room_created listing the owner keeps the owner",
			events: []chat.Event{ev(1, "alice", chat.RoomCreated{Name: "n", Members: []string{"alice", "bob"}})},
			want: chat.Room{ID: "r1", Name: "n", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(time.Second),
				Members: map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember}, Version: 1},
		},
		{
			name:   "room_created with null members",
			events: []chat.Event{ev(1, "alice", chat.RoomCreated{Name: "n"})},
			want: chat.Room{ID: "r1", Name: "n", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(time.Second),
				Members: map[string]chat.Role{"alice": chat.RoleOwner}, Version: 1},
		},
		{
			name: "rename, add, promote, remove",
			events: []chat.Event{
				created,
				ev(2, "alice", chat.RoomRenamed{Name: "Renamed"}),
				ev(3, "alice", chat.MemberAdded{Member: "carol", Role: chat.RoleMember}),
				ev(4, "alice", chat.MemberAdded{Member: "bob", Role: chat.RoleAdmin}),
				ev(5, "bob", chat.MemberAdded{Member: "dave", Role: chat.RoleAdmin}),
				ev(6, "bob", chat.MemberRemoved{Member: "carol"}),
			},
			want: chat.Room{ID: "r1", Name: "Renamed", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(6 * time.Second),
				Members: map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleAdmin, "dave": chat.RoleAdmin}, Version: 6},
		},
		{
			name: "joins, messages and leaves move the version; only the message is activity",
			events: []chat.Event{
				created,
				ev(2, "bob", chat.UserJoined{}),
				ev(3, "bob", chat.MessageSent{MessageID: "m1", ClientMsgID: "c1", Text: "hi"}),
				ev(4, "bob", chat.UserLeft{}),
			},
			want: chat.Room{ID: "r1", Name: "General", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(3 * time.Second),
				Members: map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember}, Version: 4, Messages: 1},
		},
		{
			name:   "room_deleted: no members, not existing",
			events: []chat.Event{created, ev(2, "alice", chat.RoomDeleted{})},
			want: chat.Room{ID: "r1", Name: "General", Owner: "alice", CreatedAt: at(time.Second), LastActivityAt: at(2 * time.Second),
				Members: map[string]chat.Role{}, Version: 2, Deleted: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := replay(t, "r1", tc.events...)
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("Replay:\n got %#v\nwant %#v", *got, tc.want)
			}
			// Exists, RoleOf and CheckMember agree with the state.
			wantExists := tc.want.Version > 0 && !tc.want.Deleted
			if got.Exists() != wantExists {
				t.Errorf("Exists() = %v, want %v", got.Exists(), wantExists)
			}
			for _, u := range []string{"alice", "bob", "carol", "dave", "zed"} {
				role, ok := got.RoleOf(u)
				wantRole, wantOK := tc.want.Members[u]
				if role != wantRole || ok != wantOK {
					t.Errorf("RoleOf(%s) = %q, %v; want %q, %v", u, role, ok, wantRole, wantOK)
				}
				role, err := got.CheckMember(u)
				if wantOK {
					if err != nil || role != wantRole {
						t.Errorf("CheckMember(%s) = %q, %v; want %q", u, role, err, wantRole)
					}
				} else {
					checkErr(t, err, chat.ErrRoomNotFound)
				}
			}
		})
	}
}

func TestApplyOnZeroRoom(t *testing.T) {
	var r chat.Room // Members nil
	if err := r.Apply(ev(1, "alice", chat.RoomCreated{Name: "n", Members: []string{"bob"}})); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(r.Members, map[string]chat.Role{"alice": chat.RoleOwner, "bob": chat.RoleMember}) {
		t.Errorf("members = %v", r.Members)
	}
}

func TestDeletedRoomHasNoMembers(t *testing.T) {
	r := deletedFixture(t)
	if len(r.Members) != 0 || len(r.MemberList()) != 0 {
		t.Errorf("deleted room still lists members: %v", r.Members)
	}
	for _, u := range []string{"alice", "dave", "bob"} {
		if _, ok := r.RoleOf(u); ok {
			t.Errorf("RoleOf(%s) reports a role in a deleted room", u)
		}
	}
	// Even if a caller put someone back in the map, a deleted room does not
	// answer for them.
	r.Members["alice"] = chat.RoleOwner
	if _, err := r.CheckMember("alice"); err == nil {
		t.Error("CheckMember succeeded on a deleted room")
	}
}

func TestApplyRefuses(t *testing.T) {
	created := ev(1, "alice", chat.RoomCreated{Name: "n", Members: []string{"bob"}})
	tests := []struct {
		name   string
		prefix []chat.Event
		next   chat.Event
	}{
		{"first event with seq 2", nil, ev(2, "alice", chat.RoomCreated{Name: "n"})},
		{"first event with seq 0", nil, ev(0, "alice", chat.RoomCreated{Name: "n"})},
		{"negative seq", nil, ev(-1, "alice", chat.RoomCreated{Name: "n"})},
		{"seq 1 is not room_created", nil, ev(1, "alice", chat.MessageSent{Text: "x"})},
		{"seq 1 is room_deleted", nil, ev(1, "alice", chat.RoomDeleted{})},
		{"seq 1 is member_added", nil, ev(1, "alice", chat.MemberAdded{Member: "alice", Role: chat.RoleOwner})},
		{"room_created again at seq 2", []chat.Event{created}, ev(2, "bob", chat.RoomCreated{Name: "mine"})},
		{"gap", []chat.Event{created}, ev(3, "bob", chat.UserJoined{})},
		{"repeat", []chat.Event{created}, ev(1, "bob", chat.UserJoined{})},
		{"going back", []chat.Event{created, ev(2, "bob", chat.UserJoined{}), ev(3, "bob", chat.UserLeft{})}, ev(2, "bob", chat.UserJoined{})},
		{"after room_deleted", []chat.Event{created, ev(2, "alice", chat.RoomDeleted{})}, ev(3, "alice", chat.UserJoined{})},
		{"room_deleted after room_deleted", []chat.Event{created, ev(2, "alice", chat.RoomDeleted{})}, ev(3, "alice", chat.RoomDeleted{})},
		{"room_created after room_deleted", []chat.Event{created, ev(2, "alice", chat.RoomDeleted{})}, ev(3, "alice", chat.RoomCreated{Name: "again"})},
		{"after room_deleted with a gap", []chat.Event{created, ev(2, "alice", chat.RoomDeleted{})}, ev(5, "alice", chat.UserJoined{})},
		{"data by pointer is not an event of the stream", []chat.Event{created}, ev(2, "alice", &chat.RoomRenamed{Name: "p"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := replay(t, "r1", tc.prefix...)
			before := cloneRoom(r)
			if err := r.Apply(tc.next); err == nil {
				t.Fatalf("Apply(%+v) succeeded", tc.next)
			} else if _, ok := chat.CodeOf(err); ok {
				t.Errorf("a broken stream is an internal failure, not a rule violation: %v", err)
			}
			if !reflect.DeepEqual(r, before) {
				t.Errorf("refused Apply changed the room:\n got %#v\nwant %#v", r, before)
			}
			if _, err := chat.Replay("r1", append(slices.Clone(tc.prefix), tc.next)); err == nil {
				t.Error("Replay accepted the stream")
			}
		})
	}
}

// TestApplyWithoutData: an event with no data is a broken stream, to be
// refused with an error like any other.
func TestApplyWithoutData(t *testing.T) {
	for _, r := range []*chat.Room{chat.NewRoom("r1"), fixture(t)} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("Apply of an event without data panicked: %v", p)
				}
			}()
			if err := r.Apply(chat.Event{Seq: r.Version + 1, Username: "alice", At: t0}); err == nil {
				t.Error("Apply of an event without data succeeded")
			}
		}()
	}
}

func TestMemberList(t *testing.T) {
	r := replay(t, "r1",
		ev(1, "mallory", chat.RoomCreated{Name: "n", Members: []string{"zoe", "bob", "adam", "carl", "yan"}}),
		ev(2, "mallory", chat.MemberAdded{Member: "yan", Role: chat.RoleAdmin}),
		ev(3, "mallory", chat.MemberAdded{Member: "carl", Role: chat.RoleAdmin}),
	)
	want := []chat.Member{
		{Username: "mallory", Role: chat.RoleOwner},
		{Username: "carl", Role: chat.RoleAdmin},
		{Username: "yan", Role: chat.RoleAdmin},
		{Username: "adam", Role: chat.RoleMember},
		{Username: "bob", Role: chat.RoleMember},
		{Username: "zoe", Role: chat.RoleMember},
	}
	for range 5 { // map order varies: the list must not
		if got := r.MemberList(); !reflect.DeepEqual(got, want) {
			t.Fatalf("MemberList() = %v, want %v", got, want)
		}
	}
	if got := chat.NewRoom("x").MemberList(); got == nil || len(got) != 0 {
		t.Errorf("MemberList of a new room = %#v, want an empty list", got)
	}
}

func TestRoleCanManage(t *testing.T) {
	for role, want := range map[chat.Role]bool{chat.RoleOwner: true, chat.RoleAdmin: true, chat.RoleMember: false, "": false, "root": false} {
		if got := role.CanManage(); got != want {
			t.Errorf("%q.CanManage() = %v, want %v", role, got, want)
		}
	}
}

func TestCreateRoom(t *testing.T) {
	tests := []struct {
		name      string
		owner     string
		roomName  string
		members   []string
		exists    chat.UserExists
		want      chat.RoomCreated
		wantErr   *chat.Error
		wantNames []string
	}{
		{name: "no members", owner: "alice", roomName: "General", want: chat.RoomCreated{Name: "General", Members: []string{}}},
		{name: "name trimmed", owner: "alice", roomName: "  General \n", want: chat.RoomCreated{Name: "General", Members: []string{}}},
		{name: "members folded, deduplicated, in order", owner: "alice", roomName: "n", members: []string{"Carol", "bob", "CAROL", "BOB"},
			want: chat.RoomCreated{Name: "n", Members: []string{"carol", "bob"}}},
		{name: "owner listed is dropped", owner: "alice", roomName: "n", members: []string{"bob", "ALICE", "alice"},
			want: chat.RoomCreated{Name: "n", Members: []string{"bob"}}},
		{name: "only the owner listed", owner: "alice", roomName: "n", members: []string{"alice"}, want: chat.RoomCreated{Name: "n", Members: []string{}}},
		{name: "49 members", owner: "alice", roomName: "n", members: memberNames(49), exists: everyone,
			want: chat.RoomCreated{Name: "n", Members: memberNames(49)}},
		{name: "100 code point name", owner: "alice", roomName: strings.Repeat("\u00e9", 100), want: chat.RoomCreated{Name: strings.Repeat("\u00e9", 100), Members: []string{}}},

		{name: "empty name", owner: "alice", roomName: "", wantErr: chat.ErrInvalidRoomName},
		{name: "blank name", owner: "alice", roomName: "   ", wantErr: chat.ErrInvalidRoomName},
		{name: "control in name", owner: "alice", roomName: "a\x7fb", wantErr: chat.ErrInvalidRoomName},
		{name: "101 code point name", owner: "alice", roomName: strings.Repeat("\u00e9", 101), wantErr: chat.ErrInvalidRoomName},
		{name: "invalid member name", owner: "alice", roomName: "n", members: []string{"bob", "b b"}, wantErr: chat.ErrInvalidUsername, wantNames: []string{"b b"}},
		{name: "kelvin sign member", owner: "alice", roomName: "n", members: []string{"\u212Aate"}, wantErr: chat.ErrInvalidUsername, wantNames: []string{"\u212Aate"}},
		{name: "50 members", owner: "alice", roomName: "n", members: memberNames(50), exists: everyone, wantErr: chat.ErrTooManyMembers},
		{name: "unknown members named, known ones not", owner: "alice", roomName: "n", members: []string{"zed", "bob", "Yuri", "carol"},
			wantErr: chat.ErrUserNotFound, wantNames: []string{"zed", "yuri"}},

		// Ordering: body (400) checks come before user_not_found.
		{name: "bad name before unknown members", owner: "alice", roomName: "", members: []string{"zed"}, wantErr: chat.ErrInvalidRoomName},
		{name: "bad name before bad member name", owner: "alice", roomName: "a\nb", members: []string{"!"}, wantErr: chat.ErrInvalidRoomName},
		{name: "bad name before too many", owner: "alice", roomName: "", members: memberNames(50), wantErr: chat.ErrInvalidRoomName},
		{name: "bad member name before unknown", owner: "alice", roomName: "n", members: []string{"zed", "!"}, wantErr: chat.ErrInvalidUsername},
		{name: "too many before unknown", owner: "alice", roomName: "n", members: append([]string{"zed"}, memberNames(49)...), exists: everyone, wantErr: chat.ErrTooManyMembers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exists := tc.exists
			if exists == nil {
				exists = known
			}
			events, err := chat.CreateRoom("r1", tc.owner, tc.roomName, tc.members, exists, atIn)
			if tc.wantErr != nil {
				checkErr(t, err, tc.wantErr)
				if events != nil {
					t.Errorf("refused creation returned events %v", events)
				}
				if tc.wantNames != nil {
					if got := errUsernames(t, err); !slices.Equal(got, tc.wantNames) {
						t.Errorf("Usernames = %q, want exactly %q", got, tc.wantNames)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("CreateRoom: %v", err)
			}
			want := []chat.Event{out(1, tc.owner, tc.want)}
			if !reflect.DeepEqual(events, want) {
				t.Fatalf("events:\n got %#v\nwant %#v", events, want)
			}
			r := replay(t, "r1", events...)
			if !r.Exists() || r.Owner != tc.owner || r.Name != tc.want.Name || !r.CreatedAt.Equal(atOut) || r.Version != 1 {
				t.Errorf("room after creation: %#v", r)
			}
			if role, _ := r.RoleOf(tc.owner); role != chat.RoleOwner {
				t.Errorf("owner's role = %q", role)
			}
			if len(r.Members) != len(tc.want.Members)+1 {
				t.Errorf("room has %d members, want %d", len(r.Members), len(tc.want.Members)+1)
			}
			for _, m := range tc.want.Members {
				if role, _ := r.RoleOf(m); role != chat.RoleMember {
					t.Errorf("RoleOf(%s) = %q, want member", m, role)
				}
			}
		})
	}
}

// TestCreatedMembersOnTheWire pins the wire form of an empty member list:
// a list, not null.
func TestCreatedMembersOnTheWire(t *testing.T) {
	events, err := chat.CreateRoom("r1", "alice", "n", nil, known, t0)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := events[0].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"members":[]`) {
		t.Errorf("room_created with no members = %s, want \"members\":[]", raw)
	}
}

func TestRename(t *testing.T) {
	rename := func(actor, name string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.Rename(actor, name, atIn) }
	}
	renamed := func(name string) func(*testing.T, *chat.Room) {
		return func(t *testing.T, r *chat.Room) {
			if r.Name != name || r.Version != 4 || !r.LastActivityAt.Equal(atOut) {
				t.Errorf("after rename: name %q version %d activity %v", r.Name, r.Version, r.LastActivityAt)
			}
		}
	}
	runCmdCases(t, []cmdCase{
		{name: "owner", run: rename("alice", "Lobby"), want: []chat.Event{out(4, "alice", chat.RoomRenamed{Name: "Lobby"})}, check: renamed("Lobby")},
		{name: "admin, trimmed", run: rename("dave", "  Lobby  "), want: []chat.Event{out(4, "dave", chat.RoomRenamed{Name: "Lobby"})}, check: renamed("Lobby")},
		{name: "same name again", run: rename("erin", "General"), want: []chat.Event{out(4, "erin", chat.RoomRenamed{Name: "General"})}},
		{name: "100 code points", run: rename("alice", strings.Repeat("\u65e5", 100)), want: []chat.Event{out(4, "alice", chat.RoomRenamed{Name: strings.Repeat("\u65e5", 100)})}},

		{name: "plain member", run: rename("bob", "Mine"), wantErr: chat.ErrForbidden},
		{name: "admin with empty name", run: rename("dave", ""), wantErr: chat.ErrInvalidRoomName},
		{name: "admin with 101 code points", run: rename("dave", strings.Repeat("\u00e9", 101)), wantErr: chat.ErrInvalidRoomName},
		{name: "admin with control char", run: rename("dave", "a\nb"), wantErr: chat.ErrInvalidRoomName},
		{name: "non-member", run: rename("frank", "Mine"), wantErr: chat.ErrRoomNotFound},
		{name: "unknown user", run: rename("zed", "Mine"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, owner", room: deletedFixture, run: rename("alice", "Back"), wantErr: chat.ErrRoomNotFound},
		{name: "never created", room: neverCreated, run: rename("alice", "n"), wantErr: chat.ErrRoomNotFound},

		// Ordering: membership (404), body (400), role (403).
		{name: "plain member, invalid name: invalid_room_name not forbidden", run: rename("bob", "   "), wantErr: chat.ErrInvalidRoomName},
		{name: "non-member, invalid name: room_not_found", run: rename("frank", ""), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, invalid name: room_not_found", room: deletedFixture, run: rename("alice", ""), wantErr: chat.ErrRoomNotFound},
	})
}

func TestAddMembers(t *testing.T) {
	add := func(actor string, admin bool, usernames ...string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.AddMembers(actor, usernames, admin, known, atIn) }
	}
	addAny := func(actor string, admin bool, usernames ...string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.AddMembers(actor, usernames, admin, everyone, atIn) }
	}
	member := func(u string) chat.MemberAdded { return chat.MemberAdded{Member: u, Role: chat.RoleMember} }
	admin := func(u string) chat.MemberAdded { return chat.MemberAdded{Member: u, Role: chat.RoleAdmin} }

	fortyNine := memberNames(49)
	var fortyNineEvents []chat.Event
	for i, u := range fortyNine {
		fortyNineEvents = append(fortyNineEvents, out(int64(4+i), "dave", member(u)))
	}

	runCmdCases(t, []cmdCase{
		{name: "owner adds one", run: add("alice", false, "frank"),
			want:  []chat.Event{out(4, "alice", member("frank"))},
			check: hasRoles(fixtureRolesWith(map[string]chat.Role{"frank": chat.RoleMember}))},
		{name: "admin adds several: seqs follow, names folded and deduplicated", run: add("dave", false, "Frank", "grace", "FRANK", "heidi"),
			want: []chat.Event{out(4, "dave", member("frank")), out(5, "dave", member("grace")), out(6, "dave", member("heidi"))},
			check: hasRoles(fixtureRolesWith(map[string]chat.Role{
				"frank": chat.RoleMember, "grace": chat.RoleMember, "heidi": chat.RoleMember}))},
		{name: "admin adds new people as admins", run: add("erin", true, "frank", "grace"),
			want:  []chat.Event{out(4, "erin", admin("frank")), out(5, "erin", admin("grace"))},
			check: hasRoles(fixtureRolesWith(map[string]chat.Role{"frank": chat.RoleAdmin, "grace": chat.RoleAdmin}))},
		{name: "promote an existing member", run: add("alice", true, "bob"),
			want:  []chat.Event{out(4, "alice", admin("bob"))},
			check: hasRoles(fixtureRolesWith(map[string]chat.Role{"bob": chat.RoleAdmin}))},
		{name: "admin promotes: only members and newcomers get events", run: add("dave", true, "erin", "bob", "alice", "frank", "dave", "carol"),
			want: []chat.Event{out(4, "dave", admin("bob")), out(5, "dave", admin("frank")), out(6, "dave", admin("carol"))},
			check: hasRoles(fixtureRolesWith(map[string]chat.Role{
				"bob": chat.RoleAdmin, "carol": chat.RoleAdmin, "frank": chat.RoleAdmin}))},
		{name: "promoting admins and the owner changes nothing", run: add("alice", true, "dave", "erin", "alice"), want: nil,
			check: hasRoles(fixtureRolesWith(nil))},
		{name: "empty list changes nothing", run: add("alice", false), want: nil},
		{name: "49 at once", run: addAny("dave", false, fortyNine...), want: fortyNineEvents},

		{name: "plain member", run: add("bob", false, "frank"), wantErr: chat.ErrForbidden},
		{name: "plain member promoting", run: add("bob", true, "carol"), wantErr: chat.ErrForbidden},
		{name: "plain member adding themself as admin", run: add("bob", true, "bob"), wantErr: chat.ErrForbidden},
		{name: "non-member", run: add("frank", false, "grace"), wantErr: chat.ErrRoomNotFound},
		{name: "non-member adding themself", run: add("frank", false, "frank"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, owner", room: deletedFixture, run: add("alice", false, "frank"), wantErr: chat.ErrRoomNotFound},
		{name: "never created", room: neverCreated, run: add("alice", false, "frank"), wantErr: chat.ErrRoomNotFound},
		{name: "invalid username", run: add("alice", false, "frank", "no way"), wantErr: chat.ErrInvalidUsername, wantNames: []string{"no way"}},
		{name: "unknown users named exactly", run: add("alice", false, "zed", "frank", "Yuri", "grace", "zed"),
			wantErr: chat.ErrUserNotFound, wantNames: []string{"zed", "yuri"}},
		{name: "unknown user with admin", run: add("alice", true, "bob", "zed"), wantErr: chat.ErrUserNotFound, wantNames: []string{"zed"}},
		{name: "existing members named exactly, nobody added", run: add("dave", false, "frank", "Bob", "grace", "carol"),
			wantErr: chat.ErrAlreadyMember, wantNames: []string{"bob", "carol"}},
		{name: "the owner is already a member", run: add("dave", false, "alice"), wantErr: chat.ErrAlreadyMember, wantNames: []string{"alice"}},
		{name: "adding oneself", run: add("dave", false, "dave"), wantErr: chat.ErrAlreadyMember, wantNames: []string{"dave"}},
		{name: "50 at once", run: addAny("dave", false, memberNames(50)...), wantErr: chat.ErrTooManyMembers},

		// Ordering: membership (404), body (400), role (403), then
		// user_not_found, already_member, too_many_members.
		{name: "non-member, invalid username: room_not_found", run: add("frank", false, "!!"), wantErr: chat.ErrRoomNotFound},
		{name: "non-member, 50 names: room_not_found", run: addAny("frank", false, memberNames(50)...), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, unknown user: room_not_found", room: deletedFixture, run: add("alice", false, "zed"), wantErr: chat.ErrRoomNotFound},
		{name: "plain member, invalid username: invalid_username not forbidden", run: add("bob", false, "!!"), wantErr: chat.ErrInvalidUsername},
		{name: "plain member, 50 names: too_many_members (body) not forbidden", run: addAny("bob", false, memberNames(50)...), wantErr: chat.ErrTooManyMembers},
		{name: "plain member, unknown user: forbidden before user_not_found", run: add("bob", false, "zed"), wantErr: chat.ErrForbidden},
		{name: "plain member, existing member: forbidden before already_member", run: add("bob", false, "carol"), wantErr: chat.ErrForbidden},
		{name: "unknown before already_member", run: add("alice", false, "bob", "zed"), wantErr: chat.ErrUserNotFound, wantNames: []string{"zed"}},
		{name: "invalid username before unknown", run: add("alice", false, "zed", "!"), wantErr: chat.ErrInvalidUsername},
	})
}

func TestAddMembersRoomCap(t *testing.T) {
	room := func(n int) func(testing.TB) *chat.Room {
		return func(t testing.TB) *chat.Room { return bigRoom(t, n) }
	}
	add := func(admin bool, usernames ...string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) {
			return r.AddMembers("dave", usernames, admin, func(u string) bool { return u != "zed" }, atIn)
		}
	}
	newcomers := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("new%02d", i)
		}
		return out
	}
	events := func(role chat.Role, names ...string) []chat.Event {
		var evs []chat.Event
		for i, u := range names {
			evs = append(evs, out(int64(3+i), "dave", chat.MemberAdded{Member: u, Role: role}))
		}
		return evs
	}
	size := func(n int) func(*testing.T, *chat.Room) {
		return func(t *testing.T, r *chat.Room) {
			if len(r.Members) != n {
				t.Errorf("room has %d members, want %d", len(r.Members), n)
			}
		}
	}
	runCmdCases(t, []cmdCase{
		{name: "995 + 5 = 1000", room: room(995), run: add(false, newcomers(5)...), want: events(chat.RoleMember, newcomers(5)...), check: size(1000)},
		{name: "999 + 1 = 1000", room: room(999), run: add(true, "new00"), want: events(chat.RoleAdmin, "new00"), check: size(1000)},
		{name: "repeats count once", room: room(999), run: add(false, "new00", "NEW00", "new00"), want: events(chat.RoleMember, "new00"), check: size(1000)},
		{name: "full room: promotion adds nobody", room: room(1000), run: add(true, "bob"), want: events(chat.RoleAdmin, "bob"), check: size(1000)},
		{name: "full room: promotion of admins, nothing", room: room(1000), run: add(true, "dave", "alice"), want: nil, check: size(1000)},
		{name: "full room: promote one, add none", room: room(1000), run: add(true, "bob", "u0001", "dave"), want: events(chat.RoleAdmin, "bob", "u0001")},

		{name: "995 + 6 = 1001", room: room(995), run: add(false, newcomers(6)...), wantErr: chat.ErrTooManyMembers},
		{name: "1000 + 1", room: room(1000), run: add(false, "new00"), wantErr: chat.ErrTooManyMembers},
		{name: "1000 + 1 as admin, with a promotion", room: room(1000), run: add(true, "bob", "new00"), wantErr: chat.ErrTooManyMembers},
		{name: "951 + 49 = 1000", room: room(951), run: add(false, newcomers(49)...), want: events(chat.RoleMember, newcomers(49)...), check: size(1000)},
		{name: "952 + 49 = 1001", room: room(952), run: add(false, newcomers(49)...), wantErr: chat.ErrTooManyMembers},

		// The rest, in order: user_not_found, already_member, too_many_members.
		{name: "full room, unknown user: user_not_found", room: room(1000), run: add(false, "new00", "zed"), wantErr: chat.ErrUserNotFound, wantNames: []string{"zed"}},
		{name: "full room, existing member: already_member", room: room(1000), run: add(false, "new00", "bob"), wantErr: chat.ErrAlreadyMember, wantNames: []string{"bob"}},
		{name: "full room, 50 names: too_many_members", room: room(1000), run: add(false, memberNames(50)...), wantErr: chat.ErrTooManyMembers},
	})
}

func TestRemoveMember(t *testing.T) {
	remove := func(actor, member string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.RemoveMember(actor, member, atIn) }
	}
	removed := func(u string) func(*testing.T, *chat.Room) {
		return func(t *testing.T, r *chat.Room) {
			hasRoles(fixtureRolesWith(nil, u))(t, r)
			if _, err := r.CheckMember(u); err == nil {
				t.Errorf("%s still passes CheckMember", u)
			}
		}
	}
	runCmdCases(t, []cmdCase{
		{name: "admin removes a member", run: remove("dave", "bob"), want: []chat.Event{out(4, "dave", chat.MemberRemoved{Member: "bob"})}, check: removed("bob")},
		{name: "owner removes a member", run: remove("alice", "carol"), want: []chat.Event{out(4, "alice", chat.MemberRemoved{Member: "carol"})}, check: removed("carol")},
		{name: "owner removes an admin", run: remove("alice", "dave"), want: []chat.Event{out(4, "alice", chat.MemberRemoved{Member: "dave"})}, check: removed("dave")},
		{name: "admin removes another admin", run: remove("erin", "dave"), want: []chat.Event{out(4, "erin", chat.MemberRemoved{Member: "dave"})}, check: removed("dave")},
		{name: "member removes themself", run: remove("bob", "bob"), want: []chat.Event{out(4, "bob", chat.MemberRemoved{Member: "bob"})}, check: removed("bob")},
		{name: "admin removes themself", run: remove("dave", "dave"), want: []chat.Event{out(4, "dave", chat.MemberRemoved{Member: "dave"})}, check: removed("dave")},
		{name: "target name folded", run: remove("dave", "BOB"), want: []chat.Event{out(4, "dave", chat.MemberRemoved{Member: "bob"})}, check: removed("bob")},
		{name: "member removes themself in upper case", run: remove("bob", "Bob"), want: []chat.Event{out(4, "bob", chat.MemberRemoved{Member: "bob"})}, check: removed("bob")},

		{name: "owner removes themself", run: remove("alice", "alice"), wantErr: chat.ErrForbidden},
		{name: "admin removes the owner", run: remove("dave", "alice"), wantErr: chat.ErrForbidden},
		{name: "admin removes the owner in upper case", run: remove("dave", "ALICE"), wantErr: chat.ErrForbidden},
		{name: "member removes the owner", run: remove("bob", "alice"), wantErr: chat.ErrForbidden},
		{name: "member removes another member", run: remove("bob", "carol"), wantErr: chat.ErrForbidden},
		{name: "member removes an admin", run: remove("bob", "dave"), wantErr: chat.ErrForbidden},
		{name: "admin removes a non-member", run: remove("dave", "frank"), wantErr: chat.ErrUserNotFound, wantNames: []string{"frank"}},
		{name: "admin removes a user with no account", run: remove("dave", "zed"), wantErr: chat.ErrUserNotFound, wantNames: []string{"zed"}},
		{name: "admin removes an invalid name", run: remove("dave", "no way"), wantErr: chat.ErrUserNotFound},
		{name: "admin removes an empty name", run: remove("dave", ""), wantErr: chat.ErrUserNotFound},
		{name: "non-member removes a member", run: remove("frank", "bob"), wantErr: chat.ErrRoomNotFound},
		{name: "non-member removes themself", run: remove("frank", "frank"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, owner removes a member", room: deletedFixture, run: remove("alice", "bob"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted room, member removes themself", room: deletedFixture, run: remove("bob", "bob"), wantErr: chat.ErrRoomNotFound},
		{name: "never created", room: neverCreated, run: remove("alice", "bob"), wantErr: chat.ErrRoomNotFound},

		// Ordering: membership (404), role (403), then user_not_found.
		{name: "non-member removes the owner: room_not_found", run: remove("frank", "alice"), wantErr: chat.ErrRoomNotFound},
		{name: "non-member removes an invalid name: room_not_found", run: remove("frank", "!"), wantErr: chat.ErrRoomNotFound},
		{name: "member removes a non-member: forbidden before user_not_found", run: remove("bob", "frank"), wantErr: chat.ErrForbidden},
		{name: "member removes an unknown user: forbidden before user_not_found", run: remove("bob", "zed"), wantErr: chat.ErrForbidden},
		{name: "member removes an invalid name: forbidden before user_not_found", run: remove("bob", "no way"), wantErr: chat.ErrForbidden},
	})
}

func TestDelete(t *testing.T) {
	del := func(actor string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.Delete(actor, atIn) }
	}
	runCmdCases(t, []cmdCase{
		{name: "owner", run: del("alice"), want: []chat.Event{out(4, "alice", chat.RoomDeleted{})},
			check: func(t *testing.T, r *chat.Room) {
				if r.Exists() || !r.Deleted || len(r.Members) != 0 || r.Version != 4 {
					t.Errorf("after delete: %#v", r)
				}
				// Afterwards the room is not found for anyone, whatever the command.
				cmds := map[string]func() ([]chat.Event, error){
					"rename":  func() ([]chat.Event, error) { return r.Rename("alice", "x", t0) },
					"add":     func() ([]chat.Event, error) { return r.AddMembers("alice", []string{"frank"}, false, known, t0) },
					"remove":  func() ([]chat.Event, error) { return r.RemoveMember("dave", "bob", t0) },
					"delete":  func() ([]chat.Event, error) { return r.Delete("alice", t0) },
					"join":    func() ([]chat.Event, error) { return r.Join("bob", t0) },
					"leave":   func() ([]chat.Event, error) { return r.Leave("bob", t0) },
					"message": func() ([]chat.Event, error) { return r.SendMessage("alice", "m", "c", "hi", t0) },
				}
				for name, cmd := range cmds {
					events, err := cmd()
					if events != nil {
						t.Errorf("%s after delete gave events", name)
					}
					checkErr(t, err, chat.ErrRoomNotFound)
				}
			}},
		{name: "admin", run: del("dave"), wantErr: chat.ErrForbidden},
		{name: "member", run: del("bob"), wantErr: chat.ErrForbidden},
		{name: "non-member", run: del("frank"), wantErr: chat.ErrRoomNotFound},
		{name: "twice", room: deletedFixture, run: del("alice"), wantErr: chat.ErrRoomNotFound},
		{name: "never created", room: neverCreated, run: del("alice"), wantErr: chat.ErrRoomNotFound},
	})
}

func TestJoinAndLeave(t *testing.T) {
	join := func(actor string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.Join(actor, atIn) }
	}
	leave := func(actor string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.Leave(actor, atIn) }
	}
	unchangedMembers := hasRoles(fixtureRolesWith(nil))
	afterRemoval := func(t testing.TB) *chat.Room {
		return replay(t, "r1", append(fixtureEvents(), ev(4, "bob", chat.MemberRemoved{Member: "bob"}))...)
	}
	var tests []cmdCase
	for _, u := range []string{"alice", "dave", "bob"} {
		tests = append(tests,
			cmdCase{name: "join " + u, run: join(u), want: []chat.Event{out(4, u, chat.UserJoined{})}, check: unchangedMembers},
			cmdCase{name: "leave " + u, run: leave(u), want: []chat.Event{out(4, u, chat.UserLeft{})}, check: unchangedMembers},
		)
	}
	for name, room := range map[string]func(testing.TB) *chat.Room{"deleted": deletedFixture, "never created": neverCreated, "removed": afterRemoval} {
		tests = append(tests,
			cmdCase{name: "join " + name, room: room, run: join("bob"), wantErr: chat.ErrRoomNotFound},
			cmdCase{name: "leave " + name, room: room, run: leave("bob"), wantErr: chat.ErrRoomNotFound},
		)
	}
	tests = append(tests,
		cmdCase{name: "join non-member", run: join("frank"), wantErr: chat.ErrRoomNotFound},
		cmdCase{name: "leave non-member", run: leave("frank"), wantErr: chat.ErrRoomNotFound},
		cmdCase{name: "join no account", run: join("zed"), wantErr: chat.ErrRoomNotFound},
	)
	runCmdCases(t, tests)
}

func TestSendMessage(t *testing.T) {
	send := func(actor, clientMsgID, text string) func(*chat.Room) ([]chat.Event, error) {
		return func(r *chat.Room) ([]chat.Event, error) { return r.SendMessage(actor, "m-1", clientMsgID, text, atIn) }
	}
	msg := func(actor, clientMsgID, text string) []chat.Event {
		return []chat.Event{out(4, actor, chat.MessageSent{MessageID: "m-1", ClientMsgID: clientMsgID, Text: text})}
	}
	runCmdCases(t, []cmdCase{
		{name: "member", run: send("bob", "c1", "hello"), want: msg("bob", "c1", "hello"), check: hasRoles(fixtureRolesWith(nil))},
		{name: "owner", run: send("alice", "c1", "hello"), want: msg("alice", "c1", "hello")},
		{name: "text trimmed", run: send("bob", "c1", "  hello\n"), want: msg("bob", "c1", "hello")},
		{name: "4000 code points", run: send("bob", "c1", strings.Repeat("\u00e9", 4000)), want: msg("bob", "c1", strings.Repeat("\u00e9", 4000))},
		{name: "64 char client id", run: send("bob", strings.Repeat("A", 64), "x"), want: msg("bob", strings.Repeat("A", 64), "x")},

		{name: "empty text", run: send("bob", "c1", ""), wantErr: chat.ErrInvalidMessage},
		{name: "blank text", run: send("bob", "c1", " \n "), wantErr: chat.ErrInvalidMessage},
		{name: "4001 code points", run: send("bob", "c1", strings.Repeat("\u00e9", 4001)), wantErr: chat.ErrInvalidMessage},
		{name: "NUL", run: send("bob", "c1", "a\x00b"), wantErr: chat.ErrInvalidMessage},
		{name: "empty client id", run: send("bob", "", "hi"), wantErr: chat.ErrInvalidMessage},
		{name: "65 char client id", run: send("bob", strings.Repeat("A", 65), "hi"), wantErr: chat.ErrInvalidMessage},
		{name: "bad client id char", run: send("bob", "c 1", "hi"), wantErr: chat.ErrInvalidMessage},
		{name: "non-member", run: send("frank", "c1", "hi"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted", room: deletedFixture, run: send("alice", "c1", "hi"), wantErr: chat.ErrRoomNotFound},
		{name: "never created", room: neverCreated, run: send("alice", "c1", "hi"), wantErr: chat.ErrRoomNotFound},

		// Ordering: a non-member learns nothing about the body.
		{name: "non-member, empty text: room_not_found", run: send("frank", "c1", ""), wantErr: chat.ErrRoomNotFound},
		{name: "non-member, bad client id: room_not_found", run: send("frank", "", "hi"), wantErr: chat.ErrRoomNotFound},
		{name: "deleted, NUL: room_not_found", room: deletedFixture, run: send("bob", "c1", "\x00"), wantErr: chat.ErrRoomNotFound},
	})
}

// TestCommandsAtFollowVersion checks a command's seqs continue from whatever
// Version the room is at, not from a fixed point.
func TestCommandsAtFollowVersion(t *testing.T) {
	events := fixtureEvents()
	for i := range 20 {
		events = append(events, ev(int64(4+i), "bob", chat.MessageSent{MessageID: "m", ClientMsgID: "c", Text: "x"}))
	}
	r := replay(t, "r1", events...)
	got, err := r.AddMembers("alice", []string{"frank", "grace"}, false, known, atIn)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{24, 25}; !slices.Equal(seqs(got), want) {
		t.Errorf("seqs = %v, want %v", seqs(got), want)
	}
	for _, e := range got {
		if e.RoomID != "r1" {
			t.Errorf("RoomID = %q, want r1", e.RoomID)
		}
	}
}

func TestCreateRoomCapCountsPeopleAdded(t *testing.T) {
	names := append([]string{"alice"}, memberNames(chat.MaxMembersPerChange)...)
	names = append(names, memberNames(chat.MaxMembersPerChange)...) // repeats
	events, err := chat.CreateRoom("r1", "alice", "big", names, func(string) bool { return true }, t0)
	if err != nil {
		t.Fatalf("owner plus %d others, with repeats: %v", chat.MaxMembersPerChange, err)
	}
	if got := len(events[0].Data.(chat.RoomCreated).Members); got != chat.MaxMembersPerChange {
		t.Fatalf("room_created lists %d members, want %d", got, chat.MaxMembersPerChange)
	}
	_, err = chat.CreateRoom("r1", "alice", "big", append(names, "one_more"), func(string) bool { return true }, t0)
	checkErr(t, err, chat.ErrTooManyMembers)
}

func TestApplyRefusesOwnershipChanges(t *testing.T) {
	for name, data := range map[string]chat.EventData{
		"owner demoted": chat.MemberAdded{Member: "alice", Role: chat.RoleMember},
		"second owner":  chat.MemberAdded{Member: "bob", Role: chat.RoleOwner},
		"owner removed": chat.MemberRemoved{Member: "alice"},
	} {
		t.Run(name, func(t *testing.T) {
			r := fixture(t)
			before := cloneRoom(r)
			if err := r.Apply(chat.Event{RoomID: r.ID, Seq: r.Version + 1, Username: "alice", At: t0, Data: data}); err == nil {
				t.Fatal("Apply accepted the event")
			}
			if !reflect.DeepEqual(r, before) {
				t.Fatal("a refused Apply changed the room")
			}
		})
	}
}
