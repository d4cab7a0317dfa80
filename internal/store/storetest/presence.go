package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// presenceModel is what the rooms' presence must be: room, then
// connection, then username.
type presenceModel map[string]map[string]string

func (m presenceModel) add(roomID, conn, user string) {
	if m[roomID] == nil {
		m[roomID] = map[string]string{}
	}
	m[roomID][conn] = user
}

// roomsOf lists, sorted, the rooms the model has conn in.
func (m presenceModel) roomsOf(conn string) []string {
	var out []string
	for roomID, conns := range m {
		if _, ok := conns[conn]; ok {
			out = append(out, roomID)
		}
	}
	slices.Sort(out)
	return out
}

// wantPresence compares RoomConnections with the model as sorted
// "conn=user" lists, naming what is missing, extra or listed twice, since
// a room of hundreds makes a plain dump of both unreadable.
func wantPresence(t testing.TB, s store.Store, m presenceModel, roomID, when string) {
	t.Helper()
	ps, err := s.RoomConnections(context.Background(), roomID)
	if err != nil {
		t.Fatalf("%s: RoomConnections(%s): %v", when, roomID, err)
	}
	got := make([]string, 0, len(ps))
	for _, p := range ps {
		got = append(got, p.ConnectionID+"="+p.Username)
	}
	slices.Sort(got)
	want := make([]string, 0, len(m[roomID]))
	for conn, user := range m[roomID] {
		want = append(want, conn+"="+user)
	}
	slices.Sort(want)
	if slices.Equal(got, want) {
		return
	}
	var missing, extra, twice []string
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	for i, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		} else if i > 0 && got[i-1] == g {
			twice = append(twice, g)
		}
	}
	t.Fatalf("%s: RoomConnections(%s) has %d entries, want %d; missing %v, extra %v, listed twice %v",
		when, roomID, len(got), len(want), missing, extra, twice)
}

// wantConnectionRooms checks that every one of conns is in exactly the
// rooms the model has it in.
func wantConnectionRooms(t testing.TB, s store.Store, m presenceModel, when string, conns ...string) {
	t.Helper()
	for _, conn := range conns {
		got, err := s.ConnectionRooms(context.Background(), conn)
		if err != nil {
			t.Fatalf("%s: ConnectionRooms(%s): %v", when, conn, err)
		}
		slices.Sort(got)
		if want := m.roomsOf(conn); !slices.Equal(got, want) {
			t.Fatalf("%s: ConnectionRooms(%s) = %v, want %v", when, conn, got, want)
		}
	}
}

// presenceAppend appends user's join or leave with the presence change,
// retrying on a version conflict the way the use cases do, and returns
// the store's last error otherwise.
func presenceAppend(t testing.TB, s store.Store, roomID string, join bool, p store.Presence) error {
	t.Helper()
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		r, err := s.RoomAs(ctx, roomID, p.Username)
		if err != nil {
			t.Fatalf("read room %s: %v", roomID, err)
		}
		req := store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages}
		if join {
			req.Events, req.Join = must(t)(r.Join(p.Username, epoch)), &p
		} else {
			req.Events, req.Leave = must(t)(r.Leave(p.Username, epoch)), &store.Presence{ConnectionID: p.ConnectionID, Username: p.Username}
		}
		_, err = s.Append(ctx, req)
		if errors.Is(err, store.ErrConcurrency) && attempt < 1000 {
			time.Sleep(time.Duration(rand.IntN(1+min(attempt, 20))) * time.Millisecond)
			continue
		}
		return err
	}
}

// spread picks n of the connections of order that are in the room, evenly
// from first to last, each from skip places after its even position.
func spread(order []string, in map[string]string, n, skip int) []string {
	var candidates []string
	for _, conn := range order {
		if _, ok := in[conn]; ok {
			candidates = append(candidates, conn)
		}
	}
	out := make([]string, 0, n)
	for j := range n {
		out = append(out, candidates[j*len(candidates)/n+skip])
	}
	return out
}

