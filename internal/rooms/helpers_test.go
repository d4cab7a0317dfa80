package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/dynamolocal/dynamolocaltest"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(dynamolocaltest.Main(m)) }

// adapters are both stores, fresh for each test.
var adapters = storetest.Adapters()

// users have accounts in every fixture; ghost and nobody never do.
var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "mallory"}

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// stepClock moves one second on every reading, so every event has its
// own time and "newest activity" is never a tie.
type stepClock struct{ n atomic.Int64 }

func (c *stepClock) Now() time.Time { return t0.Add(time.Duration(c.n.Add(1)) * time.Second) }

// ids issues room-001, room-002, ... unless a script of ids is queued.
type ids struct {
	mu     sync.Mutex
	n      int
	script []string
	issued []string
}

func (g *ids) next() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var id string
	if len(g.script) > 0 {
		id, g.script = g.script[0], g.script[1:]
	} else {
		g.n++
		id = fmt.Sprintf("room-%03d", g.n)
	}
	g.issued = append(g.issued, id)
	return id
}

func (g *ids) queue(script ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.script = append(g.script, script...)
}

func (g *ids) all() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.issued)
}

// hooked wraps the real store: it counts calls and lets a test step into
// loads and appends. It is a probe beside the real store, never instead
// of it.
type hooked struct {
	rooms.Store
	loads, appends, lookups, conflicts atomic.Int64

	mu sync.Mutex
	// afterLoad runs after every successful Room or RoomAs.
	afterLoad func()
	// append replaces Append; next is the real one.
	append func(ctx context.Context, req store.AppendRequest, next func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error)
}

func (h *hooked) hooks() (func(), func(context.Context, store.AppendRequest, func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.afterLoad, h.append
}

func (h *hooked) set(afterLoad func(), app func(context.Context, store.AppendRequest, func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.afterLoad, h.append = afterLoad, app
}

func (h *hooked) loaded(r *chat.Room, err error) (*chat.Room, error) {
	h.loads.Add(1)
	if after, _ := h.hooks(); after != nil && err == nil {
		after()
	}
	return r, err
}

func (h *hooked) Room(ctx context.Context, roomID string) (*chat.Room, error) {
	return h.loaded(h.Store.Room(ctx, roomID))
}

func (h *hooked) RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return h.loaded(h.Store.RoomAs(ctx, roomID, usernames...))
}

func (h *hooked) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	h.appends.Add(1)
	_, app := h.hooks()
	var res store.AppendResult
	var err error
	if app != nil {
		res, err = app(ctx, req, h.Store.Append)
	} else {
		res, err = h.Store.Append(ctx, req)
	}
	if errors.Is(err, store.ErrConcurrency) {
		h.conflicts.Add(1)
	}
	return res, err
}

func (h *hooked) ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error) {
	h.lookups.Add(1)
	return h.Store.ExistingUsers(ctx, usernames)
}

// counts returns loads, appends and lookups since the last call.
func (h *hooked) counts() (loads, appends, lookups int64) {
	return h.loads.Swap(0), h.appends.Swap(0), h.lookups.Swap(0)
}

type fixture struct {
	ctx   context.Context
	st    store.Store
	h     *hooked
	svc   *rooms.Service
	clock *stepClock
	ids   *ids

	sharedRoom, sharedDeleted string
}

// eachAdapter runs test once per adapter, each with a fresh store holding
// the accounts of users, in parallel with the other tests that use it.
func eachAdapter(t *testing.T, test func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Parallel()
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			test(t, newFixture(t, a.Open(t)))
		})
	}
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), st: st, clock: &stepClock{}, ids: &ids{}}
	f.h = &hooked{Store: st}
	svc, err := rooms.NewService(f.h, slog.New(slog.DiscardHandler), f.clock.Now, f.ids.next)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.createUsers(t, users...)
	return f
}

