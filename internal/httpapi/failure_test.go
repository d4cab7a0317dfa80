package httpapi_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chatroom/chat/internal/chat"
)

// TestInternalErrors makes one store call fail or panic per case and checks
// the answer is a 500 `internal` that says nothing of the cause, which goes
// to the log as one JSON line with the request id.
func TestInternalErrors(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		room := e.createRoom(t, "alice", "general", "bob")
		e.secret("correct horse battery staple", "Tr0ub4dor&3")
		e.logs.take()

		type fault struct {
			method string
			err    error
			panic  any
		}
		refused := fault{err: connRefused}
		aliceLogin := []mod{withJSON(map[string]string{"username": "alice", "password": passwordOf("alice")})}
		cases := []struct {
			name string
			fn   string
			file string
			user string // whose token; "" for none
			room string
			mods []mod
			// The store call made to fail; Counter in a login comes first.
			method string
			panic  any
			// sideEffect is set when the request legitimately changed the
			// store before the failing call.
			sideEffect bool
		}{
			{name: "signup: create user", fn: "auth", file: "signup.json", mods: []mod{withJSON(map[string]string{"username": "zed", "password": "a long password"})}, method: "CreateUser"},
			{name: "signup: create session", fn: "auth", file: "signup.json", mods: []mod{withJSON(map[string]string{"username": "zed", "password": "a long password"})}, method: "CreateSession", sideEffect: true},
			{name: "login: read counter", fn: "auth", file: "login.json", mods: aliceLogin, method: "Counter"},
			{name: "login: read user", fn: "auth", file: "login.json", mods: aliceLogin, method: "User"},
			{name: "login: create session", fn: "auth", file: "login.json", mods: aliceLogin, method: "CreateSession"},
			{name: "login: count a failure", fn: "auth", file: "login-wrong-password.json", method: "IncrementCounter"},
			{name: "logout: delete session", fn: "auth", file: "logout.json", user: "alice", method: "DeleteSession"},
			{name: "me: read session", fn: "auth", file: "me.json", user: "alice", method: "Session"},
			{name: "rooms: read session", fn: "rooms", file: "get-room.json", user: "alice", room: room, method: "Session"},
			{name: "create room: look up members", fn: "rooms", file: "create-room.json", user: "alice", method: "ExistingUsers"},
			{name: "create room: append", fn: "rooms", file: "create-room.json", user: "alice", method: "Append"},
			{name: "create room: load", fn: "rooms", file: "create-room.json", user: "alice", method: "Room"},
			{name: "list rooms", fn: "rooms", file: "list-rooms.json", user: "alice", method: "RoomsOf"},
			{name: "get room", fn: "rooms", file: "get-room.json", user: "alice", room: room, method: "Room"},
			{name: "rename: load", fn: "rooms", file: "rename-room.json", user: "alice", room: room, method: "Room"},
			{name: "rename: append", fn: "rooms", file: "rename-room.json", user: "alice", room: room, method: "Append"},
			{name: "rename, bad JSON: membership check", fn: "rooms", file: "rename-room-invalid-json.json", user: "alice", room: room, method: "RoomAs"},
			{name: "add members: look up", fn: "rooms", file: "add-members.json", user: "alice", room: room, method: "ExistingUsers"},
			{name: "add members: append", fn: "rooms", file: "add-members.json", user: "alice", room: room, mods: []mod{withJSON(map[string]any{"usernames": []string{"carol"}})}, method: "Append"},
			{name: "remove member: append", fn: "rooms", file: "remove-member.json", user: "alice", room: room, method: "Append"},
			{name: "delete room: append", fn: "rooms", file: "delete-room.json", user: "alice", room: room, method: "Append"},
			{name: "events: membership", fn: "rooms", file: "list-events.json", user: "alice", room: room, method: "RoomAs"},
			{name: "events: newest page", fn: "rooms", file: "list-events.json", user: "alice", room: room, method: "ReadBackward"},
			{name: "events: before", fn: "rooms", file: "list-events-before.json", user: "alice", room: room, method: "ReadBackward"},
			{name: "events: after", fn: "rooms", file: "list-events-after.json", user: "alice", room: room, method: "ReadForward"},
			{name: "events, bad query: membership check", fn: "rooms", file: "list-events-invalid-query.json", user: "alice", room: room, method: "RoomAs"},

			{name: "panic: list rooms", fn: "rooms", file: "list-rooms.json", user: "alice", method: "RoomsOf", panic: "boom"},
			{name: "panic with an error: append", fn: "rooms", file: "rename-room.json", user: "alice", room: room, method: "Append", panic: connRefused},
			{name: "panic: authentication", fn: "auth", file: "me.json", user: "alice", method: "Session", panic: fmt.Sprintf("cannot reach %v", connRefused)},
			{name: "panic: signup", fn: "auth", file: "signup.json", mods: []mod{withJSON(map[string]string{"username": "zed", "password": "a long password"})}, method: "CreateUser", panic: "boom"},
			{name: "panic: login", fn: "auth", file: "login.json", mods: aliceLogin, method: "User", panic: "boom"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f := refused
				f.method = c.method
				if c.panic != nil {
					f.err, f.panic = nil, c.panic
				}
				token := ""
				if c.user != "" {
					token = e.token(t, c.user)
				}
				before := e.snapshot(t)
				e.notes.take()
				e.logs.take()

				e.st.set(f.method, f.err, f.panic)
				r := e.send(t, c.fn, c.file, token, c.room, c.mods...)
				e.st.clear()

				r.wantJSON(t, 500, `{"error": {"code": "internal", "message": "~."}}`)
				var body struct {
					Error struct{ Message string } `json:"error"`
				}
				r.decode(t, &body)
				for _, leak := range []string{"refused", "dial", "10.0.3.7", "8000", "boom", "panic", "store", "goroutine", c.method} {
					if strings.Contains(strings.ToLower(r.Body), strings.ToLower(leak)) {
						t.Errorf("the 500 body leaks %q: %s", leak, r.Body)
					}
				}
				cause := "connection refused"
				if s, ok := c.panic.(string); ok {
					cause = s
				}
				rec := wantLogLine(t, e.logs.take(), "ERROR", r.req.RequestContext.RequestID, cause)
				if c.panic != nil && !strings.Contains(fmt.Sprint(rec["error"]), "panic") {
					t.Errorf("the log line does not say it was a panic: %v", rec)
				}
				if n := e.notes.take(); len(n) != 0 {
					t.Errorf("a failed request notified: %s", describeNotes(n))
				}
				if after := e.snapshot(t); after != before && !c.sideEffect {
					t.Errorf("the store changed on a failed request:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			})
		}

		// With the store back, everything works again.
		e.getRoom(t, "alice", room).wantJSON(t, 200, roomJSON(room, "general", t0, 1, "alice/owner", "bob/member"))
	})
}

// TestNotifierFailure: a change is stored and answered even when telling
// the room's connections fails; the failure is logged.
func TestNotifierFailure(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob", "carol")
		room := e.createRoom(t, "alice", "general", "bob")
		e.logs.take()
		e.notes.failWith(errors.New("post to connection: 503 from the management API"))

		r := e.as(t, "alice", "add-members.json", room, withJSON(map[string]any{"usernames": []string{"carol"}}))
		r.wantJSON(t, 200, roomJSON(room, "general", t0, 2, "alice/owner", "bob/member", "carol/member"))
		e.wantChanged(t, room, chat.TypeMemberAdded)
		rec := wantLogLine(t, e.logs.take(), "WARN", r.req.RequestContext.RequestID, "503 from the management API")
		if rec["room_id"] != room {
			t.Errorf("log line %v: want room_id %s", rec, room)
		}
		e.getRoom(t, "carol", room).wantStatus(t, 200)

		r = e.as(t, "alice", "delete-room.json", room)
		r.wantStatus(t, 204)
		e.wantChanged(t, room, chat.TypeRoomDeleted)
		wantLogLine(t, e.logs.take(), "WARN", r.req.RequestContext.RequestID, "503")
		e.getRoom(t, "alice", room).wantError(t, 404, "room_not_found")
	})
}

