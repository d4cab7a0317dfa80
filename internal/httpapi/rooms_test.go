package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/httpapi"
	"github.com/chatroom/chat/internal/store"
)

// neverRoom is a room id no room ever had.
const neverRoom = "01JD8QZZZZZZZZZZZZZZZZZZZZ"

// roomJSON is the contract's room object. members are "name/role", in the
// order the contract lists them (owner, admins, members, each by name).
func roomJSON(id, name string, created time.Time, lastSeq int, members ...string) string {
	var owner string
	var ms []string
	for _, m := range members {
		u, role, _ := strings.Cut(m, "/")
		if role == "owner" {
			owner = u
		}
		ms = append(ms, fmt.Sprintf(`{"username": %q, "role": %q}`, u, role))
	}
	return fmt.Sprintf(`{"room_id": %q, "name": %q, "owner": %q, "created_at": %q, "members": [%s], "last_seq": %d, "kind": "group"}`,
		id, name, owner, wireTime(created), strings.Join(ms, ", "), lastSeq)
}

// summaryJSON is one line of GET /rooms, for someone whose read position
// is readSeq with nothing unread.
func summaryJSON(id, name, owner, role string, lastSeq int, activity time.Time, readSeq int) string {
	return fmt.Sprintf(`{"room_id": %q, "name": %q, "owner": %q, "role": %q, "last_seq": %d, "last_activity_at": %q, "kind": "group", "read_seq": %d, "unread": 0, "mentions": 0}`,
		id, name, owner, role, lastSeq, wireTime(activity), readSeq)
}

func (e *env) getRoom(t *testing.T, username, roomID string) response {
	t.Helper()
	return e.as(t, username, "get-room.json", roomID)
}

func (e *env) listRooms(t *testing.T, username string) response {
	t.Helper()
	return e.as(t, username, "list-rooms.json", "")
}

func (e *env) events(t *testing.T, username, roomID, query string) response {
	t.Helper()
	return e.as(t, username, "list-events.json", roomID, withQuery(query))
}

func (e *env) addMembers(t *testing.T, username, roomID string, admin bool, usernames ...string) response {
	t.Helper()
	return e.as(t, username, "add-members.json", roomID, withJSON(map[string]any{"usernames": usernames, "admin": admin}))
}

func (e *env) removeMember(t *testing.T, username, roomID, member string) response {
	t.Helper()
	return e.as(t, username, "remove-member.json", roomID, withParam("username", member))
}