// testPresenceAtScale: a room's presence stays an exact set of its joined
// connections when it holds hundreds of them, whatever the adapter's
// layout (one item per connection, or rosters of many), through joins, a
// second join of the same connection, leaves, joins into the space
// leavers freed, removals, deleted connections and an expired entry, and
// a second room sharing connections is never touched by the first's.
func testPresenceAtScale(t *testing.T, s store.Store) {
	ctx := context.Background()
	start, appends := time.Now(), 0
	members := make([]string, 12)
	for i := range members {
		members[i] = fmt.Sprintf("m%02d", i)
	}
	room := createRoom(t, s, members[0], members[1:]...)
	// The second room's members are a few of the first's, so that it
	// shares connections.
	other := createRoom(t, s, members[0], members[1:4]...)
	sessions := map[string]string{}
	for _, u := range members {
		sessions[u] = createSession(t, s, u)
	}
	exp := liveUntil()
	m := presenceModel{}
	users := map[string]string{}
	connect := func(conn, user string, until time.Time) {
		t.Helper()
		users[conn] = user
		if err := s.PutConnection(ctx, store.Connection{ID: conn, Username: user, SessionHash: sessions[user], ConnectedAt: epoch, ExpiresAt: until}, 0); err != nil {
			t.Fatalf("PutConnection(%s): %v", conn, err)
		}
	}
	join := func(roomID, conn, user string, until time.Time) {
		t.Helper()
		appends++
		if err := presenceAppend(t, s, roomID, true, store.Presence{ConnectionID: conn, Username: user, ExpiresAt: until}); err != nil {
			t.Fatalf("join of %s to %s: %v", conn, roomID, err)
		}
		if !until.Before(time.Now()) {
			m.add(roomID, conn, user)
		}
	}
	leave := func(roomID, conn string) {
		t.Helper()
		appends++
		if err := presenceAppend(t, s, roomID, false, store.Presence{ConnectionID: conn, Username: users[conn]}); err != nil {
			t.Fatalf("leave of %s from %s: %v", conn, roomID, err)
		}
		delete(m[roomID], conn)
	}
	check := func(when string) {
		t.Helper()
		wantPresence(t, s, m, room, when)
		wantPresence(t, s, m, other, when)
	}
	// inOther makes sure a step reaches connections of both rooms, else
	// it would prove nothing about the second room.
	inOther := func(step string, picked []string) {
		t.Helper()
		if !slices.ContainsFunc(picked, func(c string) bool { _, in := m[other][c]; return in }) {
			t.Fatalf("the test's %s reach no connection of the other room", step)
		}
	}

	var conns []string
	for i := range 250 {
		conn, user := fmt.Sprintf("c%03d", i), members[i%len(members)]
		connect(conn, user, exp)
		join(room, conn, user, exp)
		conns = append(conns, conn)
	}
	// Every third connection of the second room's members is in both
	// rooms, so the leaves, removals and deletions below reach some.
	for i, conn := range conns {
		if user := members[i%len(members)]; i%3 == 0 && slices.Contains(members[:4], user) {
			join(other, conn, user, exp)
		}
	}
	for i := range 3 {
		conn := fmt.Sprintf("o%d", i)
		connect(conn, members[i], exp)
		join(other, conn, members[i], exp)
	}
	if len(m[room]) != 250 || len(m[other]) < 20 {
		t.Fatalf("the test set up %d connections in the room and %d in the other, want 250 and some 20", len(m[room]), len(m[other]))
	}
	check("after 250 joins")
	wantConnectionRooms(t, s, m, "after 250 joins", conns...)

	// A client that sends join_room twice: one entry, whichever the layout
	// finds it in. Two of these leave below, which must take them out
	// whole.
	again := []string{conns[0], conns[136], conns[248]}
	for _, conn := range again {
		join(room, conn, users[conn], exp)
	}
	check("after joining three connections again")
	wantConnectionRooms(t, s, m, "after joining three connections again", again...)

	// Leaves spread over the whole room, so that a roster layout empties
	// every item partly rather than one whole.
	var leavers []string
	for i, conn := range conns {
		if i%5 == 1 || i%5 == 3 {
			leavers = append(leavers, conn)
		}
	}
	if len(leavers) != 100 {
		t.Fatalf("the test picked %d leavers, want 100", len(leavers))
	}
	inOther("leaves", leavers)
	for _, conn := range leavers {
		leave(room, conn)
	}
	check("after 100 leaves")
	wantConnectionRooms(t, s, m, "after 100 leaves", leavers...)
	before, err := s.Room(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	gone := leavers[len(leavers)/2]
	if err := presenceAppend(t, s, room, false, store.Presence{ConnectionID: gone, Username: users[gone]}); !errors.Is(err, store.ErrNotPresent) {
		t.Fatalf("a second leave of %s: %v, want ErrNotPresent", gone, err)
	}
	if after, err := s.Room(ctx, room); err != nil || after.Version != before.Version {
		t.Fatalf("a second leave moved the room from version %d to %d (%v)", before.Version, after.Version, err)
	}
	check("after a second leave")

	var fresh []string
	for i := range 60 {
		conn, user := fmt.Sprintf("n%03d", i), members[(i*7)%len(members)]
		connect(conn, user, exp)
		join(room, conn, user, exp)
		fresh = append(fresh, conn)
	}
	check("after 60 joins into the space the leavers freed")
	wantConnectionRooms(t, s, m, "after 60 joins", fresh...)

	// Thirty spread over the whole room in join order: first joiners,
	// later ones and some also in the other room, which keeps those.
	removed := spread(slices.Concat(conns, fresh), m[room], 30, 0)
	inOther("removals", removed)
	if err := s.RemovePresence(ctx, room, append(slices.Clone(removed), "never-there")...); err != nil {
		t.Fatal(err)
	}
	for _, conn := range removed {
		delete(m[room], conn)
	}
	check("after RemovePresence of 30")
	wantConnectionRooms(t, s, m, "after RemovePresence of 30", removed...)

	// A deleted connection is gone from every room, the other one too.
	deleted := spread(slices.Concat(conns, fresh), m[room], 20, 1)
	inOther("deletions", deleted)
	for _, conn := range deleted {
		if err := s.DeleteConnection(ctx, conn); err != nil {
			t.Fatalf("DeleteConnection(%s): %v", conn, err)
		}
		delete(m[room], conn)
		delete(m[other], conn)
	}
	check("after DeleteConnection of 20")
	wantConnectionRooms(t, s, m, "after DeleteConnection of 20", deleted...)

	// The other way round: the second room's leaves and removals leave the
	// first room's entries of the same connections alone.
	var shared []string
	for _, conn := range slices.Sorted(maps.Keys(m[other])) {
		if _, in := m[room][conn]; in {
			shared = append(shared, conn)
		}
	}
	if len(shared) < 4 {
		t.Fatalf("the test left %d connections in both rooms, want 4 or more", len(shared))
	}
	leave(other, shared[0])
	if err := s.RemovePresence(ctx, other, shared[1:3]...); err != nil {
		t.Fatal(err)
	}
	for _, conn := range shared[1:3] {
		delete(m[other], conn)
	}
	check("after the other room's leave and removal")
	wantConnectionRooms(t, s, m, "after the other room's leave and removal", shared[:3]...)

	// An entry past its expiry is gone to the reads, swept or not; a join
	// after it must not bring it back.
	past := time.Now().Add(-time.Minute)
	connect("x-expired", members[5], past)
	join(room, "x-expired", members[5], past)
	connect("x-live", members[6], exp)
	join(room, "x-live", members[6], exp)
	check("after an expired join")
	wantConnectionRooms(t, s, m, "after an expired join", "x-expired", "x-live")
	t.Logf("%d connections, %d joins and leaves, in %v", len(users), appends, time.Since(start).Round(time.Millisecond))
}

// testRosterAway pins what a message's one read of the roster must say
// beside the joined connections: each member's open sockets that are not
// joined, so that the room list lines reach them without a read of every
// member row. Non-members never appear, and Memberships returns the rows
// of the members alone.
func testRosterAway(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob")
	exp := liveUntil()
	connect := func(conn, user string) {
		t.Helper()
		if err := s.PutConnection(ctx, store.Connection{ID: conn, Username: user, SessionHash: createSession(t, s, user), ConnectedAt: epoch, ExpiresAt: exp}, 0); err != nil {
			t.Fatal(err)
		}
	}
	presence := func(conn, user string) *store.Presence {
		return &store.Presence{ConnectionID: conn, Username: user, ExpiresAt: exp}
	}
	change := func(cmd func(r *chat.Room) ([]chat.Event, error), join, leave *store.Presence) {
		t.Helper()
		r, err := s.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		events := must(t)(cmd(r))
		if _, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Messages: r.Messages, Events: events, Join: join, Leave: leave}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, wantJoined []string, wantAway map[string][]string) {
		t.Helper()
		r, err := s.RoomRoster(ctx, room)
		if err != nil {
			t.Fatalf("%s: RoomRoster: %v", step, err)
		}
		var joined []string
		for _, p := range r.Joined {
			joined = append(joined, p.ConnectionID)
		}
		slices.Sort(joined)
		if !slices.Equal(joined, wantJoined) {
			t.Errorf("%s: joined = %v, want %v", step, joined, wantJoined)
		}
		away := map[string][]string{}
		for u, ids := range r.Away {
			away[u] = slices.Sorted(slices.Values(ids))
		}
		if !maps.EqualFunc(away, wantAway, slices.Equal) {
			t.Errorf("%s: away = %v, want %v", step, away, wantAway)
		}
	}

	connect("a1", "alice")
	connect("a2", "alice")
	connect("b1", "bob")
	connect("c1", "carol") // not a member
	check("all open, none joined", nil, map[string][]string{"alice": {"a1", "a2"}, "bob": {"b1"}})

	change(func(r *chat.Room) ([]chat.Event, error) { return r.Join("alice", epoch) }, presence("a1", "alice"), nil)
	check("a1 joined", []string{"a1"}, map[string][]string{"alice": {"a2"}, "bob": {"b1"}})

	change(func(r *chat.Room) ([]chat.Event, error) { return r.Join("alice", epoch) }, presence("a2", "alice"), nil)
	change(func(r *chat.Room) ([]chat.Event, error) { return r.Join("bob", epoch) }, presence("b1", "bob"), nil)
	check("everyone joined", []string{"a1", "a2", "b1"}, map[string][]string{})

	// A socket opened now is away until it joins.
	connect("a3", "alice")
	check("a3 opened", []string{"a1", "a2", "b1"}, map[string][]string{"alice": {"a3"}})

	change(func(r *chat.Room) ([]chat.Event, error) { return r.Leave("alice", epoch) }, nil, presence("a2", "alice"))
	check("a2 left", []string{"a1", "b1"}, map[string][]string{"alice": {"a2", "a3"}})

	if err := s.DeleteConnection(ctx, "a3"); err != nil {
		t.Fatal(err)
	}
	check("a3 closed", []string{"a1", "b1"}, map[string][]string{"alice": {"a2"}})

	// A member added with a socket open is away at once; one removed is
	// not anywhere, whatever presence is still to be cleared.
	change(func(r *chat.Room) ([]chat.Event, error) {
		return r.AddMembers("alice", []string{"carol"}, false, allExist, epoch)
	}, nil, nil)
	check("carol added", []string{"a1", "b1"}, map[string][]string{"alice": {"a2"}, "carol": {"c1"}})
	change(func(r *chat.Room) ([]chat.Event, error) { return r.RemoveMember("alice", "carol", epoch) }, nil, nil)
	check("carol removed", []string{"a1", "b1"}, map[string][]string{"alice": {"a2"}})

	ms, err := s.Memberships(ctx, room, []string{"alice", "carol", "nobody"})
	if err != nil || len(ms) != 1 || ms[0].Username != "alice" || ms[0].Role != chat.RoleOwner {
		t.Fatalf("Memberships(alice, carol, nobody) = %+v, %v; want alice's row alone", ms, err)
	}
	if got := slices.Sorted(slices.Values(ms[0].Connections)); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("alice's sockets = %v, want a1 and a2", got)
	}
}
