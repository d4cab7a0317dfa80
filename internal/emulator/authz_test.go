package emulator_test

// The authorization matrix: who may do what to one room, over real HTTP and
// WebSocket connections, with the exact answers of the wire contract (docs/api.md).
// Each cell runs on its own fresh room (newAuthzFixture), so destructive
// cells cannot disturb the others; refused cells must leave the room and its
// events exactly as they were.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatroom/chat/internal/emulator"
)

// azPersona is who acts, relative to the fixture's room.
type azPersona string

const (
	asOwner     azPersona = "owner"      // created the room
	asAdmin     azPersona = "admin"      // promoted with admin:true by the owner
	asMember    azPersona = "member"     // added at creation, role member
	asRemoved   azPersona = "removed"    // added at creation, then removed by the admin
	asOutsider  azPersona = "outsider"   // signed up, never in the room
	asAnonymous azPersona = "anonymous"  // no token at all
	asLoggedOut azPersona = "logged_out" // an admin of the room whose token was revoked by POST /auth/logout
)

var azPersonas = []azPersona{asOwner, asAdmin, asMember, asRemoved, asOutsider, asAnonymous, asLoggedOut}

// azAction is one thing a persona tries.
type azAction string

const (
	actGetRoom     azAction = "GET room"             // GET /rooms/{id}
	actPatchRoom   azAction = "PATCH room"           // PATCH /rooms/{id} {"name"}
	actDeleteRoom  azAction = "DELETE room"          // DELETE /rooms/{id}
	actAddMember   azAction = "POST members"         // POST /rooms/{id}/members {"usernames":[newcomer]}
	actPromote     azAction = "POST members admin"   // POST /rooms/{id}/members {"usernames":[other member],"admin":true}
	actRemoveSelf  azAction = "DELETE members self"  // DELETE /rooms/{id}/members/{caller}
	actRemoveOther azAction = "DELETE members other" // DELETE /rooms/{id}/members/{another plain member}
	actGetEvents   azAction = "GET events"           // GET /rooms/{id}/events
	actGetMe       azAction = "GET me"               // GET /me
	actListRooms   azAction = "GET rooms"            // GET /rooms
	actCreateRoom  azAction = "POST rooms"           // POST /rooms
	actLogout      azAction = "POST logout"          // POST /auth/logout
	actConnect     azAction = "ws connect"           // the handshake, /ws?ticket=
	actJoin        azAction = "ws join_room"         // join_room
	actSend        azAction = "ws send_message"      // join_room, then send_message on the same connection
	actTyping      azAction = "ws typing"            // join_room, then typing (seen by another joined connection)
	actLeave       azAction = "ws leave_room"        // join_room, then leave_room
)

var azActions = []azAction{
	actGetRoom, actPatchRoom, actDeleteRoom, actAddMember, actPromote, actRemoveSelf, actRemoveOther, actGetEvents,
	actGetMe, actListRooms, actCreateRoom, actLogout,
	actConnect, actJoin, actSend, actTyping, actLeave,
}

// azExpect is the contract's answer in one cell. HTTP: status and error
// code. WebSocket: the handshake status (101 or 401), then the frame that
// answers the action ("error" with its code).
type azExpect struct {
	status int
	code   string
	frame  string
}

func (x azExpect) String() string {
	return strings.Join(strings.Fields(fmt.Sprintf("%d %s %s", x.status, x.frame, x.code)), " ")
}

// refused: the action must change nothing.
func (x azExpect) refused() bool { return x.status >= 400 || x.frame == "error" }

var (
	wantOK200        = azExpect{status: 200}
	wantOK201        = azExpect{status: 201}
	wantOK204        = azExpect{status: 204}
	wantUnauth       = azExpect{status: 401, code: "unauthenticated"}
	wantForbidden    = azExpect{status: 403, code: "forbidden"}
	wantRoomNotFound = azExpect{status: 404, code: "room_not_found"}
	wantUpgrade      = azExpect{status: 101}
	wantHandshake401 = azExpect{status: 401} // "nothing else is sent"
)

func wantFrame(typ string) azExpect    { return azExpect{status: 101, frame: typ} }
func wantWSError(code string) azExpect { return azExpect{status: 101, frame: "error", code: code} }