// TestRouteNotFound: a route the function does not serve, however it
// arrives.
func TestRouteNotFound(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice")
		room := e.createRoom(t, "alice", "general")
		tok := e.token(t, "alice")
		dflt := func(method, path string) mod {
			return func(ev *eventT) {
				ev.RouteKey, ev.RequestContext.RouteKey = "$default", "$default"
				ev.RequestContext.HTTP.Method = method
				ev.RawPath, ev.RequestContext.HTTP.Path = path, path
				ev.PathParameters = nil
			}
		}
		e.unchanged(t, func() {
			for _, c := range []struct {
				name     string
				from, to string // the function whose file is sent, the one that gets it
				file     string
				token    string
				mods     []mod
			}{
				{"the file", "auth", "auth", "route-not-found.json", "", nil},
				{"the catch-all route (file)", "rooms", "rooms", "route-not-found.json", tok, nil},
				{"the catch-all route, no token", "rooms", "rooms", "route-not-found.json", "", []mod{withHeader("authorization", "")}},
				{"the catch-all route, bad token", "rooms", "rooms", "route-not-found.json", "bad", nil},
				{"the file, with a token", "auth", "auth", "route-not-found.json", "", []mod{withHeader("authorization", "Bearer "+tok)}},
				{"a rooms route at the auth function", "rooms", "auth", "list-rooms.json", tok, nil},
				{"an auth route at the rooms function", "auth", "rooms", "me.json", tok, nil},
				{"signup at the rooms function", "auth", "rooms", "signup.json", "", nil},
				{"another method", "rooms", "rooms", "get-room.json", tok, []mod{dflt("PUT", "/rooms/"+room)}},
				{"a longer path", "rooms", "rooms", "get-room.json", tok, []mod{dflt("GET", "/rooms/"+room+"/members")}},
				{"a shorter path", "rooms", "rooms", "get-room.json", tok, []mod{dflt("DELETE", "/rooms")}},
				{"an empty room id", "rooms", "rooms", "get-room.json", tok, []mod{dflt("GET", "/rooms//events")}},
				{"the API prefix on the $default stage", "rooms", "rooms", "get-room.json", tok, []mod{dflt("GET", "/api/rooms/"+room)}},
				{"no token needed to hear it", "rooms", "rooms", "get-room.json", "", []mod{dflt("POST", "/rooms/"+room)}},
			} {
				t.Run(c.name, func(t *testing.T) {
					ev := load(t, c.from, c.file, c.token, room, c.mods...)
					e.handle(t, c.to, ev).wantError(t, 404, "route_not_found")
				})
			}
		})

		// A catch-all route key falls back to the method and path, on the
		// $default stage and on a named one.
		want := roomJSON(room, "general", t0, 1, "alice/owner")
		e.as(t, "alice", "get-room.json", room, dflt("GET", "/rooms/"+room)).wantJSON(t, 200, want)
		e.as(t, "alice", "get-room.json", room, dflt("GET", "/api/rooms/"+room), func(ev *eventT) { ev.RequestContext.Stage = "api" }).wantJSON(t, 200, want)
		// template.yaml deploys the HTTP API on a named stage: its events
		// carry the stage in rawPath and the route key as declared.
		e.as(t, "alice", "get-room.json", room, func(ev *eventT) {
			ev.RequestContext.Stage = "prod"
			ev.RawPath = "/prod" + ev.RawPath
		}).wantJSON(t, 200, want)
		e.as(t, "alice", "rename-room.json", room, dflt("PATCH", "/rooms/"+room+"/")).wantStatus(t, 200)
		e.wantChanged(t, room, chat.TypeRoomRenamed)
		e.as(t, "alice", "remove-member.json", room, dflt("DELETE", "/rooms/"+room+"/members/zed")).wantError(t, 404, "user_not_found", "zed")
	})
}

