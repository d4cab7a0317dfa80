// Package storetest is the conformance suite every store adapter passes:
// DESIGN.md's invariants (seq without gaps or duplicates under concurrent
// writers, idempotent sends, projections equal to a replay) and the
// behaviour of each method at its edges.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Opener returns a fresh, empty store for one test. The adapter's test
// closes it (t.Cleanup).
type Opener func(t testing.TB) store.Store

// Run runs the whole suite against the adapter.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"ConcurrentWritersKeepSeqDense", testConcurrentWriters},
		{"VersionConflictChangesNothing", testVersionConflict},
		{"MalformedAppendRefused", testMalformedAppend},
		{"IdempotentSend", testIdempotentSend},
		{"ConcurrentDuplicateSends", testConcurrentDuplicateSends},
		{"ProjectionsEqualReplay", testProjectionsEqualReplay},
		{"DeletedRoom", testDeletedRoom},
		{"ThousandMembers", testThousandMembers},
		{"PagingEdges", testPagingEdges},
		{"RoomsOfNewestFirst", testRoomsOfOrder},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"ConnectionsAndPresence", testConnections},
		{"Counters", testCounters},
		{"ConnectionNeedsLiveSession", testConnectionNeedsLiveSession},
		{"ConnectionsPerUserBounded", testConnectionsPerUser},
		{"TicketsServeOnce", testTickets},
		{"DeliveryMarksOnlyRise", testDeliveryMarks},
		{"PresenceAtScale", testPresenceAtScale},
		{"RosterAway", testRosterAway},
	}
	tests = append(tests, blockTests...)
	tests = append(tests, readingTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var epoch = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newID() string { return ulid.Make().String() }

// must fails the test when the command it wraps was refused.
func must(t testing.TB) func([]chat.Event, error) []chat.Event {
	return func(events []chat.Event, err error) []chat.Event {
		t.Helper()
		if err != nil {
			t.Fatalf("command refused: %v", err)
		}
		return events
	}
}

func allExist(string) bool { return true }

// appendAs runs one command against the stored room, retrying on a version
// conflict the way the use cases do.
func appendAs(t testing.TB, s store.Store, roomID string, cmd func(r *chat.Room) ([]chat.Event, error)) store.AppendResult {
	t.Helper()
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		r, err := s.Room(ctx, roomID)
		if errors.Is(err, store.ErrNotFound) {
			r = chat.NewRoom(roomID)
		} else if err != nil {
			t.Fatalf("read room: %v", err)
		}
		events, err := cmd(r)
		if err != nil {
			t.Fatalf("command refused: %v", err)
		}
		res, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: events})
		if errors.Is(err, store.ErrConcurrency) && attempt < 1000 {
			time.Sleep(time.Duration(rand.IntN(1+min(attempt, 20))) * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		return res
	}
}

func createRoom(t testing.TB, s store.Store, owner string, members ...string) string {
	t.Helper()
	id := newID()
	appendAs(t, s, id, func(*chat.Room) ([]chat.Event, error) {
		return chat.CreateRoom(id, owner, "room "+id[len(id)-4:], members, allExist, epoch)
	})
	return id
}

// readAll pages through the whole stream forwards with a small page.
func readAll(t testing.TB, s store.Store, roomID string) []chat.Event {
	t.Helper()
	var all []chat.Event
	var after int64
	for {
		p, err := s.ReadForward(context.Background(), roomID, after, 97)
		if err != nil {
			t.Fatalf("read forward: %v", err)
		}
		all = append(all, p.Events...)
		if !p.HasMore {
			return all
		}
		after = p.Events[len(p.Events)-1].Seq
	}
}

func checkDense(t testing.TB, events []chat.Event) {
	t.Helper()
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: the stream has a gap or a duplicate", i, e.Seq)
		}
	}
}

// checkProjection compares the stored projection with a replay of the stream.
func checkProjection(t testing.TB, s store.Store, roomID string) *chat.Room {
	t.Helper()
	replayed, err := chat.Replay(roomID, readAll(t, s, roomID))
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	stored, err := s.Room(context.Background(), roomID)
	if err != nil {
		t.Fatalf("read room: %v", err)
	}
	if diff := DiffRooms(replayed, stored); diff != "" {
		t.Fatalf("projection differs from replay: %s", diff)
	}
	return replayed
}

