package rooms

import (
	"context"
	"sync"
	"time"
)

// The contract promises that a connection receives a room's live frames in
// seq order. Handlers append, then push, and two handlers of one room
// running at once could push in the other order. Within a process (the
// emulator, or any Lambda instance serving several invocations) the
// service prevents that: appends to a room take turns, and each append
// that stored events hands back a Delivery whose Wait returns only once
// every earlier append of the room in this process has been delivered.
// Appends made by other processes are not ordered against these: each
// Lambda instance serves one invocation at a time, so in the cloud two
// messages sent into a room at the same instant can reach a connection in
// either order, and clients order by seq (docs/api.md).

// lines holds, per room, the turn to append and the chain of deliveries.
type lines struct {
	mu    sync.Mutex
	rooms map[string]*line
	// maxWait overrides maxDeliveryWait (tests).
	maxWait time.Duration
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

// enqueue hands out the next delivery; the caller holds the turn.
func (l *lines) enqueue(roomID string, ln *line) *Delivery {
	d := &Delivery{started: make(chan struct{}), done: make(chan struct{}), maxWait: maxDeliveryWait,
		release: func() { l.release(roomID, ln) }}
	if l.maxWait > 0 {
		d.maxWait = l.maxWait
	}
	l.mu.Lock()
	d.prev = ln.tail
	ln.tail = d
	ln.refs++ // held by the delivery until Done
	l.mu.Unlock()
	return d
}

// maxDeliveryWait bounds how long a delivery waits for the one before it
// once that one is pushing: the functions' timeout in template.yaml, past
// which no healthy push runs (a fan-out to a thousand connections through
// a busy management API takes seconds), short enough that a stuck one does
// not silence the room for long. Waiting for earlier ones to start is not
// bounded by it, since a busy room's queue of deliveries can be long and
// each moves on its own. A client that sees a gap fills it by seq.
const maxDeliveryWait = 15 * time.Second

// maxQueueWait bounds the wait for the delivery before to start pushing:
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
	maxWait time.Duration
	start   sync.Once
	once    sync.Once
	release func()
}

// Wait returns once every earlier delivery of the room in this process is
// done, or when ctx ends, or when the one before has pushed for longer
// than maxDeliveryWait. It reports whether the order is kept (false: it
// gave up waiting).
func (d *Delivery) Wait(ctx context.Context) bool {
	if d == nil {
		return true
	}
	defer d.start.Do(func() { close(d.started) })
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
	pushing := time.NewTimer(d.maxWait)
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

// Done lets the room's next delivery go. It is idempotent.
func (d *Delivery) Done() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		d.start.Do(func() { close(d.started) })
		close(d.done)
		d.release()
	})
}