// createUsers makes accounts straight in the store (nobody logs in as
// them), prefix00 onwards.
func (e *env) createUsers(t *testing.T, prefix string, n int) []string {
	t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range n {
		names[i] = fmt.Sprintf("%s%04d", prefix, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- e.raw.CreateUser(context.Background(), store.User{Username: names[i], PasswordHash: "unused", CreatedAt: t0})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func TestCreateRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		many := e.createUsers(t, "m", chat.MaxMembersPerChange+1)
		at := wireTime(t0)

		for _, c := range []struct {
			name    string
			mods    []mod
			room    []string // name, then members as name/role
			created string   // the room_created event's fields after "at"
		}{
			{"the file", nil,
				[]string{"general", "alice/owner", "bob/member"},
				`"name": "general", "members": ["bob"]`},
			{"no members", []mod{withBody(`{"name": "solo"}`)},
				[]string{"solo", "alice/owner"},
				`"name": "solo", "members": []`},
			{"null members", []mod{withBody(`{"name": "solo", "members": null}`)},
				[]string{"solo", "alice/owner"},
				`"name": "solo", "members": []`},
			{"trimmed, folded, repeats and the owner dropped", []mod{withBody(`{"name": "  Book club \u00e9\t", "members": ["BOB", "bob", "alice", "Carol"]}`)},
				[]string{"Book club é", "alice/owner", "bob/member", "carol/member"},
				`"name": "Book club é", "members": ["bob", "carol"]`},
			{"longest name in code points", []mod{withJSON(map[string]any{"name": strings.Repeat("é", chat.MaxRoomNameLen)})},
				[]string{strings.Repeat("é", chat.MaxRoomNameLen), "alice/owner"},
				`"name": "` + strings.Repeat("é", chat.MaxRoomNameLen) + `", "members": []`},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.as(t, "alice", "create-room.json", "", c.mods...)
				r.wantJSON(t, 201, roomJSON("~^01JD8Q[0-9]{20}$", c.room[0], t0, 1, c.room[1:]...))
				var room struct {
					RoomID string `json:"room_id"`
				}
				r.decode(t, &room)
				e.mu.Lock()
				e.roomIDs = append(e.roomIDs, room.RoomID)
				e.mu.Unlock()
				// A new room has no joined connections to tell, only the
				// members' room lists.
				if notes := e.notes.take(); len(notes) != 1 || notes[0].created == nil || notes[0].created.ID != room.RoomID {
					t.Fatalf("notified %s, want the room created", describeNotes(notes))
				}
				got := e.getRoom(t, "alice", room.RoomID)
				got.wantJSON(t, 200, roomJSON(room.RoomID, c.room[0], t0, 1, c.room[1:]...))
				e.events(t, "alice", room.RoomID, "").wantJSON(t, 200,
					`{"events": [{"seq": 1, "type": "room_created", "username": "alice", "at": "`+at+`", `+c.created+`}], "has_more": false}`)
				for _, m := range c.room[2:] {
					u, _, _ := strings.Cut(m, "/")
					e.getRoom(t, u, room.RoomID).wantStatus(t, 200)
				}
			})
		}
		t.Run("most people at once", func(t *testing.T) {
			r := e.as(t, "alice", "create-room.json", "", withJSON(map[string]any{"name": "big", "members": many[:chat.MaxMembersPerChange]}))
			r.wantStatus(t, 201)
			var room struct {
				Members []chat.Member `json:"members"`
			}
			r.decode(t, &room)
			if len(room.Members) != chat.MaxMembersPerChange+1 {
				t.Fatalf("%d members, want %d", len(room.Members), chat.MaxMembersPerChange+1)
			}
		})

		for _, c := range []struct {
			name      string
			file      string
			mods      []mod
			status    int
			code      string
			usernames []string
		}{
			{"bad JSON (file)", "create-room-invalid-json.json", nil, 400, "invalid_json", nil},
			{"members not a list", "", []mod{withBody(`{"name": "x", "members": "bob"}`)}, 400, "invalid_json", nil},
			{"name not a string", "", []mod{withBody(`{"name": 5}`)}, 400, "invalid_json", nil},
			{"null", "", []mod{withBody(`null`)}, 400, "invalid_json", nil},
			{"trailing garbage", "", []mod{withBody(`{"name": "x"} x`)}, 400, "invalid_json", nil},
			{"no body", "", []mod{withBody(``)}, 400, "invalid_json", nil},
			{"name missing", "", []mod{withBody(`{"members": ["bob"]}`)}, 400, "invalid_room_name", nil},
			{"name empty", "", []mod{withBody(`{"name": ""}`)}, 400, "invalid_room_name", nil},
			{"name only spaces", "", []mod{withBody(`{"name": " \t "}`)}, 400, "invalid_room_name", nil},
			{"name too long", "", []mod{withJSON(map[string]any{"name": strings.Repeat("é", chat.MaxRoomNameLen+1)})}, 400, "invalid_room_name", nil},
			{"name with a control character", "", []mod{withBody(`{"name": "a\u0007b"}`)}, 400, "invalid_room_name", nil},
			{"name with a newline", "", []mod{withBody(`{"name": "a\nb"}`)}, 400, "invalid_room_name", nil},
			{"name with NUL", "", []mod{withBody(`{"name": "a\u0000b"}`)}, 400, "invalid_room_name", nil},
			{"bad member name", "", []mod{withBody(`{"name": "x", "members": ["bob", "b!"]}`)}, 400, "invalid_username", []string{"b!"}},
			{"bad name and unknown member: 400 first", "", []mod{withBody(`{"name": "", "members": ["zed"]}`)}, 400, "invalid_room_name", nil},
			{"bad member name and unknown member: 400 first", "", []mod{withBody(`{"name": "x", "members": ["zed", "b!"]}`)}, 400, "invalid_username", []string{"b!"}},
			{"unknown members", "", []mod{withBody(`{"name": "x", "members": ["zed", "bob", "nobody"]}`)}, 404, "user_not_found", []string{"zed", "nobody"}},
			{"unknown member in upper case", "", []mod{withBody(`{"name": "x", "members": ["ZED"]}`)}, 404, "user_not_found", []string{"zed"}},
			{"more people than one change carries", "", []mod{withJSON(map[string]any{"name": "x", "members": many})}, 400, "too_many_members", nil},
			{"over 64 KiB", "", []mod{withBody(padTo(`{"name": "x"}`, httpapi.MaxBodyBytes+1))}, 413, "body_too_large", nil},
			{"over 64 KiB in base64", "", []mod{withBase64Body(padTo(`{"name": "x"}`, httpapi.MaxBodyBytes+1))}, 413, "body_too_large", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				file := c.file
				if file == "" {
					file = "create-room.json"
				}
				e.unchanged(t, func() {
					e.as(t, "alice", file, "", c.mods...).wantError(t, c.status, c.code, c.usernames...)
				})
			})
		}
	})
}

func TestListRooms(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		e.listRooms(t, "alice").wantJSON(t, 200, `{"rooms": [], "next": null}`)

		r1 := e.createRoom(t, "alice", "first", "bob")
		e.clock.Advance(time.Second)
		r2 := e.createRoom(t, "bob", "second", "alice")
		e.clock.Advance(time.Second)
		// Renaming the first room makes it the newest activity.
		e.as(t, "alice", "rename-room.json", r1).wantStatus(t, 200)
		e.notes.take()

		e.listRooms(t, "alice").wantJSON(t, 200, `{"rooms": [`+
			summaryJSON(r1, "random", "alice", "owner", 2, t0.Add(2*time.Second), 1)+`, `+
			summaryJSON(r2, "second", "bob", "member", 1, t0.Add(time.Second), 1)+`], "next": null}`)
		e.listRooms(t, "bob").wantJSON(t, 200, `{"rooms": [`+
			summaryJSON(r1, "random", "alice", "member", 2, t0.Add(2*time.Second), 1)+`, `+
			summaryJSON(r2, "second", "bob", "owner", 1, t0.Add(time.Second), 1)+`], "next": null}`)
		e.listRooms(t, "carol").wantJSON(t, 200, `{"rooms": [], "next": null}`)

		// A promotion shows in the role; membership changes are activity
		// and move the room up.
		e.clock.Advance(time.Second)
		e.addMembers(t, "bob", r2, true, "alice").wantStatus(t, 200)
		e.addMembers(t, "bob", r2, false, "carol").wantStatus(t, 200)
		e.notes.take()
		e.listRooms(t, "alice").wantJSON(t, 200, `{"rooms": [`+
			summaryJSON(r2, "second", "bob", "admin", 3, t0.Add(3*time.Second), 1)+`, `+
			summaryJSON(r1, "random", "alice", "owner", 2, t0.Add(2*time.Second), 1)+`], "next": null}`)
		e.listRooms(t, "carol").wantJSON(t, 200, `{"rooms": [`+
			summaryJSON(r2, "second", "bob", "member", 3, t0.Add(3*time.Second), 3)+`], "next": null}`)

		// Removed and deleted rooms are listed nowhere.
		e.removeMember(t, "bob", r2, "carol").wantStatus(t, 204)
		e.as(t, "alice", "delete-room.json", r1).wantStatus(t, 204)
		e.notes.take()
		e.listRooms(t, "carol").wantJSON(t, 200, `{"rooms": [], "next": null}`)
		e.listRooms(t, "bob").wantJSON(t, 200, `{"rooms": [`+
			summaryJSON(r2, "second", "bob", "owner", 4, t0.Add(3*time.Second), 1)+`], "next": null}`)
		e.wantNoNotes(t)
	})
}

func TestGetRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		room := e.createRoom(t, "alice", "general", "bob")
		gone := e.createRoom(t, "alice", "gone", "bob")
		e.as(t, "alice", "delete-room.json", gone).wantStatus(t, 204)
		e.notes.take()

		want := roomJSON(room, "general", t0, 1, "alice/owner", "bob/member")
		e.getRoom(t, "alice", room).wantJSON(t, 200, want)
		e.getRoom(t, "bob", room).wantJSON(t, 200, want)

		// Not a member, deleted, never existed: one answer, byte for byte.
		var bodies []string
		e.unchanged(t, func() {
			for _, c := range []struct{ name, user, room string }{
				{"not a member", "carol", room},
				{"deleted, to its owner", "alice", gone},
				{"deleted, to a member", "bob", gone},
				{"never existed", "alice", neverRoom},
				{"an id of another shape", "alice", "general"},
			} {
				t.Run(c.name, func(t *testing.T) {
					r := e.getRoom(t, c.user, c.room)
					r.wantError(t, 404, "room_not_found")
					bodies = append(bodies, r.Body)
				})
			}
		})
		for _, b := range bodies {
			if b != bodies[0] {
				t.Errorf("room_not_found bodies differ: %s and %s", bodies[0], b)
			}
		}
	})
}

func TestRenameRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave")
		room := e.createRoom(t, "alice", "general", "bob", "carol")
		e.addMembers(t, "alice", room, true, "carol").wantStatus(t, 200)
		e.notes.take()

		// The file's name is "  random  ": stored trimmed.
		e.clock.Advance(time.Minute)
		e.as(t, "alice", "rename-room.json", room).wantJSON(t, 200,
			roomJSON(room, "random", t0, 3, "alice/owner", "carol/admin", "bob/member"))
		e.wantChanged(t, room, chat.TypeRoomRenamed)
		e.as(t, "carol", "rename-room.json", room, withJSON(map[string]string{"name": "Chat ☕"})).wantJSON(t, 200,
			roomJSON(room, "Chat ☕", t0, 4, "alice/owner", "carol/admin", "bob/member"))
		e.wantChanged(t, room, chat.TypeRoomRenamed)
		e.events(t, "bob", room, "after_seq=2").wantJSON(t, 200, `{"events": [`+
			`{"seq": 3, "type": "room_renamed", "username": "alice", "at": "`+wireTime(t0.Add(time.Minute))+`", "name": "random"}, `+
			`{"seq": 4, "type": "room_renamed", "username": "carol", "at": "`+wireTime(t0.Add(time.Minute))+`", "name": "Chat ☕"}], "has_more": false}`)

		for _, c := range []struct {
			name   string
			user   string
			room   string
			file   string
			mods   []mod
			status int
			code   string
		}{
			{"a member", "bob", room, "", nil, 403, "forbidden"},
			{"a member, bad JSON (file): 400 first", "bob", room, "rename-room-invalid-json.json", nil, 400, "invalid_json"},
			{"a member, bad name: 400 first", "bob", room, "", []mod{withBody(`{"name": " "}`)}, 400, "invalid_room_name"},
			{"not a member", "dave", room, "", nil, 404, "room_not_found"},
			{"not a member, bad JSON: 404 first", "dave", room, "rename-room-invalid-json.json", nil, 404, "room_not_found"},
			{"not a member, bad name: 404 first", "dave", room, "", []mod{withBody(`{"name": ""}`)}, 404, "room_not_found"},
			{"never existed", "alice", neverRoom, "", nil, 404, "room_not_found"},
			{"never existed, bad JSON", "alice", neverRoom, "rename-room-invalid-json.json", nil, 404, "room_not_found"},
			{"bad JSON (file)", "alice", room, "rename-room-invalid-json.json", nil, 400, "invalid_json"},
			{"bad base64", "alice", room, "", []mod{withBody("{{{"), func(ev *eventT) { ev.IsBase64Encoded = true }}, 400, "invalid_json"},
			{"not a member, bad base64: 404 first", "dave", room, "", []mod{withBody("{{{"), func(ev *eventT) { ev.IsBase64Encoded = true }}, 404, "room_not_found"},
			{"name missing", "alice", room, "", []mod{withBody(`{}`)}, 400, "invalid_room_name"},
			{"name empty", "alice", room, "", []mod{withBody(`{"name": ""}`)}, 400, "invalid_room_name"},
			{"name too long", "alice", room, "", []mod{withJSON(map[string]string{"name": strings.Repeat("x", 101)})}, 400, "invalid_room_name"},
			{"name with a control character", "alice", room, "", []mod{withBody(`{"name": "tab\there"}`)}, 400, "invalid_room_name"},
			{"name not a string", "alice", room, "", []mod{withBody(`{"name": ["x"]}`)}, 400, "invalid_json"},
			{"over 64 KiB", "alice", room, "", []mod{withBody(padTo(`{"name": "x"}`, httpapi.MaxBodyBytes+1))}, 413, "body_too_large"},
		} {
			t.Run(c.name, func(t *testing.T) {
				file := c.file
				if file == "" {
					file = "rename-room.json"
				}
				e.unchanged(t, func() {
					e.as(t, c.user, file, c.room, c.mods...).wantError(t, c.status, c.code)
				})
			})
		}
	})
}