func (f *fixture) createUsers(t *testing.T, names ...string) {
	t.Helper()
	for _, u := range names {
		if err := f.st.CreateUser(f.ctx, store.User{Username: u, PasswordHash: "x", CreatedAt: t0}); err != nil {
			t.Fatalf("create user %s: %v", u, err)
		}
	}
}

// general creates a room owned by alice with carol an admin and bob a
// member: the cast of most tests. Its version is 2.
func (f *fixture) general(t *testing.T) string {
	t.Helper()
	r, err := f.svc.Create(f.ctx, "alice", "general", []string{"bob", "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddMembers(f.ctx, "alice", r.ID, []string{"carol"}, true); err != nil {
		t.Fatal(err)
	}
	f.h.counts()
	return r.ID
}

// shared returns one room like general for the fixture, for commands
// that are refused and so leave it as it was (which each test checks).
func (f *fixture) shared(t *testing.T) string {
	t.Helper()
	if f.sharedRoom == "" {
		f.sharedRoom = f.general(t)
	}
	return f.sharedRoom
}

// sharedGone is shared for a deleted room.
func (f *fixture) sharedGone(t *testing.T) string {
	t.Helper()
	if f.sharedDeleted == "" {
		f.sharedDeleted = f.deleted(t)
	}
	return f.sharedDeleted
}

// deleted creates a room like general and deletes it.
func (f *fixture) deleted(t *testing.T) string {
	t.Helper()
	id := f.general(t)
	if _, err := f.svc.Delete(f.ctx, "alice", id); err != nil {
		t.Fatal(err)
	}
	f.h.counts()
	return id
}

// direct runs a command against the real store, bypassing the service,
// retrying on a version conflict.
func (f *fixture) direct(t *testing.T, roomID string, cmd func(r *chat.Room) ([]chat.Event, error)) []chat.Event {
	t.Helper()
	for attempt := 0; ; attempt++ {
		r, err := f.st.Room(f.ctx, roomID)
		if err != nil {
			t.Fatalf("read room %s: %v", roomID, err)
		}
		events, err := cmd(r)
		if err != nil {
			t.Fatalf("direct command refused: %v", err)
		}
		res, err := f.st.Append(f.ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: r.Version, Events: events})
		if errors.Is(err, store.ErrConcurrency) && attempt < 100 {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("direct append: %v", err)
		}
		return res.Events
	}
}

func (f *fixture) message(t *testing.T, roomID, actor, clientMsgID string) chat.Event {
	t.Helper()
	return f.direct(t, roomID, func(r *chat.Room) ([]chat.Event, error) {
		return r.SendMessage(actor, "m-"+clientMsgID, clientMsgID, "text of "+clientMsgID, f.clock.Now())
	})[0]
}

func (f *fixture) stream(t *testing.T, roomID string) []chat.Event {
	t.Helper()
	p, err := f.st.ReadForward(f.ctx, roomID, 0, store.MaxPageSize)
	if err != nil {
		t.Fatalf("read %s: %v", roomID, err)
	}
	if p.HasMore {
		t.Fatalf("room %s has more than %d events", roomID, store.MaxPageSize)
	}
	for i, e := range p.Events {
		if e.Seq != int64(i+1) {
			t.Fatalf("room %s: event %d has seq %d: a gap or a repeat", roomID, i, e.Seq)
		}
	}
	return p.Events
}

// listed are the people whose room lists a snapshot records: the cast of
// general and the usual newcomer.
var listed = []string{"alice", "bob", "carol", "dave"}

// snapshot is what a refused command must leave as it was: the room's
// stream and projection and the room lists of the people involved.
type snapshot struct {
	roomID  string
	events  []chat.Event
	room    *chat.Room
	roomErr error
	lists   map[string][]store.RoomSummary
}