// DiffRooms describes how two room states differ, "" when they are equal.
func DiffRooms(want, got *chat.Room) string {
	switch {
	case want.ID != got.ID:
		return fmt.Sprintf("id %q, want %q", got.ID, want.ID)
	case want.Name != got.Name:
		return fmt.Sprintf("name %q, want %q", got.Name, want.Name)
	case want.Owner != got.Owner:
		return fmt.Sprintf("owner %q, want %q", got.Owner, want.Owner)
	case want.Version != got.Version:
		return fmt.Sprintf("version %d, want %d", got.Version, want.Version)
	case want.Deleted != got.Deleted:
		return fmt.Sprintf("deleted %v, want %v", got.Deleted, want.Deleted)
	case !want.CreatedAt.Equal(got.CreatedAt):
		return fmt.Sprintf("created_at %v, want %v", got.CreatedAt, want.CreatedAt)
	case !want.LastActivityAt.Equal(got.LastActivityAt):
		return fmt.Sprintf("last_activity_at %v, want %v", got.LastActivityAt, want.LastActivityAt)
	case want.KindOf() != got.KindOf() || want.Pair != got.Pair:
		return fmt.Sprintf("kind %q of %v, want %q of %v", got.KindOf(), got.Pair, want.KindOf(), want.Pair)
	case want.Messages != got.Messages:
		return fmt.Sprintf("%d messages, want %d", got.Messages, want.Messages)
	case len(want.Members) != len(got.Members) || !reflect.DeepEqual(want.Members, got.Members) && len(want.Members) > 0:
		return fmt.Sprintf("members %v, want %v", got.Members, want.Members)
	}
	return ""
}

func testAppendAndRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice", "bob")
	res := appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("bob", newID(), "c1", "  hello  ", epoch.Add(time.Second))
	})
	if res.Duplicate || len(res.Events) != 1 || res.Events[0].Seq != 2 {
		t.Fatalf("append result = %+v, want one new event at seq 2", res)
	}
	events := readAll(t, s, id)
	if len(events) != 2 {
		t.Fatalf("stream has %d events, want 2", len(events))
	}
	got := events[1]
	want := chat.Event{RoomID: id, Seq: 2, Username: "bob", At: epoch.Add(time.Second), Data: res.Events[0].Data}
	if got.RoomID != want.RoomID || got.Seq != want.Seq || got.Username != want.Username || !got.At.Equal(want.At) || !reflect.DeepEqual(got.Data, want.Data) {
		t.Fatalf("read back %+v, want %+v", got, want)
	}
	if m := got.Data.(chat.MessageSent); m.Text != "hello" {
		t.Fatalf("stored text %q, want it trimmed", m.Text)
	}
	r, err := s.RoomAs(ctx, id, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 || len(r.Members) != 1 || r.Members["bob"] != chat.RoleMember {
		t.Fatalf("RoomAs(bob) = version %d members %v, want version 2 and only bob", r.Version, r.Members)
	}
	r, err = s.RoomAs(ctx, id, "mallory")
	if err != nil || len(r.Members) != 0 || r.Version != 2 {
		t.Fatalf("RoomAs(outsider) = %+v, %v; want the head with no members", r, err)
	}
	if _, err := s.Room(ctx, newID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Room(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.RoomAs(ctx, newID(), "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RoomAs(unknown) error = %v, want ErrNotFound", err)
	}
	checkProjection(t, s, id)
}

// testConcurrentWriters is invariant 2: 8 writers, 200 appends each, one
// room; the stream must come out 1..1601 with every message exactly once.
func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, each = 8, 200
	id := createRoom(t, s, "alice")
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				cmid := fmt.Sprintf("w%d-m%d", w, i)
				appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
					return r.SendMessage("alice", newID(), cmid, cmid, epoch)
				})
			}
		}()
	}
	wg.Wait()
	events := readAll(t, s, id)
	if len(events) != 1+writers*each {
		t.Fatalf("stream has %d events, want %d", len(events), 1+writers*each)
	}
	checkDense(t, events)
	seen := map[string]bool{}
	for _, e := range events[1:] {
		m := e.Data.(chat.MessageSent)
		if seen[m.ClientMsgID] {
			t.Fatalf("message %s stored twice", m.ClientMsgID)
		}
		seen[m.ClientMsgID] = true
	}
	if r := checkProjection(t, s, id); r.Version != 1+writers*each {
		t.Fatalf("version %d, want %d", r.Version, 1+writers*each)
	}
}

func testVersionConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice", "bob")
	r, err := s.Room(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, s, id)
	// Creating a room whose id is taken is a conflict too.
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: id, Events: must(t)(chat.CreateRoom(id, "mallory", "taken over", nil, allExist, epoch))}); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("second room_created: error %v, want ErrConcurrency", err)
	}
	events := must(t)(r.Rename("alice", "taken over", epoch))
	for _, expected := range []int64{2, 7} {
		events[0].Seq = expected + 1
		_, err := s.Append(ctx, store.AppendRequest{RoomID: id, ExpectedVersion: expected, Events: events})
		if !errors.Is(err, store.ErrConcurrency) {
			t.Fatalf("append at expected version %d: error %v, want ErrConcurrency", expected, err)
		}
	}
	if after := readAll(t, s, id); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused append changed the stream: %v -> %v", before, after)
	}
	if got := checkProjection(t, s, id); got.Name == "taken over" {
		t.Fatal("a refused append changed the room name")
	}
}

func testMalformedAppend(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice")
	r, _ := s.Room(ctx, id)
	good := must(t)(r.Rename("alice", "x", epoch))
	gap := good[0]
	gap.Seq = 5
	cases := map[string]store.AppendRequest{
		"no events":       {RoomID: id, ExpectedVersion: 1},
		"seq gap":         {RoomID: id, ExpectedVersion: 1, Events: []chat.Event{gap}},
		"no room id":      {ExpectedVersion: 1, Events: good},
		"other room":      {RoomID: newID(), ExpectedVersion: 1, Events: good},
		"negative":        {RoomID: id, ExpectedVersion: -1, Events: good},
		"event w/o data":  {RoomID: id, ExpectedVersion: 1, Events: []chat.Event{{RoomID: id, Seq: 2}}},
		"duplicate seqs":  {RoomID: id, ExpectedVersion: 1, Events: []chat.Event{good[0], good[0]}},
		"stale seq first": {RoomID: id, ExpectedVersion: 1, Events: []chat.Event{{RoomID: id, Seq: 1, Data: chat.UserJoined{}}}},
	}
	for name, req := range cases {
		if _, err := s.Append(ctx, req); err == nil {
			t.Errorf("%s: append accepted", name)
		}
	}
	if events := readAll(t, s, id); len(events) != 1 {
		t.Fatalf("refused appends left %d events, want 1", len(events))
	}
	checkProjection(t, s, id)
}

// testIdempotentSend is invariant 3.
func testIdempotentSend(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice", "bob")
	first := appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("alice", "m-1", "same", "first", epoch)
	})
	appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
		return r.Join("bob", epoch)
	})
	r, _ := s.Room(ctx, id)
	again := must(t)(r.SendMessage("alice", "m-2", "same", "second", epoch.Add(time.Minute)))
	// The same sender and client_msg_id, at the current version and at a
	// stale one: both return the original and append nothing.
	for _, expected := range []int64{r.Version, 1} {
		again[0].Seq = expected + 1
		res, err := s.Append(ctx, store.AppendRequest{RoomID: id, ExpectedVersion: expected, Events: again})
		if err != nil {
			t.Fatalf("repeat at version %d: %v", expected, err)
		}
		if !res.Duplicate || len(res.Events) != 1 {
			t.Fatalf("repeat at version %d = %+v, want the original as a duplicate", expected, res)
		}
		orig := res.Events[0]
		if orig.Seq != first.Events[0].Seq || orig.Data.(chat.MessageSent).Text != "first" || orig.Data.(chat.MessageSent).MessageID != "m-1" {
			t.Fatalf("duplicate returned %+v, want the first message", orig)
		}
	}
	// Another sender may use the same client_msg_id.
	other := appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("bob", "m-3", "same", "bob's", epoch)
	})
	if other.Duplicate {
		t.Fatal("another sender's message with the same client_msg_id was taken for a duplicate")
	}
	// And the same sender in another room.
	id2 := createRoom(t, s, "alice")
	if res := appendAs(t, s, id2, func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage("alice", "m-4", "same", "elsewhere", epoch)
	}); res.Duplicate {
		t.Fatal("the same client_msg_id in another room was taken for a duplicate")
	}
	events := readAll(t, s, id)
	if len(events) != 4 {
		t.Fatalf("stream has %d events, want 4 (created, message, joined, bob's message)", len(events))
	}
	checkProjection(t, s, id)
}