func TestAddMembers(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave", "erin", "frank", "gina")
		many := e.createUsers(t, "m", chat.MaxMembersPerChange+1)
		room := e.createRoom(t, "alice", "general", "bob")
		e.clock.Advance(time.Minute)
		at := wireTime(t0.Add(time.Minute))

		// The file adds carol and dave as members.
		e.as(t, "alice", "add-members.json", room).wantJSON(t, 200,
			roomJSON(room, "general", t0, 3, "alice/owner", "bob/member", "carol/member", "dave/member"))
		e.wantChanged(t, room, chat.TypeMemberAdded, chat.TypeMemberAdded)
		e.getRoom(t, "carol", room).wantStatus(t, 200)

		// The file promotes bob.
		e.as(t, "alice", "add-admins.json", room).wantJSON(t, 200,
			roomJSON(room, "general", t0, 4, "alice/owner", "bob/admin", "carol/member", "dave/member"))
		e.wantChanged(t, room, chat.TypeMemberAdded)

		// Promoting an admin or the owner changes nothing: 200, no event,
		// nobody told.
		for _, c := range []struct {
			name string
			mods []mod
		}{
			{"an admin again (file)", nil},
			{"the owner", []mod{withJSON(map[string]any{"usernames": []string{"alice"}, "admin": true})}},
			{"the owner and an admin", []mod{withJSON(map[string]any{"usernames": []string{"ALICE", "bob"}, "admin": true})}},
			{"nobody", []mod{withBody(`{"usernames": []}`)}},
		} {
			t.Run("no-op: "+c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					e.as(t, "alice", "add-admins.json", room, c.mods...).wantJSON(t, 200,
						roomJSON(room, "general", t0, 4, "alice/owner", "bob/admin", "carol/member", "dave/member"))
				})
			})
		}

		// An admin adds a new admin, then promotes a member and adds a
		// newcomer in one go, skipping someone already admin.
		e.addMembers(t, "bob", room, true, "erin").wantJSON(t, 200,
			roomJSON(room, "general", t0, 5, "alice/owner", "bob/admin", "erin/admin", "carol/member", "dave/member"))
		e.wantChanged(t, room, chat.TypeMemberAdded)
		e.addMembers(t, "bob", room, true, "erin", "Carol", "frank").wantJSON(t, 200,
			roomJSON(room, "general", t0, 7, "alice/owner", "bob/admin", "carol/admin", "erin/admin", "frank/admin", "dave/member"))
		e.wantChanged(t, room, chat.TypeMemberAdded, chat.TypeMemberAdded)
		e.events(t, "dave", room, "after_seq=1").wantJSON(t, 200, `{"events": [`+
			`{"seq": 2, "type": "member_added", "username": "alice", "at": "`+at+`", "member": "carol", "role": "member"}, `+
			`{"seq": 3, "type": "member_added", "username": "alice", "at": "`+at+`", "member": "dave", "role": "member"}, `+
			`{"seq": 4, "type": "member_added", "username": "alice", "at": "`+at+`", "member": "bob", "role": "admin"}, `+
			`{"seq": 5, "type": "member_added", "username": "bob", "at": "`+at+`", "member": "erin", "role": "admin"}, `+
			`{"seq": 6, "type": "member_added", "username": "bob", "at": "`+at+`", "member": "carol", "role": "admin"}, `+
			`{"seq": 7, "type": "member_added", "username": "bob", "at": "`+at+`", "member": "frank", "role": "admin"}], "has_more": false}`)

		// Now: alice owner; bob, carol, erin, frank admins; dave member;
		// gina outside.
		add := func(usernames ...string) []mod {
			return []mod{withJSON(map[string]any{"usernames": usernames, "admin": false})}
		}
		for _, c := range []struct {
			name      string
			user      string
			room      string
			mods      []mod
			status    int
			code      string
			usernames []string
		}{
			{"a member", "dave", room, add("gina"), 403, "forbidden", nil},
			{"a member, unknown user: 403 first", "dave", room, add("zed"), 403, "forbidden", nil},
			{"a member, existing member: 403 first", "dave", room, add("bob"), 403, "forbidden", nil},
			{"a member, bad username: 400 first", "dave", room, add("b!"), 400, "invalid_username", []string{"b!"}},
			{"a member, bad JSON: 400 first", "dave", room, []mod{withBody(`{"usernames": [`)}, 400, "invalid_json", nil},
			{"not a member", "gina", room, add("gina"), 404, "room_not_found", nil},
			{"not a member, bad JSON: 404 first", "gina", room, []mod{withBody(`{"usernames": [`)}, 404, "room_not_found", nil},
			{"not a member, bad username: 404 first", "gina", room, add("b!"), 404, "room_not_found", nil},
			{"not a member, unknown user: 404 room first", "gina", room, add("zed"), 404, "room_not_found", nil},
			{"never existed", "alice", neverRoom, add("gina"), 404, "room_not_found", nil},
			{"unknown users, nobody added", "alice", room, add("zed", "gina", "nobody"), 404, "user_not_found", []string{"zed", "nobody"}},
			{"an existing member, nobody added", "alice", room, add("gina", "bob"), 409, "already_member", []string{"bob"}},
			{"existing members named in any case", "alice", room, add("DAVE", "carol"), 409, "already_member", []string{"dave", "carol"}},
			{"unknown and existing: 404 first", "alice", room, add("bob", "zed"), 404, "user_not_found", []string{"zed"}},
			{"bad username", "alice", room, add("gina", "b!"), 400, "invalid_username", []string{"b!"}},
			{"bad username and unknown: 400 first", "alice", room, add("zed", "b!"), 400, "invalid_username", []string{"b!"}},
			{"more people than one change carries", "alice", room, add(many...), 400, "too_many_members", nil},
			{"usernames not a list", "alice", room, []mod{withBody(`{"usernames": "gina"}`)}, 400, "invalid_json", nil},
			{"admin not a boolean", "alice", room, []mod{withBody(`{"usernames": ["gina"], "admin": "yes"}`)}, 400, "invalid_json", nil},
			{"stray bracket", "alice", room, []mod{withBody(`{"usernames": ["gina"]}]`)}, 400, "invalid_json", nil},
			{"over 64 KiB", "alice", room, []mod{withBody(padTo(`{"usernames": ["gina"]}`, httpapi.MaxBodyBytes+1))}, 413, "body_too_large", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					e.as(t, c.user, "add-members.json", c.room, c.mods...).wantError(t, c.status, c.code, c.usernames...)
				})
			})
		}
		e.getRoom(t, "gina", room).wantError(t, 404, "room_not_found")
	})
}