// TestRouteKeys: each function serves the routes of the contract's table
// that belong to it and nothing else, besides catch-alls (METHOD
// /{proxy+}) that answer route_not_found, to anyone, for any path.
func TestRouteKeys(t *testing.T) {
	e := newEnv(t, adapters[0].Open(t))
	e.signup(t, "alice")
	for _, c := range []struct {
		fn   string
		h    []string
		want []string
	}{
		{"auth", e.auth.RouteKeys(), []string{"GET /me", "POST /auth/login", "POST /auth/logout", "POST /auth/signup", "POST /auth/ticket"}},
		{"rooms", e.rooms.RouteKeys(), []string{
			"DELETE /me/blocks/{username}", "DELETE /rooms/{room_id}", "DELETE /rooms/{room_id}/members/{username}",
			"GET /me/blocks", "GET /rooms", "GET /rooms/{room_id}", "GET /rooms/{room_id}/events", "PATCH /rooms/{room_id}",
			"POST /dms", "POST /me/blocks", "POST /rooms", "POST /rooms/{room_id}/members", "POST /rooms/{room_id}/read",
		}},
	} {
		var got, catchAll []string
		for _, k := range c.h {
			if isCatchAll(k) {
				catchAll = append(catchAll, k)
			} else {
				got = append(got, k)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s serves %q, want %q", c.fn, got, c.want)
		}
		for _, k := range catchAll {
			method, _, _ := strings.Cut(k, " ")
			if method == "OPTIONS" {
				t.Errorf("%s: %s would take CORS preflights from API Gateway", c.fn, k)
			}
			for _, token := range []string{"", e.token(t, "alice")} {
				for _, path := range []string{"/nothing", "/rooms/x/y/z", "/me"} {
					ev := load(t, "rooms", "route-not-found.json", token, "r", func(ev *eventT) {
						ev.RouteKey, ev.RequestContext.RouteKey, ev.RequestContext.HTTP.Method = k, k, method
						ev.RawPath, ev.RequestContext.HTTP.Path = path, path
						ev.PathParameters = map[string]string{"proxy": strings.TrimPrefix(path, "/")}
					})
					e.handle(t, c.fn, ev).wantError(t, 404, "route_not_found")
				}
			}
		}
	}
}