func testConcurrentDuplicateSends(t *testing.T, s store.Store) {
	id := createRoom(t, s, "alice")
	const senders = 8
	results := make([]store.AppendResult, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
				return r.SendMessage("alice", newID(), "retry-me", fmt.Sprint("try ", i), epoch)
			})
		}()
	}
	wg.Wait()
	events := readAll(t, s, id)
	if len(events) != 2 {
		t.Fatalf("stream has %d events, want the message once", len(events))
	}
	fresh := 0
	for _, r := range results {
		if !r.Duplicate {
			fresh++
		}
		if r.Events[0].Seq != 2 || !reflect.DeepEqual(r.Events[0].Data, events[1].Data) {
			t.Fatalf("a sender got %+v, want the stored message", r.Events[0])
		}
	}
	if fresh != 1 {
		t.Fatalf("%d sends were stored as new, want exactly 1", fresh)
	}
}

// testProjectionsEqualReplay is invariant 4 over a random run of commands.
func testProjectionsEqualReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	people := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	id := createRoom(t, s, "alice", "bob")
	rng := rand.New(rand.NewPCG(1, 2))
	at := epoch
	for i := range 120 {
		at = at.Add(time.Second)
		appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
			who := people[rng.IntN(len(people))]
			for {
				var events []chat.Event
				var err error
				switch rng.IntN(7) {
				case 0:
					events, err = r.Rename("alice", fmt.Sprint("name ", i), at)
				case 1:
					events, err = r.AddMembers("alice", []string{who}, rng.IntN(2) == 0, allExist, at)
				case 2:
					events, err = r.RemoveMember("alice", who, at)
				case 3:
					events, err = r.Join(who, at)
				case 4:
					events, err = r.Leave(who, at)
				default:
					events, err = r.SendMessage(who, newID(), fmt.Sprint("c", i), "hi", at)
				}
				if err == nil && len(events) > 0 {
					return events, nil
				}
				who = people[rng.IntN(len(people))]
			}
		})
	}
	want := checkProjection(t, s, id)
	for _, u := range people {
		rooms, err := s.RoomsOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		role, member := want.Members[u]
		switch {
		case member && (len(rooms) != 1 || rooms[0].RoomID != id || rooms[0].Role != role):
			t.Fatalf("RoomsOf(%s) = %+v, want the room as %s", u, rooms, role)
		case !member && len(rooms) != 0:
			t.Fatalf("RoomsOf(%s) = %+v, want none", u, rooms)
		}
		if member && (rooms[0].Name != want.Name || rooms[0].LastSeq != want.Version || !rooms[0].LastActivityAt.Equal(want.LastActivityAt) || rooms[0].Owner != "alice") {
			t.Fatalf("RoomsOf(%s)[0] = %+v, want name %q seq %d", u, rooms[0], want.Name, want.Version)
		}
	}
}

func testDeletedRoom(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice", "bob", "carol")
	keep := createRoom(t, s, "bob")
	appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) { return r.Delete("alice", epoch) })
	r := checkProjection(t, s, id)
	if !r.Deleted || len(r.Members) != 0 || r.Exists() {
		t.Fatalf("deleted room = %+v, want deleted with no members", r)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		rooms, err := s.RoomsOf(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, sum := range rooms {
			if sum.RoomID == id {
				t.Fatalf("RoomsOf(%s) still lists the deleted room", u)
			}
		}
	}
	if rooms, _ := s.RoomsOf(ctx, "bob"); len(rooms) != 1 || rooms[0].RoomID != keep {
		t.Fatalf("RoomsOf(bob) = %+v, want only the room that was not deleted", rooms)
	}
	// The stream stays readable for the record.
	if events := readAll(t, s, id); len(events) != 2 || events[1].Type() != chat.TypeRoomDeleted {
		t.Fatalf("deleted room's stream = %v", events)
	}
}

func testThousandMembers(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "owner")
	n := 0
	for n < chat.MaxMembers-1 {
		var batch []string
		for len(batch) < chat.MaxMembersPerChange && n < chat.MaxMembers-1 {
			batch = append(batch, fmt.Sprintf("user_%04d", n))
			n++
		}
		appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
			return r.AddMembers("owner", batch, false, allExist, epoch)
		})
	}
	r := checkProjection(t, s, id)
	if len(r.Members) != chat.MaxMembers {
		t.Fatalf("room has %d members, want %d", len(r.Members), chat.MaxMembers)
	}
	if _, err := r.AddMembers("owner", []string{"one_more"}, false, allExist, epoch); !errors.Is(err, chat.ErrTooManyMembers) {
		t.Fatalf("adding member 1001: %v, want too_many_members", err)
	}
	if rooms, err := s.RoomsOf(ctx, "user_0998"); err != nil || len(rooms) != 1 {
		t.Fatalf("RoomsOf(last member) = %v, %v", rooms, err)
	}
}