// TestRoomFull fills a room to the contract's 1000 members.
func TestRoomFull(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob")
		people := e.createUsers(t, "p", chat.MaxMembers)
		room := e.createRoom(t, "alice", "full", people[:chat.MaxMembersPerChange]...)
		for i := chat.MaxMembersPerChange; i < chat.MaxMembers-1; i += chat.MaxMembersPerChange {
			batch := people[i:min(i+chat.MaxMembersPerChange, chat.MaxMembers-1)]
			e.addMembers(t, "alice", room, false, batch...).wantStatus(t, 200)
		}
		e.notes.take()
		var got struct {
			Members []chat.Member `json:"members"`
			LastSeq int           `json:"last_seq"`
		}
		e.getRoom(t, "alice", room).decode(t, &got)
		if len(got.Members) != chat.MaxMembers {
			t.Fatalf("%d members, want %d", len(got.Members), chat.MaxMembers)
		}
		last := people[chat.MaxMembers-1]
		for _, c := range []struct {
			name      string
			usernames []string
			admin     bool
			status    int
			code      string
			named     []string
		}{
			{"one more", []string{last}, false, 400, "too_many_members", nil},
			{"one more as admin", []string{last}, true, 400, "too_many_members", nil},
			{"an unknown user: 404 first", []string{last, "zed"}, false, 404, "user_not_found", []string{"zed"}},
			{"an existing member: 409 first", []string{last, people[0]}, false, 409, "already_member", []string{people[0]}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					e.addMembers(t, "alice", room, c.admin, c.usernames...).wantError(t, c.status, c.code, c.named...)
				})
			})
		}
		// Promotion adds nobody, so a full room allows it.
		e.addMembers(t, "alice", room, true, people[0]).wantStatus(t, 200)
		e.wantChanged(t, room, chat.TypeMemberAdded)
		// Once someone leaves there is room again.
		e.removeMember(t, "alice", room, people[1]).wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeMemberRemoved)
		e.addMembers(t, "alice", room, false, last).wantStatus(t, 200)
		e.wantChanged(t, room, chat.TypeMemberAdded)
	})
}