func (f *fixture) snap(t *testing.T, roomID string) snapshot {
	t.Helper()
	s := snapshot{roomID: roomID, events: f.stream(t, roomID), lists: map[string][]store.RoomSummary{}}
	s.room, s.roomErr = f.st.Room(f.ctx, roomID)
	if s.roomErr != nil && !errors.Is(s.roomErr, store.ErrNotFound) {
		t.Fatalf("read room %s: %v", roomID, s.roomErr)
	}
	for _, u := range listed {
		l, err := f.st.RoomsOf(f.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		s.lists[u] = l
	}
	return s
}

// unchanged fails unless the store still matches the snapshot.
func (f *fixture) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	after := f.roomUnchanged(t, before)
	if !reflect.DeepEqual(before.lists, after.lists) {
		t.Fatalf("room lists changed:\nbefore %+v\nafter  %+v", before.lists, after.lists)
	}
}

// roomUnchanged fails unless the room's stream and projection still match
// the snapshot, and returns the new snapshot.
func (f *fixture) roomUnchanged(t *testing.T, before snapshot) snapshot {
	t.Helper()
	after := f.snap(t, before.roomID)
	if d := diffEvents(before.events, after.events); d != "" {
		t.Fatalf("the stream changed: %s", d)
	}
	switch {
	case (before.roomErr == nil) != (after.roomErr == nil):
		t.Fatalf("the room changed: before %v (%v), after %v (%v)", before.room, before.roomErr, after.room, after.roomErr)
	case before.room != nil:
		if d := storetest.DiffRooms(before.room, after.room); d != "" {
			t.Fatalf("the room changed: %s", d)
		}
	}
	return after
}

func diffEvents(want, got []chat.Event) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diffEvent(want[i], got[i]); d != "" {
			return fmt.Sprintf("event %d: %s", i, d)
		}
	}
	return ""
}

func diffEvent(want, got chat.Event) string {
	if want.Seq != got.Seq || want.Username != got.Username || !want.At.Equal(got.At) || !reflect.DeepEqual(want.Data, got.Data) {
		return fmt.Sprintf("%d %s %s %#v, want %d %s %s %#v", got.Seq, got.Username, got.At, got.Data, want.Seq, want.Username, want.At, want.Data)
	}
	return ""
}

// checkChange checks a command that succeeded: its events follow the
// snapshot's stream and carry want's data from actor, the stored stream
// is the old one plus them, and the room it returns is the stored one and
// the replay of the stream.
func (f *fixture) checkChange(t *testing.T, before snapshot, ch rooms.Change, actor string, want ...chat.EventData) {
	t.Helper()
	if len(ch.Events) != len(want) {
		t.Fatalf("change has %d events, want %d: %+v", len(ch.Events), len(want), ch.Events)
	}
	for i, e := range ch.Events {
		if wantSeq := int64(len(before.events) + i + 1); e.Seq != wantSeq || e.Username != actor || !reflect.DeepEqual(e.Data, want[i]) {
			t.Fatalf("event %d = seq %d by %s %#v; want seq %d by %s %#v", i, e.Seq, e.Username, e.Data, wantSeq, actor, want[i])
		}
	}
	after := f.stream(t, before.roomID)
	if d := diffEvents(append(slices.Clone(before.events), ch.Events...), after); d != "" {
		t.Fatalf("stored stream: %s", d)
	}
	replayed, err := chat.Replay(before.roomID, after)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.st.Room(f.ctx, before.roomID)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Room == nil {
		t.Fatal("change has no room")
	}
	if d := storetest.DiffRooms(replayed, stored); d != "" {
		t.Fatalf("stored room vs replay: %s", d)
	}
	if d := storetest.DiffRooms(replayed, ch.Room); d != "" {
		t.Fatalf("returned room vs replay: %s", d)
	}
}

// wantErr fails unless err carries the contract code and, when names is
// not nil, names exactly those people.
func wantErr(t *testing.T, err error, code chat.Code, names []string) {
	t.Helper()
	var e *chat.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	if names != nil && !slices.Equal(e.Usernames, names) {
		t.Fatalf("error names %q, want %q", e.Usernames, names)
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}