func testPagingEdges(t *testing.T, s store.Store) {
	ctx := context.Background()
	seqs := func(p store.Page) []int64 {
		out := []int64{}
		for _, e := range p.Events {
			out = append(out, e.Seq)
		}
		return out
	}
	span := func(from, to int64) []int64 {
		out := []int64{}
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	empty := newID()
	full := createRoom(t, s, "alice")
	for i := range 9 {
		appendAs(t, s, full, func(r *chat.Room) ([]chat.Event, error) {
			return r.SendMessage("alice", newID(), fmt.Sprint("p", i), "x", epoch)
		})
	} // seqs 1..10
	type read struct {
		room     string
		forward  bool
		cursor   int64
		limit    int
		want     []int64
		wantMore bool
	}
	cases := map[string]read{
		"empty room forward":          {empty, true, 0, 50, span(1, 0), false},
		"empty room backward":         {empty, false, 0, 50, span(1, 0), false},
		"whole stream, exact page":    {full, true, 0, 10, span(1, 10), false},
		"whole stream, bigger page":   {full, true, 0, 50, span(1, 10), false},
		"one short of the whole":      {full, true, 0, 9, span(1, 9), true},
		"limit 1 forward":             {full, true, 0, 1, []int64{1}, true},
		"limit 1 forward at the end":  {full, true, 9, 1, []int64{10}, false},
		"after the last":              {full, true, 10, 5, span(1, 0), false},
		"far after the last":          {full, true, 1000, 5, span(1, 0), false},
		"middle page forward":         {full, true, 3, 4, span(4, 7), true},
		"newest page":                 {full, false, 0, 4, span(7, 10), true},
		"newest, exact page":          {full, false, 0, 10, span(1, 10), false},
		"limit 1 backward":            {full, false, 0, 1, []int64{10}, true},
		"before the first":            {full, false, 1, 5, span(1, 0), false},
		"before the second, limit 1":  {full, false, 2, 1, []int64{1}, false},
		"before past the newest":      {full, false, 500, 3, span(8, 10), true},
		"before the last":             {full, false, 10, 3, span(7, 9), true},
		"backward exactly to the top": {full, false, 4, 3, span(1, 3), false},
		// At the edges of int64: a cursor computed as seq+1 or seq-1 must
		// not wrap round to the other end.
		"after the largest seq":          {full, true, math.MaxInt64, 5, span(1, 0), false},
		"after one short of the largest": {full, true, math.MaxInt64 - 1, 5, span(1, 0), false},
		"after the smallest seq":         {full, true, math.MinInt64, 3, span(1, 3), true},
		"empty room after the largest":   {empty, true, math.MaxInt64, 5, span(1, 0), false},
		"before the largest seq":         {full, false, math.MaxInt64, 3, span(8, 10), true},
		"before the smallest seq":        {full, false, math.MinInt64, 3, span(8, 10), true},
	}
	for name, c := range cases {
		var p store.Page
		var err error
		if c.forward {
			p, err = s.ReadForward(ctx, c.room, c.cursor, c.limit)
		} else {
			p, err = s.ReadBackward(ctx, c.room, c.cursor, c.limit)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := seqs(p); !slices.Equal(got, c.want) || p.HasMore != c.wantMore {
			t.Errorf("%s: seqs %v has_more %v, want %v has_more %v", name, got, p.HasMore, c.want, c.wantMore)
		}
	}
	for _, limit := range []int{0, -1, store.MaxPageSize + 1} {
		if _, err := s.ReadForward(ctx, full, 0, limit); err == nil {
			t.Errorf("ReadForward limit %d accepted", limit)
		}
		if _, err := s.ReadBackward(ctx, full, 0, limit); err == nil {
			t.Errorf("ReadBackward limit %d accepted", limit)
		}
	}
}

func testRoomsOfOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := createRoom(t, s, "alice", "bob")
	b := createRoom(t, s, "bob")
	c := createRoom(t, s, "carol", "bob")
	for i, id := range []string{b, a, c} {
		appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
			return r.SendMessage("bob", newID(), "c", "hi", epoch.Add(time.Duration(10-i)*time.Minute))
		})
		// Opening a room is not activity: it must not reorder the list.
		appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
			return r.Join("bob", epoch.Add(time.Hour))
		})
	}
	rooms, err := s.RoomsOf(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rooms {
		got = append(got, r.RoomID)
	}
	if want := []string{b, a, c}; !slices.Equal(got, want) {
		t.Fatalf("RoomsOf(bob) = %v, want %v (newest activity first)", got, want)
	}
	if rooms[0].Role != chat.RoleOwner || rooms[1].Role != chat.RoleMember {
		t.Fatalf("roles %s, %s; want owner, member", rooms[0].Role, rooms[1].Role)
	}
	if none, err := s.RoomsOf(ctx, "nobody"); err != nil || len(none) != 0 {
		t.Fatalf("RoomsOf(nobody) = %v, %v", none, err)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := store.User{Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", CreatedAt: epoch}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	taken := u
	taken.PasswordHash = "other"
	if err := s.CreateUser(ctx, taken); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := s.User(ctx, "alice")
	if err != nil || got.Username != u.Username || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("User(alice) = %+v, %v; want the first account unchanged", got, err)
	}
	if _, err := s.User(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User(bob) error = %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(ctx, store.User{Username: "carol", PasswordHash: "h", CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	names := []string{"alice", "bob", "carol", "alice"}
	for i := range 120 { // more than one DynamoDB batch
		names = append(names, fmt.Sprintf("ghost_%d", i))
	}
	exists, err := s.ExistingUsers(ctx, names)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"alice": true, "carol": true}; !reflect.DeepEqual(exists, want) {
		t.Fatalf("ExistingUsers = %v, want %v", exists, want)
	}
	if exists, err := s.ExistingUsers(ctx, nil); err != nil || len(exists) != 0 {
		t.Fatalf("ExistingUsers(nil) = %v, %v", exists, err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	se := store.Session{TokenHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Username: "alice", CreatedAt: epoch, ExpiresAt: epoch.Add(7 * 24 * time.Hour)}
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, se.TokenHash)
	if err != nil || got.Username != "alice" || !got.ExpiresAt.Equal(se.ExpiresAt) || !got.CreatedAt.Equal(se.CreatedAt) || got.TokenHash != se.TokenHash {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, se)
	}
	if err := s.PutConnection(ctx, store.Connection{ID: "c1", Username: "alice", SessionHash: se.TokenHash, ConnectedAt: epoch, ExpiresAt: liveUntil()}, 0); err != nil {
		t.Fatal(err)
	}
	other := createSession(t, s, "alice")
	if err := s.PutConnection(ctx, store.Connection{ID: "c2", Username: "alice", SessionHash: other, ConnectedAt: epoch, ExpiresAt: liveUntil()}, 0); err != nil {
		t.Fatal(err)
	}
	if conns, err := s.SessionConnections(ctx, se.TokenHash); err != nil || !slices.Equal(conns, []string{"c1"}) {
		t.Fatalf("SessionConnections = %v, %v; want [c1]", conns, err)
	}
	if err := s.DeleteSession(ctx, se.TokenHash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, se.TokenHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, se.TokenHash); err != nil {
		t.Fatalf("second delete: %v, want nil (idempotent)", err)
	}
	if _, err := s.Session(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Session(unknown): %v, want ErrNotFound", err)
	}
}

func testConnections(t *testing.T, s store.Store) {
	ctx := context.Background()
	room := createRoom(t, s, "alice", "bob")
	other := createRoom(t, s, "alice")
	exp := liveUntil()
	sa, sb := createSession(t, s, "alice"), createSession(t, s, "bob")
	for _, c := range []store.Connection{
		{ID: "conn-a", Username: "alice", SessionHash: sa, ConnectedAt: epoch, ExpiresAt: exp},
		{ID: "conn-b", Username: "bob", SessionHash: sb, ConnectedAt: epoch, ExpiresAt: exp},
	} {
		if err := s.PutConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Connection(ctx, "conn-a")
	if err != nil || got.Username != "alice" || got.SessionHash != sa || !got.ExpiresAt.Equal(exp) || !got.ConnectedAt.Equal(epoch) {
		t.Fatalf("Connection(conn-a) = %+v, %v", got, err)
	}
	join := func(roomID, conn, user string) {
		t.Helper()
		r, err := s.Room(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		events := must(t)(r.Join(user, epoch))
		p := &store.Presence{ConnectionID: conn, Username: user, ExpiresAt: exp}
		if _, err := s.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Events: events, Join: p}); err != nil {
			t.Fatal(err)
		}
	}
	join(room, "conn-a", "alice")
	join(room, "conn-b", "bob")
	join(other, "conn-a", "alice")
	presence := func(roomID string) []string {
		t.Helper()
		ps, err := s.RoomConnections(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.ConnectionID+"="+p.Username)
		}
		slices.Sort(out)
		return out
	}
	if got := presence(room); !slices.Equal(got, []string{"conn-a=alice", "conn-b=bob"}) {
		t.Fatalf("RoomConnections = %v", got)
	}
	rooms, err := s.ConnectionRooms(ctx, "conn-a")
	slices.Sort(rooms)
	want := []string{room, other}
	slices.Sort(want)
	if err != nil || !slices.Equal(rooms, want) {
		t.Fatalf("ConnectionRooms(conn-a) = %v, %v; want %v", rooms, err, want)
	}
	// A failed append must not record presence.
	r, _ := s.Room(ctx, room)
	stale := must(t)(r.Join("bob", epoch))
	stale[0].Seq = 2
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: 1, Events: stale, Join: &store.Presence{ConnectionID: "conn-x", Username: "bob", ExpiresAt: exp}}); !errors.Is(err, store.ErrConcurrency) {
		t.Fatalf("stale join: %v, want ErrConcurrency", err)
	}
	if got := presence(room); len(got) != 2 {
		t.Fatalf("a refused join left presence: %v", got)
	}
	// Leaving removes the presence with the user_left event.
	r, _ = s.Room(ctx, room)
	left := must(t)(r.Leave("bob", epoch))
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Events: left, Leave: &store.Presence{ConnectionID: "conn-b", Username: "bob"}}); err != nil {
		t.Fatal(err)
	}
	if got := presence(room); !slices.Equal(got, []string{"conn-a=alice"}) {
		t.Fatalf("after leave RoomConnections = %v", got)
	}
	if rooms, _ := s.ConnectionRooms(ctx, "conn-b"); len(rooms) != 0 {
		t.Fatalf("after leave ConnectionRooms(conn-b) = %v", rooms)
	}
	// Leaving again (a racing $disconnect, say) appends nothing.
	r, _ = s.Room(ctx, room)
	again := must(t)(r.Leave("bob", epoch))
	before := readAll(t, s, room)
	if _, err := s.Append(ctx, store.AppendRequest{RoomID: room, ExpectedVersion: r.Version, Events: again, Leave: &store.Presence{ConnectionID: "conn-b", Username: "bob"}}); !errors.Is(err, store.ErrNotPresent) {
		t.Fatalf("second leave: %v, want ErrNotPresent", err)
	}
	if after := readAll(t, s, room); len(after) != len(before) {
		t.Fatalf("a second leave appended %d events", len(after)-len(before))
	}
	if err := s.RemovePresence(ctx, other, "conn-a", "never-there"); err != nil {
		t.Fatal(err)
	}
	if got := presence(other); len(got) != 0 {
		t.Fatalf("after RemovePresence: %v", got)
	}
	if err := s.DeleteConnection(ctx, "conn-a"); err != nil {
		t.Fatal(err)
	}
	if got := presence(room); len(got) != 0 {
		t.Fatalf("DeleteConnection left presence: %v", got)
	}
	if _, err := s.Connection(ctx, "conn-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Connection after delete: %v", err)
	}
	if conns, _ := s.SessionConnections(ctx, sa); len(conns) != 0 {
		t.Fatalf("DeleteConnection left the session link: %v", conns)
	}
	if err := s.DeleteConnection(ctx, "conn-a"); err != nil {
		t.Fatalf("second DeleteConnection: %v, want nil", err)
	}
}