func TestRemoveMember(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave", "erin")
		room := e.createRoom(t, "alice", "general", "bob", "carol", "dave")
		e.addMembers(t, "alice", room, true, "carol").wantStatus(t, 200)
		e.notes.take()
		e.clock.Advance(time.Minute)
		at := wireTime(t0.Add(time.Minute))

		// The file: the owner removes bob.
		e.as(t, "alice", "remove-member.json", room).wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeMemberRemoved)
		e.getRoom(t, "bob", room).wantError(t, 404, "room_not_found")
		e.listRooms(t, "bob").wantJSON(t, 200, `{"rooms": [], "next": null}`)
		// A member removes themself, named in any case.
		e.removeMember(t, "dave", room, "Dave").wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeMemberRemoved)
		// An admin removes a member, then themself.
		e.addMembers(t, "alice", room, false, "bob").wantStatus(t, 200)
		e.notes.take()
		e.removeMember(t, "carol", room, "bob").wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeMemberRemoved)
		e.removeMember(t, "carol", room, "carol").wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeMemberRemoved)
		e.getRoom(t, "alice", room).wantJSON(t, 200, roomJSON(room, "general", t0, 7, "alice/owner"))
		e.events(t, "alice", room, "after_seq=2").wantJSON(t, 200, `{"events": [`+
			`{"seq": 3, "type": "member_removed", "username": "alice", "at": "`+at+`", "member": "bob"}, `+
			`{"seq": 4, "type": "member_removed", "username": "dave", "at": "`+at+`", "member": "dave"}, `+
			`{"seq": 5, "type": "member_added", "username": "alice", "at": "`+at+`", "member": "bob", "role": "member"}, `+
			`{"seq": 6, "type": "member_removed", "username": "carol", "at": "`+at+`", "member": "bob"}, `+
			`{"seq": 7, "type": "member_removed", "username": "carol", "at": "`+at+`", "member": "carol"}], "has_more": false}`)

		// A fresh room: alice owner, carol admin, bob and dave members,
		// erin outside.
		room2 := e.createRoom(t, "alice", "second", "bob", "carol", "dave")
		e.addMembers(t, "alice", room2, true, "carol").wantStatus(t, 200)
		e.notes.take()
		for _, c := range []struct {
			name, user, room, member string
			status                   int
			code                     string
			usernames                []string
		}{
			{"a member removes another", "bob", room2, "dave", 403, "forbidden", nil},
			{"a member removes the owner", "bob", room2, "alice", 403, "forbidden", nil},
			{"a member removes an admin", "bob", room2, "carol", 403, "forbidden", nil},
			{"a member removes a non-member: 403 first", "bob", room2, "erin", 403, "forbidden", nil},
			{"a member removes no one: 403 first", "bob", room2, "zed", 403, "forbidden", nil},
			{"an admin removes the owner", "carol", room2, "alice", 403, "forbidden", nil},
			{"the owner removes themself", "alice", room2, "alice", 403, "forbidden", nil},
			{"the owner removes themself in upper case", "alice", room2, "ALICE", 403, "forbidden", nil},
			{"removing a non-member", "alice", room2, "erin", 404, "user_not_found", []string{"erin"}},
			{"removing someone with no account", "alice", room2, "zed", 404, "user_not_found", []string{"zed"}},
			{"removing an impossible name", "alice", room2, "B@d!", 404, "user_not_found", []string{"B@d!"}},
			{"a former member removes themself", "bob", room, "bob", 404, "room_not_found", nil},
			{"not a member", "erin", room2, "bob", 404, "room_not_found", nil},
			{"not a member removes themself", "erin", room2, "erin", 404, "room_not_found", nil},
			{"not a member removes the owner", "erin", room2, "alice", 404, "room_not_found", nil},
			{"never existed", "alice", neverRoom, "bob", 404, "room_not_found", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					e.removeMember(t, c.user, c.room, c.member).wantError(t, c.status, c.code, c.usernames...)
				})
			})
		}
	})
}

func TestDeleteRoom(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave")
		room := e.createRoom(t, "alice", "general", "bob", "carol")
		other := e.createRoom(t, "bob", "other", "alice")
		e.addMembers(t, "alice", room, true, "carol").wantStatus(t, 200)
		e.notes.take()

		var notFound string
		for _, c := range []struct {
			name, user, room string
			status           int
			code             string
		}{
			{"a member", "bob", room, 403, "forbidden"},
			{"an admin", "carol", room, 403, "forbidden"},
			{"not a member", "dave", room, 404, "room_not_found"},
			{"never existed", "alice", neverRoom, 404, "room_not_found"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					r := e.as(t, c.user, "delete-room.json", c.room)
					r.wantError(t, c.status, c.code)
					if c.status == 404 {
						notFound = r.Body
					}
				})
			})
		}

		e.clock.Advance(time.Minute)
		e.as(t, "alice", "delete-room.json", room).wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeRoomDeleted)
		page, err := e.raw.ReadBackward(context.Background(), room, 0, 1)
		if err != nil || len(page.Events) != 1 || page.Events[0].Type() != chat.TypeRoomDeleted || page.Events[0].Username != "alice" {
			t.Fatalf("last stored event %+v (%v), want alice's room_deleted", page.Events, err)
		}

		// Afterwards the room is 404 everywhere, to everyone, whatever else
		// is wrong with the request, and listed nowhere.
		e.unchanged(t, func() {
			for _, user := range []string{"alice", "bob", "carol", "dave"} {
				for _, c := range []struct {
					file string
					mods []mod
				}{
					{"get-room.json", nil},
					{"rename-room.json", nil},
					{"rename-room-invalid-json.json", nil},
					{"add-members.json", nil},
					{"add-admins.json", nil},
					{"add-members.json", []mod{withBody(`{"usernames": [`)}},
					{"remove-member.json", nil},
					{"remove-member.json", []mod{withParam("username", user)}},
					{"delete-room.json", nil},
					{"list-events.json", nil},
					{"list-events-after.json", nil},
					{"list-events-invalid-query.json", nil},
				} {
					t.Run(user+"/"+c.file, func(t *testing.T) {
						r := e.as(t, user, c.file, room, c.mods...)
						r.wantError(t, 404, "room_not_found")
						if r.Body != notFound {
							t.Errorf("body %s, want the same as for a room that never existed: %s", r.Body, notFound)
						}
					})
				}
			}
		})
		e.listRooms(t, "alice").wantJSON(t, 200, `{"rooms": [`+summaryJSON(other, "other", "bob", "member", 1, t0, 1)+`], "next": null}`)
		e.listRooms(t, "carol").wantJSON(t, 200, `{"rooms": [], "next": null}`)
		e.getRoom(t, "alice", other).wantStatus(t, 200)
	})
}