// azMatrix is the whole contract, action by persona.
var azMatrix = map[azAction]map[azPersona]azExpect{
	actGetRoom:     {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantOK200, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actPatchRoom:   {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantForbidden, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actDeleteRoom:  {asOwner: wantOK204, asAdmin: wantForbidden, asMember: wantForbidden, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actAddMember:   {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantForbidden, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actPromote:     {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantForbidden, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actRemoveSelf:  {asOwner: wantForbidden, asAdmin: wantOK204, asMember: wantOK204, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actRemoveOther: {asOwner: wantOK204, asAdmin: wantOK204, asMember: wantForbidden, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actGetEvents:   {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantOK200, asRemoved: wantRoomNotFound, asOutsider: wantRoomNotFound, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actGetMe:       {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantOK200, asRemoved: wantOK200, asOutsider: wantOK200, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actListRooms:   {asOwner: wantOK200, asAdmin: wantOK200, asMember: wantOK200, asRemoved: wantOK200, asOutsider: wantOK200, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actCreateRoom:  {asOwner: wantOK201, asAdmin: wantOK201, asMember: wantOK201, asRemoved: wantOK201, asOutsider: wantOK201, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actLogout:      {asOwner: wantOK204, asAdmin: wantOK204, asMember: wantOK204, asRemoved: wantOK204, asOutsider: wantOK204, asAnonymous: wantUnauth, asLoggedOut: wantUnauth},
	actConnect:     {asOwner: wantUpgrade, asAdmin: wantUpgrade, asMember: wantUpgrade, asRemoved: wantUpgrade, asOutsider: wantUpgrade, asAnonymous: wantHandshake401, asLoggedOut: wantHandshake401},
	actJoin:        {asOwner: wantFrame("history"), asAdmin: wantFrame("history"), asMember: wantFrame("history"), asRemoved: wantWSError("room_not_found"), asOutsider: wantWSError("room_not_found"), asAnonymous: wantHandshake401, asLoggedOut: wantHandshake401},
	actSend:        {asOwner: wantFrame("receive_message"), asAdmin: wantFrame("receive_message"), asMember: wantFrame("receive_message"), asRemoved: wantWSError("not_joined"), asOutsider: wantWSError("not_joined"), asAnonymous: wantHandshake401, asLoggedOut: wantHandshake401},
	actTyping:      {asOwner: wantFrame("typing"), asAdmin: wantFrame("typing"), asMember: wantFrame("typing"), asRemoved: wantWSError("not_joined"), asOutsider: wantWSError("not_joined"), asAnonymous: wantHandshake401, asLoggedOut: wantHandshake401},
	actLeave:       {asOwner: wantFrame("leave_room_announcement"), asAdmin: wantFrame("leave_room_announcement"), asMember: wantFrame("leave_room_announcement"), asRemoved: wantWSError("not_joined"), asOutsider: wantWSError("not_joined"), asAnonymous: wantHandshake401, asLoggedOut: wantHandshake401},
}

// azListed: does GET /rooms list the fixture's room (for the 200 cells)?
// "every room the caller owns or was added to"; a room the caller is not a
// member of "is the same answer everywhere", so not for the removed member.
var azListed = map[azPersona]bool{asOwner: true, asAdmin: true, asMember: true, asRemoved: false, asOutsider: false}

// azDynamoRow is the subset run on DynamoDB Local: one cell per action.
var azDynamoRow = map[azAction]azPersona{
	actGetRoom: asRemoved, actPatchRoom: asMember, actDeleteRoom: asAdmin, actAddMember: asOutsider,
	actPromote: asMember, actRemoveSelf: asOwner, actRemoveOther: asAdmin, actGetEvents: asOutsider,
	actGetMe: asLoggedOut, actListRooms: asRemoved, actCreateRoom: asAnonymous, actLogout: asLoggedOut,
	actConnect: asAnonymous, actJoin: asRemoved, actSend: asMember, actTyping: asOutsider, actLeave: asAdmin,
}

// azCellParallelism bounds the cells in flight on one emulator; most of a
// cell's time is spent waiting on the network, not on the CPU.
const azCellParallelism = 8

func TestAuthzMatrix(t *testing.T) {
	for _, a := range azActions {
		if len(azMatrix[a]) != len(azPersonas) {
			t.Fatalf("the matrix row %q has %d personas, want %d", a, len(azMatrix[a]), len(azPersonas))
		}
		if azRun[a].do == nil {
			t.Fatalf("no implementation for %q", a)
		}
	}
	if len(azMatrix) != len(azActions) || len(azDynamoRow) != len(azActions) {
		t.Fatal("azMatrix, azDynamoRow and azActions disagree")
	}
	for name, opts := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := start(t, opts(t))
			sem := make(chan struct{}, azCellParallelism)
			var wg sync.WaitGroup
			for _, a := range azActions {
				for _, p := range azPersonas {
					if name != "bbolt" && azDynamoRow[a] != p {
						continue
					}
					wg.Go(func() {
						sem <- struct{}{}
						defer func() { <-sem }()
						t.Run(string(a)+" × "+string(p), func(t *testing.T) { azRunCell(t, e, a, p) })
					})
				}
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				t.Run("404 bodies", func(t *testing.T) { azCheckNoLeak(t, e) })
			})
			wg.Wait()
		})
	}
}

// azFixture is one room with every persona in place.
type azFixture struct {
	t        *testing.T
	e        *emulator.Emulator
	room     string
	as       map[azPersona]*user
	other    *user   // a second plain member: removed, promoted, and watching typing
	newcomer *user   // signed up, not in the room: the plain add
	watcher  *socket // the other member's joined connection (typing only)
}

var azSerial atomic.Int64

func newAuthzFixture(t *testing.T, e *emulator.Emulator) *azFixture {
	t.Helper()
	n := azSerial.Add(1)
	name := func(p string) string { return fmt.Sprintf("az%s%d", p, n) }
	f := &azFixture{t: t, e: e, as: map[azPersona]*user{}}
	own := signup(t, e, name("own"))
	adm, mem, rem := signup(t, e, name("adm")), signup(t, e, name("mem")), signup(t, e, name("rem"))
	out, lgo := signup(t, e, name("out")), signup(t, e, name("lgo"))
	f.other, f.newcomer = signup(t, e, name("oth")), signup(t, e, name("new"))
	f.as[asOwner], f.as[asAdmin], f.as[asMember], f.as[asRemoved] = own, adm, mem, rem
	f.as[asOutsider], f.as[asLoggedOut] = out, lgo
	f.as[asAnonymous] = &user{t: t, base: e.URL, name: name("anon")}

	must := func(what string, want, got int, body map[string]any) {
		t.Helper()
		if got != want {
			t.Fatalf("fixture: %s: %d %v, want %d", what, got, body, want)
		}
	}
	status, room := own.do("POST", "/rooms", map[string]any{"name": "authz",
		"members": []string{adm.name, mem.name, rem.name, lgo.name, f.other.name}})
	must("create the room", http.StatusCreated, status, room)
	f.room = room["room_id"].(string)
	status, body := own.do("POST", "/rooms/"+f.room+"/members", map[string]any{"usernames": []string{adm.name, lgo.name}, "admin": true})
	must("promote the admins", http.StatusOK, status, body)
	status, body = adm.do("DELETE", "/rooms/"+f.room+"/members/"+rem.name, nil)
	must("the admin removes a member", http.StatusNoContent, status, body)
	status, body = lgo.do("POST", "/auth/logout", nil)
	must("log out", http.StatusNoContent, status, body)
	return f
}

// raw is user.do that keeps the body's bytes; body is sent as is.
func (f *azFixture) raw(u *user, method, path, body string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u.base+"/api"+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// azSnapshot is the room as its owner sees it: the room object and the
// newest events page, each with its status.
type azSnapshot struct{ room, events []byte }

func (f *azFixture) snapshot() azSnapshot {
	f.t.Helper()
	owner := f.as[asOwner]
	s1, room := f.raw(owner, "GET", "/rooms/"+f.room, "")
	s2, events := f.raw(owner, "GET", "/rooms/"+f.room+"/events?limit=200", "")
	return azSnapshot{fmt.Appendf(nil, "%d %s", s1, room), fmt.Appendf(nil, "%d %s", s2, events)}
}

func (s azSnapshot) ok() bool {
	return bytes.HasPrefix(s.room, []byte("200 ")) && bytes.HasPrefix(s.events, []byte("200 "))
}

func (s azSnapshot) equal(o azSnapshot) bool {
	return bytes.Equal(s.room, o.room) && bytes.Equal(s.events, o.events)
}

// azOutcome is what came back in one cell.
type azOutcome struct {
	azExpect
	body     string         // the answer, for the failure message
	fr       map[string]any // the frame that answered, if any
	problems []string       // other departures from the contract seen on the way
}

func (o *azOutcome) problemf(format string, args ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

func azRunCell(t *testing.T, e *emulator.Emulator, a azAction, p azPersona) {
	want := azMatrix[a][p]
	f := newAuthzFixture(t, e)
	run := azRun[a]
	if run.setup != nil {
		run.setup(f)
	}
	before := f.snapshot()
	if !before.ok() {
		t.Fatalf("fixture: the owner cannot read the room: %s %s", before.room, before.events)
	}
	got := run.do(f, p)
	if got.azExpect != want {
		t.Errorf("CONTRACT VIOLATION %s × %s: got %s, the contract says %s; the answer was %s", a, p, got.azExpect, want, got.body)
	}
	for _, pr := range got.problems {
		t.Errorf("CONTRACT VIOLATION %s × %s: %s", a, p, pr)
	}
	if want.refused() {
		if after := f.snapshot(); !before.equal(after) {
			t.Errorf("CONTRACT VIOLATION %s × %s: refused, yet the room changed:\nroom before %s\nroom after  %s\nevents before %s\nevents after  %s",
				a, p, before.room, after.room, before.events, after.events)
		}
	}
}

// azHTTP turns an HTTP answer into an outcome.
func azHTTP(status int, body []byte) azOutcome {
	o := azOutcome{azExpect: azExpect{status: status}, body: fmt.Sprintf("%d %s", status, body)}
	if status >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			o.problemf("the error body is not {\"error\":{\"code\",\"message\"}}: %s", body)
		}
		o.code = e.Error.Code
	}
	return o
}

type azImpl struct {
	setup func(f *azFixture) // before the snapshot
	do    func(f *azFixture, p azPersona) azOutcome
}

func azRoute(method, path string, body func(f *azFixture, p azPersona) string) azImpl {
	return azImpl{do: func(f *azFixture, p azPersona) azOutcome {
		var b string
		if body != nil {
			b = body(f, p)
		}
		return azHTTP(f.raw(f.as[p], method, strings.NewReplacer("{id}", f.room).Replace(path), b))
	}}
}

func azJSON(v any) string { raw, _ := json.Marshal(v); return string(raw) }

var azRun = map[azAction]azImpl{
	actGetRoom: azRoute("GET", "/rooms/{id}", nil),
	actPatchRoom: azRoute("PATCH", "/rooms/{id}", func(*azFixture, azPersona) string {
		return `{"name":"renamed"}`
	}),
	actDeleteRoom: azRoute("DELETE", "/rooms/{id}", nil),
	actAddMember: azRoute("POST", "/rooms/{id}/members", func(f *azFixture, _ azPersona) string {
		return azJSON(map[string]any{"usernames": []string{f.newcomer.name}, "admin": false})
	}),
	actPromote: azRoute("POST", "/rooms/{id}/members", func(f *azFixture, _ azPersona) string {
		return azJSON(map[string]any{"usernames": []string{f.other.name}, "admin": true})
	}),
	actRemoveSelf: {do: func(f *azFixture, p azPersona) azOutcome {
		return azHTTP(f.raw(f.as[p], "DELETE", "/rooms/"+f.room+"/members/"+f.as[p].name, ""))
	}},
	actRemoveOther: {do: func(f *azFixture, p azPersona) azOutcome {
		return azHTTP(f.raw(f.as[p], "DELETE", "/rooms/"+f.room+"/members/"+f.other.name, ""))
	}},
	actGetEvents: azRoute("GET", "/rooms/{id}/events", nil),
	actGetMe: {do: func(f *azFixture, p azPersona) azOutcome {
		o := azHTTP(f.raw(f.as[p], "GET", "/me", ""))
		if o.status == http.StatusOK && !strings.Contains(o.body, fmt.Sprintf(`"username":%q`, f.as[p].name)) {
			o.problemf("GET /me answered %s, want username %s", o.body, f.as[p].name)
		}
		return o
	}},
	actListRooms: {do: func(f *azFixture, p azPersona) azOutcome {
		status, body := f.raw(f.as[p], "GET", "/rooms", "")
		o := azHTTP(status, body)
		if status == http.StatusOK {
			var list struct {
				Rooms []struct {
					RoomID string `json:"room_id"`
				} `json:"rooms"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				o.problemf("GET /rooms body %s: %v", body, err)
			}
			listed := false
			for _, r := range list.Rooms {
				listed = listed || r.RoomID == f.room
			}
			if listed != azListed[p] {
				o.problemf("GET /rooms lists the room: %v, want %v (%s)", listed, azListed[p], body)
			}
		}
		return o
	}},
	actCreateRoom: {do: func(f *azFixture, p azPersona) azOutcome {
		o := azHTTP(f.raw(f.as[p], "POST", "/rooms", `{"name":"mine"}`))
		if o.status == http.StatusCreated && !strings.Contains(o.body, fmt.Sprintf(`"owner":%q`, f.as[p].name)) {
			o.problemf("the new room's owner is not the caller: %s", o.body)
		}
		return o
	}},
	actLogout: {do: func(f *azFixture, p azPersona) azOutcome {
		o := azHTTP(f.raw(f.as[p], "POST", "/auth/logout", ""))
		if o.status == http.StatusNoContent {
			if status, body := f.raw(f.as[p], "GET", "/me", ""); status != http.StatusUnauthorized {
				o.problemf("after logout GET /me answers %d %s, want 401", status, body)
			}
		}
		return o
	}},
	actConnect: {do: func(f *azFixture, p azPersona) azOutcome {
		s, o := f.dial(p)
		if s != nil {
			f.quietFor(s, &o, "after the handshake")
		}
		return o
	}},
	actJoin: {do: func(f *azFixture, p azPersona) azOutcome {
		s, o := f.dial(p)
		if s == nil {
			return o
		}
		o = f.join(s, p, true)
		f.quietFor(s, &o, "after join_room")
		return o
	}},
	actSend: {do: func(f *azFixture, p azPersona) azOutcome {
		return f.afterJoin(p, fmt.Sprintf(`{"action":"send_message","room_id":%q,"client_msg_id":"az-1","text":"hello"}`, f.room), "receive_message")
	}},
	actTyping: {setup: (*azFixture).watch, do: func(f *azFixture, p azPersona) azOutcome {
		s, o := f.dial(p)
		if s == nil {
			return o
		}
		if o = f.join(s, p, false); len(o.problems) > 0 {
			return o
		}
		if azMatrix[actJoin][p].frame == "history" {
			f.expectOn(f.watcher, "join_room_announcement", f.as[p].name, &o, "the watcher")
		}
		s.send(fmt.Sprintf(`{"action":"typing","room_id":%q}`, f.room))
		// Whoever hears first answers: the watcher (typing) or the typer (an error).
		select {
		case fr, ok := <-f.watcher.frames:
			o = azFrame(fr, ok, "the watcher")
			if o.frame == "typing" && fr["username"] != f.as[p].name {
				o.problemf("typing names %v, want %s", fr["username"], f.as[p].name)
			}
			f.quietFor(s, &o, "the typer, after typing")
		case fr, ok := <-s.frames:
			o = azFrame(fr, ok, "the typer")
			if o.frame == "typing" {
				o.frame = "typing echoed to the typer"
			}
			f.quietFor(f.watcher, &o, "the watcher, after a refused typing")
		case <-time.After(10 * time.Second):
			o = azOutcome{azExpect: azExpect{status: 101}, body: "nothing within 10s, to the typer or the watcher"}
		}
		return o
	}},
	actLeave: {do: func(f *azFixture, p azPersona) azOutcome {
		return f.afterJoin(p, fmt.Sprintf(`{"action":"leave_room","room_id":%q}`, f.room), "leave_room_announcement")
	}},
}

// dial opens the persona's socket: /ws?ticket=..., or plain /ws for a
// persona without a session. A refused handshake returns no socket.
func (f *azFixture) dial(p azPersona) (*socket, azOutcome) {
	f.t.Helper()
	u := f.as[p]
	url := strings.Replace(u.base, "http", "ws", 1) + "/ws"
	if u.token != "" {
		// A persona whose session ended gets no ticket; its old token
		// offered in the ticket's place must be refused too.
		ticket := u.token
		if status, body := u.do("POST", "/auth/ticket", nil); status == http.StatusCreated {
			ticket, _ = body["ticket"].(string)
		}
		url += "?ticket=" + ticket
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		if resp == nil {
			f.t.Fatalf("%s: dial: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		return nil, azOutcome{azExpect: azExpect{status: resp.StatusCode}, body: fmt.Sprintf("handshake %d %s", resp.StatusCode, body)}
	}
	c.SetReadLimit(1 << 20)
	s := &socket{t: f.t, c: c, frames: make(chan map[string]any, 1000), closed: make(chan websocket.CloseError, 1)}
	go func() {
		for {
			_, raw, err := c.Read(context.Background())
			if err != nil {
				var ce websocket.CloseError
				if asClose(err, &ce) {
					s.closed <- ce
				}
				close(s.frames)
				return
			}
			var fr map[string]any
			if err := json.Unmarshal(raw, &fr); err != nil {
				fr = map[string]any{"type": "frame that is not JSON: " + string(raw)}
			}
			s.frames <- fr
		}
	}()
	f.t.Cleanup(func() { c.CloseNow() })
	return s, azOutcome{azExpect: azExpect{status: resp.StatusCode}, body: fmt.Sprintf("handshake %d", resp.StatusCode)}
}

// azFrame turns the frame that answered into an outcome.
func azFrame(fr map[string]any, ok bool, who string) azOutcome {
	if !ok {
		return azOutcome{azExpect: azExpect{status: 101, frame: "socket closed"}, body: who + ": the socket closed"}
	}
	o := azOutcome{azExpect: azExpect{status: 101, frame: fmt.Sprint(fr["type"])}, body: fmt.Sprintf("%s got %v", who, fr), fr: fr}
	if o.frame == "error" {
		o.code = fmt.Sprint(fr["code"])
	}
	return o
}

func (f *azFixture) recv(s *socket, who string) azOutcome {
	select {
	case fr, ok := <-s.frames:
		return azFrame(fr, ok, who)
	case <-time.After(10 * time.Second):
		return azOutcome{azExpect: azExpect{status: 101}, body: who + ": no frame within 10s"}
	}
}

// join sends join_room and reads its answer; when the contract lets the
// persona in, the history is followed by the persona's own announcement.
// strict: a join that does not answer as the matrix says is the outcome
// itself, not a problem on the way.
func (f *azFixture) join(s *socket, p azPersona, strict bool) azOutcome {
	s.send(fmt.Sprintf(`{"action":"join_room","room_id":%q}`, f.room))
	o := f.recv(s, "the joiner")
	want := azMatrix[actJoin][p]
	if !strict && o.azExpect != want {
		o.problemf("the join before the action answered %s, the contract says %s (%s)", o.azExpect, want, o.body)
	}
	if o.frame == "history" {
		f.expectOn(s, "join_room_announcement", f.as[p].name, &o, "the joiner")
	}
	return o
}

// afterJoin joins (or is refused), then sends frame on the same connection.
func (f *azFixture) afterJoin(p azPersona, frame, answer string) azOutcome {
	s, o := f.dial(p)
	if s == nil {
		return o
	}
	if o = f.join(s, p, false); len(o.problems) > 0 {
		return o
	}
	s.send(frame)
	o = f.recv(s, "the sender")
	if o.frame == answer && o.fr["username"] != f.as[p].name {
		o.problemf("%s does not name %s: %s", answer, f.as[p].name, o.body)
	}
	f.quietFor(s, &o, "after "+answer)
	return o
}

func (f *azFixture) expectOn(s *socket, typ, username string, o *azOutcome, who string) {
	got := f.recv(s, who)
	if got.frame != typ || got.fr["username"] != username {
		o.problemf("%s: want %s of %s, got %s", who, typ, username, got.body)
	}
}

// quietFor records any frame that arrives in the next moment.
func (f *azFixture) quietFor(s *socket, o *azOutcome, when string) {
	select {
	case fr, ok := <-s.frames:
		if ok {
			o.problemf("unexpected frame %s: %v", when, fr)
		} else {
			o.problemf("the socket closed %s", when)
		}
	case <-time.After(150 * time.Millisecond):
	}
}

// watch joins the other member's connection, which then sees typing.
func (f *azFixture) watch() {
	f.watcher = f.other.connect()
	f.watcher.join(f.room)
	f.watcher.next("join_room_announcement")
}

// azCheckNoLeak: a room the caller is not a member of, one that never
// existed and one that was deleted get byte-identical 404s on every room
// route, valid body or not, and the socket's join answers alike.
func azCheckNoLeak(t *testing.T, e *emulator.Emulator) {
	live := newAuthzFixture(t, e)
	gone := newAuthzFixture(t, e)
	if status, body := gone.raw(gone.as[asOwner], "DELETE", "/rooms/"+gone.room, ""); status != http.StatusNoContent {
		t.Fatalf("delete the room: %d %s", status, body)
	}
	never := "01HZZZZZZZZZZZZZZZZZZZZZZZ" // a ULID never issued
	callers := []struct {
		who  string
		f    *azFixture
		u    *user
		room string
	}{
		{"outsider", live, live.as[asOutsider], live.room},
		{"removed member", live, live.as[asRemoved], live.room},
		{"owner of another room, never-existing id", live, live.as[asOwner], never},
		{"owner of another room, id 'nope'", live, live.as[asOwner], "nope"},
		{"former owner, deleted room", gone, gone.as[asOwner], gone.room},
		{"former member, deleted room", gone, gone.as[asMember], gone.room},
	}
	type probe struct{ method, path, body string }
	probes := func(f *azFixture, u *user, room string) []probe {
		r := "/rooms/" + room
		return []probe{
			{"GET", r, ""},
			{"PATCH", r, `{"name":"renamed"}`},
			{"PATCH", r, `{"name":""}`},
			{"PATCH", r, `{not json`},
			{"DELETE", r, ""},
			{"POST", r + "/members", azJSON(map[string]any{"usernames": []string{f.newcomer.name}})},
			{"POST", r + "/members", azJSON(map[string]any{"usernames": []string{f.other.name}, "admin": true})},
			{"POST", r + "/members", `{"usernames":["no_such_user_anywhere"]}`},
			{"POST", r + "/members", `{not json`},
			{"DELETE", r + "/members/" + u.name, ""},
			{"DELETE", r + "/members/" + f.other.name, ""},
			{"DELETE", r + "/members/no_such_user_anywhere", ""},
			{"GET", r + "/events", ""},
			{"GET", r + "/events?limit=0", ""},
			{"GET", r + "/events?before_seq=1&after_seq=1", ""},
		}
	}
	before := live.snapshot()
	if !before.ok() {
		t.Fatalf("fixture: the owner cannot read the room: %s %s", before.room, before.events)
	}
	var ref []byte
	var refWhat string
	for _, c := range callers {
		for _, pr := range probes(c.f, c.u, c.room) {
			what := fmt.Sprintf("%s %s %s (%s)", pr.method, strings.Replace(pr.path, c.room, "{id}", 1), pr.body, c.who)
			status, body := c.f.raw(c.u, pr.method, pr.path, pr.body)
			if status != http.StatusNotFound || !strings.Contains(string(body), `"room_not_found"`) {
				t.Errorf("CONTRACT VIOLATION %s: %d %s, the contract says 404 room_not_found", what, status, body)
				continue
			}
			if ref == nil {
				ref, refWhat = body, what
			} else if !bytes.Equal(body, ref) {
				t.Errorf("CONTRACT VIOLATION 404 bodies differ (room ids leak):\n%s: %s\n%s: %s", refWhat, ref, what, body)
			}
		}
	}
	if after := live.snapshot(); !before.equal(after) {
		t.Errorf("CONTRACT VIOLATION the 404 probes changed the room:\nbefore %s %s\nafter  %s %s", before.room, before.events, after.room, after.events)
	}

	// The socket: join_room answers room_not_found, alike for all of them.
	var refFrame string
	for _, c := range callers {
		s := c.u.connect()
		s.send(fmt.Sprintf(`{"action":"join_room","room_id":%q}`, c.room))
		o := c.f.recv(s, c.who)
		c.f.quietFor(s, &o, "after the refused join")
		if o.frame != "error" || o.code != "room_not_found" || len(o.problems) > 0 {
			t.Errorf("CONTRACT VIOLATION join_room (%s): %s %v; the contract says error room_not_found", c.who, o.body, o.problems)
			continue
		}
		// The frame may echo the requested room_id; everything else must match.
		if o.fr["room_id"] == c.room {
			o.fr["room_id"] = "{id}"
		}
		norm := azJSON(o.fr)
		if refFrame == "" {
			refFrame = norm
		} else if norm != refFrame {
			t.Errorf("CONTRACT VIOLATION join_room errors differ (room ids leak): %q vs %q", refFrame, norm)
		}
	}
}