func testCounters(t *testing.T, s store.Store) {
	ctx := context.Background()
	later := time.Now().Add(time.Minute)
	if n, err := s.Counter(ctx, "c"); err != nil || n != 0 {
		t.Fatalf("unknown counter = %d, %v; want 0", n, err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.IncrementCounter(ctx, "c", later); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, err := s.Counter(ctx, "c"); err != nil || n != 10 {
		t.Fatalf("after 10 concurrent increments = %d, %v; want 10", n, err)
	}
	if n, _ := s.Counter(ctx, "other"); n != 0 {
		t.Fatalf("another counter = %d, want 0", n)
	}
	// An expired counter reads as zero and starts again.
	past := time.Now().Add(-time.Minute)
	if _, err := s.IncrementCounter(ctx, "old", past); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Counter(ctx, "old"); n != 0 {
		t.Fatalf("expired counter = %d, want 0", n)
	}
	if n, err := s.IncrementCounter(ctx, "old", later); err != nil || n != 1 {
		t.Fatalf("increment of an expired counter = %d, %v; want 1", n, err)
	}
}

// createSession stores a live session of username and returns its hash.
// liveUntil is an expiry for connections and presence that has not
// passed: the stores judge those by the real clock, whatever the tests'
// epoch. Whole seconds, as DynamoDB's TTL attribute keeps them.
func liveUntil() time.Time { return time.Now().Add(2 * time.Hour).Truncate(time.Second) }

func createSession(t testing.TB, s store.Store, username string) string {
	t.Helper()
	hash := "session-" + newID()
	if err := s.CreateSession(context.Background(), store.Session{TokenHash: hash, Username: username, CreatedAt: epoch, ExpiresAt: epoch.Add(7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return hash
}

func testConnectionNeedsLiveSession(t *testing.T, s store.Store) {
	ctx := context.Background()
	user := "u" + strings.ToLower(newID())
	conn := func(id, session string, at time.Time) store.Connection {
		return store.Connection{ID: id, Username: user, SessionHash: session, ConnectedAt: at, ExpiresAt: liveUntil()}
	}
	live := createSession(t, s, user)
	if err := s.PutConnection(ctx, conn("c-live", live, epoch), 0); err != nil {
		t.Fatalf("with a live session: %v", err)
	}
	if err := s.PutConnection(ctx, conn("c-unknown", "no-such-session", epoch), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("with an unknown session: %v, want ErrNotFound", err)
	}
	if err := s.PutConnection(ctx, conn("c-expired", live, epoch.Add(8*24*time.Hour)), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("past the session's expiry: %v, want ErrNotFound", err)
	}
	// The order a logout relies on: once the session is deleted, no
	// connection can be linked to it any more.
	if err := s.DeleteSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConnection(ctx, conn("c-late", live, epoch), 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after the session was deleted: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"c-unknown", "c-expired", "c-late"} {
		if _, err := s.Connection(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused connection %s was stored: %v", id, err)
		}
	}
	if conns, err := s.SessionConnections(ctx, live); err != nil || !slices.Equal(conns, []string{"c-live"}) {
		t.Fatalf("SessionConnections = %v, %v; want [c-live]", conns, err)
	}
}

func testConnectionsPerUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	user := "u" + strings.ToLower(newID())
	session := createSession(t, s, user)
	put := func(id string) error {
		return s.PutConnection(ctx, store.Connection{ID: id, Username: user, SessionHash: session, ConnectedAt: epoch, ExpiresAt: time.Now().Add(time.Hour)}, 3)
	}
	// Handshakes racing for the last places: exactly the limit get in.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = put(fmt.Sprintf("c%d", i)) })
	}
	wg.Wait()
	var in []string
	for i, err := range errs {
		switch {
		case err == nil:
			in = append(in, fmt.Sprintf("c%d", i))
		case !errors.Is(err, store.ErrLimit):
			t.Fatalf("put c%d: %v, want nil or ErrLimit", i, err)
		}
	}
	if len(in) != 3 {
		t.Fatalf("%d connections got in (%v), want 3", len(in), in)
	}
	if err := put(in[0]); err != nil {
		t.Fatalf("putting an open connection again: %v, want nil", err)
	}
	if err := s.DeleteConnection(ctx, in[0]); err != nil {
		t.Fatal(err)
	}
	if err := put("c-after-close"); err != nil {
		t.Fatalf("after one closed: %v, want nil", err)
	}
	if err := put("c-one-too-many"); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("past the limit: %v, want ErrLimit", err)
	}
	if err := s.PutConnection(ctx, store.Connection{ID: "c-unlimited", Username: user, SessionHash: session, ConnectedAt: epoch, ExpiresAt: time.Now().Add(time.Hour)}, 0); err != nil {
		t.Fatalf("with no limit: %v", err)
	}
}

func testTickets(t *testing.T, s store.Store) {
	ctx := context.Background()
	tk := store.Ticket{Hash: "ticket-" + newID(), SessionHash: "s1", Username: "alice", ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Second)}
	if err := s.CreateTicket(ctx, tk); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []store.Ticket
	for range 8 {
		wg.Go(func() {
			g, err := s.TakeTicket(ctx, tk.Hash)
			switch {
			case err == nil:
				mu.Lock()
				got = append(got, g)
				mu.Unlock()
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("TakeTicket: %v", err)
			}
		})
	}
	wg.Wait()
	if len(got) != 1 || got[0].SessionHash != "s1" || got[0].Username != "alice" || !got[0].ExpiresAt.Equal(tk.ExpiresAt) {
		t.Fatalf("8 takes at once got %+v, want the ticket once", got)
	}
	if _, err := s.TakeTicket(ctx, "ticket-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown ticket: %v, want ErrNotFound", err)
	}
}
