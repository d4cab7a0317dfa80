package rooms

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/chatroom/chat/internal/store"
)

// The contract promises that a connection receives a room's live frames in
// seq order, however many instances of each function run (docs/api.md,
// "Order"). Handlers append, then push, and two handlers of one room
// running at once could push in the other order. Two mechanisms keep it:
//
//   - Across processes, the store's delivery marks (store.DeliveryMarks):
//     a deliverer waits until the room is marked delivered up to the seq
//     before its first, for at most MaxOrderWait, and marks its last once
//     it has pushed.
//   - Within a process, a chain: appends to a room take turns, and each
//     append that stored events hands back a Delivery whose Wait first
//     waits for the room's earlier deliveries in this process. This saves
//     the store reads (a process that marked seq s-1 itself knows it is
//     delivered), and lets a busy room's appends be batched (sends.go).

// MaxOrderWait bounds how long a delivery waits for the one before it
// once that one is under way. Past it the frames go out anyway, so a stuck
// or crashed deliverer does not silence the room; the client's gap-fill by
// seq covers what comes out of order. The contract allows at most 2 s.
const MaxOrderWait = 2 * time.Second

// lines holds, per room, the turn to append and the chain of deliveries.
type lines struct {
	mu    sync.Mutex
	rooms map[string]*line
	// maxWait overrides MaxOrderWait (SetOrderWait).
	maxWait time.Duration
	marks   store.DeliveryMarks
	logger  *slog.Logger
	// marked is, per room, the last seq this process marked delivered for
	// the whole room: a delivery right after it need not read the store.
	marked map[string]int64
}

// maxMarkedRooms bounds lines.marked; past it the map starts afresh.
const maxMarkedRooms = 4096

func (l *lines) knownDelivered(roomID string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.marked[roomID]
}

func (l *lines) delivered(roomID string, seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.marked == nil || len(l.marked) >= maxMarkedRooms {
		l.marked = map[string]int64{}
	}
	l.marked[roomID] = max(l.marked[roomID], seq)
}

type line struct {
	// turn is held from loading the room to the end of its append.
	turn chan struct{}
	// tail is the latest delivery handed out.
	tail *Delivery
	// refs counts the appends under way and deliveries not yet done; the
	// line is forgotten at zero.
	refs int
	// pending are messages waiting for the next batch (sends.go); sending
	// says a goroutine is appending them.
	pending []*sendRequest
	sending bool
}

func (l *lines) acquire(roomID string) *line {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rooms == nil {
		l.rooms = map[string]*line{}
	}
	ln, ok := l.rooms[roomID]
	if !ok {
		ln = &line{turn: make(chan struct{}, 1)}
		l.rooms[roomID] = ln
	}
	ln.refs++
	return ln
}

func (l *lines) release(roomID string, ln *line) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln.refs--
	if ln.refs == 0 {
		delete(l.rooms, roomID)
	}
}

// takeTurn waits for the room's turn to append.
func (ln *line) takeTurn(ctx context.Context) error {
	select {
	case ln.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (ln *line) endTurn() { <-ln.turn }

// enqueue hands out the next delivery, of the events first to last; the
// caller holds the turn.
func (l *lines) enqueue(roomID string, ln *line, first, last int64) *Delivery {
	d := &Delivery{started: make(chan struct{}), done: make(chan struct{}),
		lines: l, roomID: roomID, first: first, last: last,
		release: func() { l.release(roomID, ln) }}
	l.mu.Lock()
	d.prev = ln.tail
	ln.tail = d
	ln.refs++ // held by the delivery until Done
	l.mu.Unlock()
	return d
}

// maxQueueWait bounds the wait for the delivery before, in this process,
// to start pushing: waiting for earlier ones to start is not bounded by
// MaxOrderWait, since a busy room's queue of deliveries can be long and
// each moves on its own;
// only a holder that never calls Wait nor Done (a bug) reaches it.
const maxQueueWait = time.Minute

// Delivery is the place of one change's frames in its room's order. Push
// between Wait and Done; Done must always be called (defer it).
type Delivery struct {
	// prev is read and cleared only by Wait, so the chain of deliveries
	// does not keep every earlier one alive.
	prev    *Delivery
	started chan struct{} // closed when Wait returns or Done is called
	done    chan struct{}
	start   sync.Once
	once    sync.Once
	release func()

	lines       *lines
	roomID      string
	first, last int64
	// handedOff says other deliverers push the frames, and wait and mark
	// for them (sharded fan-out).
	handedOff bool
}

// Wait returns once every earlier event of the room is delivered, or when
// ctx ends, or when the one before has been under way for longer than
// MaxOrderWait. It reports whether the order is kept (false: it gave up
// waiting).
func (d *Delivery) Wait(ctx context.Context) bool {
	if d == nil {
		return true
	}
	defer d.start.Do(func() { close(d.started) })
	if !d.waitInProcess(ctx) {
		return false
	}
	if d.handedOff {
		return true
	}
	return d.lines.awaitDelivered(ctx, d.roomID, d.first-1)
}

// awaitDelivered waits until the room's events up to seq are delivered,
// as AwaitSlots does for every slot, without reading the store when this
// process marked them itself. It reports whether they were.
func (l *lines) awaitDelivered(ctx context.Context, roomID string, seq int64) bool {
	if l.marks == nil || l.knownDelivered(roomID) >= seq {
		return true
	}
	_, kept := AwaitSlots(ctx, l.marks, roomID, store.AllSlots, seq+1, l.orderWait())
	return kept
}

// orderWait is MaxOrderWait, or what SetOrderWait made it.
func (l *lines) orderWait() time.Duration {
	if l.maxWait > 0 {
		return l.maxWait
	}
	return MaxOrderWait
}

// HandOff says the frames are pushed by other deliverers, which wait for
// the room's earlier events and mark theirs (sharded fan-out): Wait then
// orders only against this process's earlier deliveries, and Done marks
// nothing. Call it before Wait.
func (d *Delivery) HandOff() {
	if d != nil {
		d.handedOff = true
	}
}

// waitInProcess waits for the room's earlier deliveries in this process.
func (d *Delivery) waitInProcess(ctx context.Context) bool {
	prev := d.prev
	d.prev = nil
	if prev == nil {
		return true
	}
	select {
	case <-prev.done:
		return true
	default:
	}
	queued := time.NewTimer(maxQueueWait)
	defer queued.Stop()
	select {
	case <-prev.done:
		return true
	case <-prev.started:
	case <-ctx.Done():
		return false
	case <-queued.C:
		return false
	}
	pushing := time.NewTimer(d.lines.orderWait())
	defer pushing.Stop()
	select {
	case <-prev.done:
		return true
	case <-ctx.Done():
		return false
	case <-pushing.C:
		return false
	}
}

// Done marks the events delivered and lets the room's next delivery go,
// pushed or not: a change nobody pushes must not hold up the next. It is
// idempotent.
func (d *Delivery) Done() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		d.start.Do(func() { close(d.started) })
		if !d.handedOff && d.lines.marks != nil {
			// Not under the caller's context: one that ended must still
			// let the next deliverer go.
			ctx, cancel := context.WithTimeout(context.Background(), markTimeout)
			if err := d.lines.marks.MarkDelivered(ctx, d.roomID, store.AllSlots, d.last); err != nil {
				d.lines.logger.Warn("delivery not marked: the room's next frames wait for it", "room_id", d.roomID, "seq", d.last, "error", err.Error())
			} else {
				d.lines.delivered(d.roomID, d.last)
			}
			cancel()
		}
		close(d.done)
		d.release()
	})
}