func TestEvents(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		people := e.createUsers(t, "p", chat.MaxMembersPerChange)
		room := e.createRoom(t, "alice", "general", "bob")
		e.addMembers(t, "alice", room, false, people...).wantStatus(t, 200) // seq 2..50
		e.as(t, "alice", "rename-room.json", room).wantStatus(t, 200)       // seq 51
		e.notes.take()

		seqs := func(from, to int) []int {
			var out []int
			for s := from; s <= to; s++ {
				out = append(out, s)
			}
			return out
		}
		type page struct {
			Events []struct {
				Seq  int    `json:"seq"`
				Type string `json:"type"`
			} `json:"events"`
			HasMore *bool `json:"has_more"`
		}
		// Reading changes nothing: one snapshot around all the reads.
		e.unchanged(t, func() {
			for _, c := range []struct {
				name    string
				file    string
				query   *string
				want    []int
				hasMore bool
			}{
				{"newest page, default limit (file)", "list-events.json", nil, seqs(2, 51), true},
				{"before_seq=4&limit=2 (file)", "list-events-before.json", nil, seqs(2, 3), true},
				{"after_seq=1&limit=2 (file)", "list-events-after.json", nil, seqs(2, 3), true},
				{"before the third", "", ptr("before_seq=3&limit=2"), seqs(1, 2), false},
				{"before the first", "", ptr("before_seq=1"), nil, false},
				{"before zero", "", ptr("before_seq=0"), nil, false},
				{"before past the newest: the newest page", "", ptr("before_seq=1000&limit=2"), seqs(50, 51), true},
				{"before past the newest, default limit", "", ptr("before_seq=99999"), seqs(2, 51), true},
				{"newest, limit 1", "", ptr("limit=1"), seqs(51, 51), true},
				{"newest, limit 200", "", ptr("limit=200"), seqs(1, 51), false},
				{"after zero: from the start", "", ptr("after_seq=0&limit=3"), seqs(1, 3), true},
				{"after, default limit", "", ptr("after_seq=0"), seqs(1, 50), true},
				{"after, to the end", "", ptr("after_seq=49&limit=2"), seqs(50, 51), false},
				{"after, reaching the end exactly", "", ptr("after_seq=48&limit=3"), seqs(49, 51), false},
				{"after the last", "", ptr("after_seq=51"), nil, false},
				{"after past the end", "", ptr("after_seq=5000"), nil, false},
				// The largest seq: a cursor + 1 must not wrap round to the first.
				{"after the largest seq", "", ptr("after_seq=9223372036854775807"), nil, false},
				{"after one short of the largest seq", "", ptr("after_seq=9223372036854775806&limit=2"), nil, false},
				{"before the largest seq: the newest page", "", ptr("before_seq=9223372036854775807&limit=2"), seqs(50, 51), true},
				{"unknown parameters ignored", "", ptr("limit=2&cursor=x"), seqs(50, 51), true},
			} {
				t.Run(c.name, func(t *testing.T) {
					func() {
						file, mods := c.file, []mod(nil)
						if file == "" {
							file = "list-events.json"
						}
						if c.query != nil {
							mods = append(mods, withQuery(*c.query))
						}
						r := e.as(t, "bob", file, room, mods...)
						r.wantStatus(t, 200)
						var p page
						r.decode(t, &p)
						var got []int
						for _, ev := range p.Events {
							got = append(got, ev.Seq)
						}
						if fmt.Sprint(got) != fmt.Sprint(c.want) || p.HasMore == nil || *p.HasMore != c.hasMore {
							t.Fatalf("%s: seqs %v has_more %v, want %v and %v", r.req.RawQueryString, got, p.HasMore, c.want, c.hasMore)
						}
						if !strings.HasPrefix(r.Body, `{"events":[`) {
							t.Fatalf("%s: events is not a list", r)
						}
					}()
				})
			}
		})

		// The fields of each kind of event, exactly.
		small := e.createRoom(t, "alice", "small", "bob")
		e.clock.Advance(time.Second)
		e.as(t, "alice", "rename-room.json", small).wantStatus(t, 200)
		e.addMembers(t, "alice", small, false, "carol").wantStatus(t, 200)
		e.addMembers(t, "alice", small, true, "carol").wantStatus(t, 200)
		e.removeMember(t, "carol", small, "bob").wantStatus(t, 204)
		e.notes.take()
		at0, at1 := wireTime(t0), wireTime(t0.Add(time.Second))
		e.as(t, "carol", "list-events.json", small).wantJSON(t, 200, `{"events": [`+
			`{"seq": 1, "type": "room_created", "username": "alice", "at": "`+at0+`", "name": "small", "members": ["bob"]}, `+
			`{"seq": 2, "type": "room_renamed", "username": "alice", "at": "`+at1+`", "name": "random"}, `+
			`{"seq": 3, "type": "member_added", "username": "alice", "at": "`+at1+`", "member": "carol", "role": "member"}, `+
			`{"seq": 4, "type": "member_added", "username": "alice", "at": "`+at1+`", "member": "carol", "role": "admin"}, `+
			`{"seq": 5, "type": "member_removed", "username": "carol", "at": "`+at1+`", "member": "bob"}], "has_more": false}`)

		e.unchanged(t, func() {
			for _, c := range []struct {
				name, user, room string
				file             string
				query            string
				status           int
				code             string
			}{
				{"both cursors (file)", "bob", room, "list-events-invalid-query.json", "", 400, "invalid_query"},
				{"both cursors, valid values", "bob", room, "", "before_seq=5&after_seq=1", 400, "invalid_query"},
				{"before not an integer", "bob", room, "", "before_seq=abc", 400, "invalid_query"},
				{"before negative", "bob", room, "", "before_seq=-1", 400, "invalid_query"},
				{"before empty", "bob", room, "", "before_seq=", 400, "invalid_query"},
				{"before too big", "bob", room, "", "before_seq=99999999999999999999", 400, "invalid_query"},
				{"after a fraction", "bob", room, "", "after_seq=1.5", 400, "invalid_query"},
				{"after negative", "bob", room, "", "after_seq=-3", 400, "invalid_query"},
				{"after repeated", "bob", room, "", "after_seq=1&after_seq=2", 400, "invalid_query"},
				{"limit zero", "bob", room, "", "limit=0", 400, "invalid_query"},
				{"limit 201", "bob", room, "", "limit=201", 400, "invalid_query"},
				{"limit negative", "bob", room, "", "limit=-5", 400, "invalid_query"},
				{"limit not an integer", "bob", room, "", "limit=ten", 400, "invalid_query"},
				{"limit empty", "bob", room, "", "limit=", 400, "invalid_query"},
				{"not a member", "carol", room, "", "", 404, "room_not_found"},
				{"not a member, bad query: 404 first (file)", "carol", room, "list-events-invalid-query.json", "", 404, "room_not_found"},
				{"not a member, bad limit: 404 first", "carol", room, "", "limit=0", 404, "room_not_found"},
				{"a former member", "bob", small, "", "", 404, "room_not_found"},
				{"never existed", "bob", neverRoom, "", "", 404, "room_not_found"},
				{"never existed, bad query", "bob", neverRoom, "", "before_seq=x", 404, "room_not_found"},
			} {
				t.Run(c.name, func(t *testing.T) {
					file, mods := c.file, []mod(nil)
					if file == "" {
						file, mods = "list-events.json", []mod{withQuery(c.query)}
					}
					e.as(t, c.user, file, c.room, mods...).wantError(t, c.status, c.code)
				})
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }

// TestCheckOrder sends requests with several faults at once and checks
// the contract's order: 401, then 404 for non-members, then 400, then 403,
// then 404 user_not_found, then 409, then 400 too_many_members.
func TestCheckOrder(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol", "dave")
		room := e.createRoom(t, "alice", "general", "bob", "carol")
		e.addMembers(t, "alice", room, true, "carol").wantStatus(t, 200)
		e.notes.take()
		unknownToken := strings.Repeat("A", 43)
		badJSON := withBody(`{"usernames": ["x"`)
		for _, c := range []struct {
			name      string
			token     string // overrides user
			user      string
			file      string
			room      string
			mods      []mod
			status    int
			code      string
			usernames []string
		}{
			{"401 before 404 room", unknownToken, "", "get-room.json", neverRoom, nil, 401, "unauthenticated", nil},
			{"401 before 404 and 400", unknownToken, "", "add-members.json", neverRoom, []mod{badJSON}, 401, "unauthenticated", nil},
			{"401 before 400 query", unknownToken, "", "list-events-invalid-query.json", room, nil, 401, "unauthenticated", nil},
			{"401 before 413", unknownToken, "", "rename-room.json", room, []mod{withBody(padTo(`{}`, httpapi.MaxBodyBytes+1))}, 401, "unauthenticated", nil},
			{"no token before bad JSON", "", "", "create-room-invalid-json.json", "", []mod{withHeader("authorization", "")}, 401, "unauthenticated", nil},
			{"404 room before 400 JSON (PATCH)", "", "dave", "rename-room-invalid-json.json", room, nil, 404, "room_not_found", nil},
			{"404 room before 400 JSON (members)", "", "dave", "add-members.json", room, []mod{badJSON}, 404, "room_not_found", nil},
			{"404 room before 400 query", "", "dave", "list-events-invalid-query.json", room, nil, 404, "room_not_found", nil},
			{"404 room before 400 name", "", "dave", "rename-room.json", room, []mod{withBody(`{"name": ""}`)}, 404, "room_not_found", nil},
			{"404 room before 403 and 404 user", "", "dave", "remove-member.json", room, []mod{withParam("username", "zed")}, 404, "room_not_found", nil},
			{"404 room before 409", "", "dave", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"bob"}})}, 404, "room_not_found", nil},
			{"400 JSON before 403", "", "bob", "add-members.json", room, []mod{badJSON}, 400, "invalid_json", nil},
			{"400 username before 403", "", "bob", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"no!"}})}, 400, "invalid_username", []string{"no!"}},
			{"400 name before 403", "", "bob", "rename-room.json", room, []mod{withBody(`{"name": "\u0000"}`)}, 400, "invalid_room_name", nil},
			{"403 before 404 user", "", "bob", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"zed"}})}, 403, "forbidden", nil},
			{"403 before 409", "", "bob", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"carol"}})}, 403, "forbidden", nil},
			{"403 before 404 user (remove)", "", "bob", "remove-member.json", room, []mod{withParam("username", "zed")}, 403, "forbidden", nil},
			{"404 user before 409", "", "carol", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"bob", "zed"}})}, 404, "user_not_found", []string{"zed"}},
			{"409 for every existing member", "", "carol", "add-members.json", room, []mod{withJSON(map[string]any{"usernames": []string{"bob", "dave", "alice"}})}, 409, "already_member", []string{"bob", "alice"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				token := c.token
				if c.user != "" {
					token = e.token(t, c.user)
				}
				e.unchanged(t, func() {
					e.send(t, "rooms", c.file, token, c.room, c.mods...).wantError(t, c.status, c.code, c.usernames...)
				})
			})
		}
	})
}