// markTimeout bounds a mark's write: past it the next deliverer waits out
// its MaxOrderWait instead.
const markTimeout = 2 * time.Second

// OrderWait is how long a delivery waits for a stuck predecessor: the
// contract's MaxOrderWait unless SetOrderWait changed it.
func (s *Service) OrderWait() time.Duration { return s.lines.orderWait() }

// SetOrderWait changes how long a delivery waits for a stuck predecessor
// (0: MaxOrderWait). Only tests that check order on a machine too loaded
// for the contract's bound use it; call it before the service is used.
func (s *Service) SetOrderWait(d time.Duration) { s.lines.maxWait = d }

// marksNotifier is a store that can wake waiters when a room's marks move
// (the embedded store, whose marks live in this process); others are
// polled.
type marksNotifier interface {
	MarksChanged(roomID string) <-chan struct{}
}

// AwaitSlots waits until the room's slots are marked delivered up to the
// seq before first. It gives up when the marks have not moved for bound:
// the delivery they wait on is stuck, not merely behind others of a busy
// room, which go one after another. It reports whether they were
// delivered (false: the caller pushes out of turn), and how far they were
// when the wait ended (-1 when the room has no marks): a deliverer that
// finds its own events delivered already is running twice. The first read
// may be stale (eventually consistent, the cheaper); the ones that poll
// are not.
func AwaitSlots(ctx context.Context, marks store.DeliveryMarks, roomID string, slots store.Slots, first int64, bound time.Duration) (upTo int64, kept bool) {
	return awaitMarks(ctx, marks, roomID, first-1, bound, func(d store.Delivered) int64 { return d.UpTo(slots) })
}

// AwaitHandedOff waits, as AwaitSlots does, until the room's events
// before first have been handed to the fan-out function or delivered, so
// that a big room's shards reach the fan-out's queue in seq order.
func AwaitHandedOff(ctx context.Context, marks store.DeliveryMarks, roomID string, first int64, bound time.Duration) bool {
	_, kept := awaitMarks(ctx, marks, roomID, first-1, bound, func(d store.Delivered) int64 {
		return max(d.HandedOff, d.UpTo(store.AllSlots))
	})
	return kept
}

// awaitMarks waits until reached, read from the room's marks, is at
// least target, giving up once it has not moved for bound. It returns the
// last value read (-1: none, or no marks) and whether it reached target.
func awaitMarks(ctx context.Context, marks store.DeliveryMarks, roomID string, target int64, bound time.Duration, reached func(store.Delivered) int64) (int64, bool) {
	deadline := time.Now().Add(bound)
	pause := 2 * time.Millisecond
	seen := int64(-1)
	notifier, _ := marks.(marksNotifier)
	for consistent := false; ; consistent = true {
		// Taken before the read, so a mark made after it wakes the wait.
		var changed <-chan struct{}
		if notifier != nil {
			changed = notifier.MarksChanged(roomID)
		}
		d, err := marks.Delivered(ctx, roomID, consistent)
		if errors.Is(err, store.ErrNotFound) {
			return -1, true
		}
		if err == nil && reached(d) >= target {
			return reached(d), true
		}
		if err == nil && consistent && reached(d) > seen {
			if seen >= 0 {
				deadline = time.Now().Add(bound) // progress
			}
			seen = reached(d)
		}
		if consistent {
			pause = min(2*pause, 50*time.Millisecond)
		}
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			return seen, false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return seen, false
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
}
