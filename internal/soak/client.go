package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
)

// counters are the run's running totals, shared by every client.
type counters struct {
	open, sent, acked, resent, deliveries, joins, leaves, reconnects, rateLimited atomic.Int64
}

// serverFrame is a server frame with the error frame's action, which
// tells a typing probe's not_joined from a send's.
type serverFrame struct {
	chatclient.Frame
	Action string `json:"action"`
}

// behaviour is how often a connection does what, and how long it waits.
type behaviour struct {
	// actionEvery is the mean pause between two actions.
	actionEvery time.Duration
	// dropChance and leaveChance are the odds that an action drops the
	// socket (and reconnects) or leaves a room (joined again a little
	// later); the rest are sends.
	dropChance, leaveChance float64
	// timeout bounds every wait for the server's answer.
	timeout time.Duration
}

// outgoing is a message sent and not yet acknowledged.
type outgoing struct {
	room, text string
	// retry is set when it must be sent again: the server refused it
	// (rate_limited, internal) or its socket dropped before the answer.
	retry bool
}

// joinState is the current join of a room on the current socket.
type joinState struct {
	after, lastSeq, top int64
	got, hasMore        bool
}

type socket struct {
	conn *chatclient.Conn
	done chan struct{}
}

// client is one connection of the soak, reconnecting as it goes: one
// goroutine acts, another per socket reads.
type client struct {
	name  string
	api   *chatclient.Client
	rooms []string
	how   behaviour
	rng   *rand.Rand
	stats *counters
	// problems receives what went wrong that no check counts: timeouts,
	// unexpected error frames.
	problems func(string)

	mu      sync.Mutex
	changed chan struct{}
	obs     *observer
	sock    *socket
	joined  map[string]bool
	leftAt  map[string]time.Time
	joins   map[string]*joinState
	probes  map[string]int
	pending map[string]*outgoing
	acks    []ack
	nextMsg int
}

func newClient(name string, api *chatclient.Client, rooms []string, how behaviour, seed uint64, stats *counters, l *ledger, problems func(string)) *client {
	return &client{
		name: name, api: api, rooms: rooms, how: how, rng: rand.New(rand.NewPCG(seed, 0x50a4)), stats: stats, problems: problems,
		changed: make(chan struct{}), obs: newObserver(name, api.Username, l),
		joined: map[string]bool{}, leftAt: map[string]time.Time{}, joins: map[string]*joinState{},
		probes: map[string]int{}, pending: map[string]*outgoing{},
	}
}

// run connects, joins its rooms, acts until the deadline, then has every
// message acknowledged, leaves every room and closes.
func (c *client) run(ctx context.Context, until time.Time) {
	if err := c.reconnect(ctx); err != nil {
		c.problem(err)
	}
	for time.Now().Before(until) && ctx.Err() == nil {
		pause := time.Duration(c.rng.ExpFloat64() * float64(c.how.actionEvery))
		select {
		case <-time.After(min(pause, time.Until(until))):
		case <-ctx.Done():
		}
		if !time.Now().Before(until) {
			break
		}
		if err := c.act(ctx); err != nil {
			c.problem(err)
			if err := c.reconnect(ctx); err != nil {
				c.problem(err)
			}
		}
	}
	if err := c.finish(ctx); err != nil {
		c.problem(err)
	}
	// A client that could not finish cleanly still goes: what it leaves
	// behind on the server is then what a dropped client leaves.
	c.mu.Lock()
	s := c.sock
	c.sock = nil
	c.mu.Unlock()
	if s != nil {
		s.conn.CloseNow()
		<-s.done
		c.stats.open.Add(-1)
	}
}

func (c *client) problem(err error) {
	if !errors.Is(err, context.Canceled) {
		c.problems(fmt.Sprintf("%s: %v", c.name, err))
	}
}

func (c *client) act(ctx context.Context) error {
	if c.socketGone() {
		return c.reconnect(ctx)
	}
	for room, at := range c.leftAt {
		if time.Since(at) > time.Second {
			if err := c.join(ctx, room); err != nil {
				return err
			}
		}
	}
	switch x := c.rng.Float64(); {
	case x < c.how.dropChance:
		return c.reconnect(ctx)
	case x < c.how.dropChance+c.how.leaveChance:
		if joined := c.joinedRooms(); len(joined) > 1 {
			return c.leave(ctx, joined[c.rng.IntN(len(joined))])
		}
	}
	return c.send(ctx)
}

func (c *client) socketGone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock == nil {
		return true
	}
	select {
	case <-c.sock.done:
		return true
	default:
		return false
	}
}

func (c *client) joinedRooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rooms []string
	for _, r := range c.rooms {
		if c.joined[r] {
			rooms = append(rooms, r)
		}
	}
	return rooms
}

// reconnect drops the socket if there is one, as a client losing its
// network does, opens another, joins again every room it was in with its
// resume point, and marks every unacknowledged message for a resend.
func (c *client) reconnect(ctx context.Context) error {
	c.mu.Lock()
	old := c.sock
	c.sock = nil
	c.mu.Unlock()
	if old != nil {
		old.conn.CloseNow()
		<-old.done
		c.stats.open.Add(-1)
		c.stats.reconnects.Add(1)
		time.Sleep(time.Duration(200+c.rng.IntN(800)) * time.Millisecond)
	}
	var conn *chatclient.Conn
	var err error
	for attempt := range 3 {
		dialCtx, cancel := context.WithTimeout(ctx, c.how.timeout)
		conn, err = c.api.Dial(dialCtx)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * time.Second)
	}
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	c.stats.open.Add(1)
	s := &socket{conn: conn, done: make(chan struct{})}
	c.mu.Lock()
	c.obs.newSocket()
	c.sock = s
	var rooms []string
	for _, r := range c.rooms {
		if c.joined[r] || old == nil {
			rooms = append(rooms, r)
		}
		c.joined[r] = false
	}
	for _, m := range c.pending {
		m.retry = true
	}
	c.joins, c.probes = map[string]*joinState{}, map[string]int{}
	c.mu.Unlock()
	go c.read(s)
	for _, r := range rooms {
		if err := c.join(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// read handles a socket's frames until it closes.
func (c *client) read(s *socket) {
	defer close(s.done)
	for {
		raw, err := s.conn.Read(context.Background())
		if err != nil {
			return
		}
		var f serverFrame
		if err := json.Unmarshal(raw, &f); err != nil {
			c.problems(fmt.Sprintf("%s: unreadable frame %.200s: %v", c.name, raw, err))
			continue
		}
		c.handle(s, f)
	}
}

func (c *client) handle(s *socket, f serverFrame) {
	c.mu.Lock()
	defer func() {
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}()
	if s != c.sock {
		return
	}
	if kind, ok := kindOfFrame[f.Type]; ok {
		c.obs.live(f.RoomID, f.Type, EventRef{Seq: f.Seq, Kind: kind, Username: f.Username, ClientMsgID: f.ClientMsgID})
		if f.Type != "receive_message" {
			return
		}
		c.stats.deliveries.Add(1)
		if m, mine := c.pending[f.ClientMsgID]; mine && f.Username == c.api.Username && m.room == f.RoomID {
			delete(c.pending, f.ClientMsgID)
			c.acks = append(c.acks, ack{Room: f.RoomID, Username: f.Username, ClientMsgID: f.ClientMsgID, Seq: f.Seq})
			c.stats.acked.Add(1)
		}
		return
	}
	switch f.Type {
	case "history":
		events := make([]EventRef, len(f.Events))
		for i, e := range f.Events {
			events[i] = EventRef{Seq: e.Seq, Kind: e.Type, Username: e.Username, ClientMsgID: e.ClientMsgID}
		}
		c.obs.history(f.RoomID, events, f.LastSeq)
		if j := c.joins[f.RoomID]; j != nil {
			j.got, j.hasMore, j.lastSeq = true, f.HasMore, f.LastSeq
			if n := len(events); n > 0 {
				j.top = events[n-1].Seq
			}
		}
	case "error":
		m := c.pending[f.ClientMsgID]
		switch {
		case m != nil && (f.Code == "rate_limited" || f.Code == "internal"):
			m.retry = true
			if f.Code == "rate_limited" {
				c.stats.rateLimited.Add(1)
			} else {
				c.problems(fmt.Sprintf("%s: send %s answered internal: %s", c.name, f.ClientMsgID, f.Message))
			}
		case f.Action == "typing" && f.Code == "not_joined":
			c.probes[f.RoomID]++
		default:
			c.problems(fmt.Sprintf("%s: error frame %s (action %s, room %s, client_msg_id %s): %s", c.name, f.Code, f.Action, f.RoomID, f.ClientMsgID, f.Message))
		}
	case "typing":
	case "room_summary", "room_removed":
		// A room list line for a socket not joined to the room: no seq,
		// nothing to order.
	default:
		c.problems(fmt.Sprintf("%s: unexpected %s frame in room %s", c.name, f.Type, f.RoomID))
	}
}

// wait blocks until cond, checked under the lock, holds.
func (c *client) wait(ctx context.Context, s *socket, what string, cond func() bool) error {
	timer := time.NewTimer(c.how.timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ok, changed := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-s.done:
			c.mu.Lock()
			ok := cond()
			c.mu.Unlock()
			if ok {
				return nil
			}
			return fmt.Errorf("waiting for %s: the connection closed", what)
		case <-timer.C:
			return fmt.Errorf("waiting for %s: no answer in %s", what, c.how.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *client) current() (*socket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock == nil {
		return nil, errors.New("no connection")
	}
	return c.sock, nil
}

// join joins a room from the last seq seen there, and pages forward when
// the history says more were missed than it holds.
func (c *client) join(ctx context.Context, room string) error {
	s, err := c.current()
	if err != nil {
		return err
	}
	c.mu.Lock()
	after := c.obs.resumePoint(room)
	c.obs.joinSent(room, after)
	j := &joinState{after: after, top: after}
	c.joins[room] = j
	c.mu.Unlock()
	if err := s.conn.Send(ctx, chatclient.JoinFrame(room, after)); err != nil {
		return err
	}
	if err := c.wait(ctx, s, "the history of room "+room, func() bool { return j.got }); err != nil {
		return err
	}
	c.mu.Lock()
	top, last, more := j.top, j.lastSeq, j.hasMore && after >= 0
	c.mu.Unlock()
	for more && top < last {
		pageCtx, cancel := context.WithTimeout(ctx, c.how.timeout)
		page, err := c.api.EventsPage(pageCtx, room, top, 200)
		cancel()
		if err != nil {
			return fmt.Errorf("page room %s after %d: %w", room, top, err)
		}
		var events []EventRef
		for _, e := range page.Events {
			top = max(top, e.Seq)
			if e.Seq <= last {
				events = append(events, EventRef{Seq: e.Seq, Kind: e.Type, Username: e.Username, ClientMsgID: e.ClientMsgID})
			}
		}
		c.mu.Lock()
		c.obs.page(room, events)
		c.mu.Unlock()
		more = page.HasMore && len(page.Events) > 0
	}
	c.mu.Lock()
	c.joined[room] = true
	delete(c.leftAt, room)
	c.mu.Unlock()
	c.stats.joins.Add(1)
	return nil
}

// leave leaves a room and waits until the server has handled it: a typing
// probe sent right after is answered not_joined once it has.
func (c *client) leave(ctx context.Context, room string) error {
	s, err := c.current()
	if err != nil {
		return err
	}
	c.mu.Lock()
	before := c.probes[room]
	c.mu.Unlock()
	if err := s.conn.Send(ctx, chatclient.LeaveFrame(room)); err != nil {
		return err
	}
	if err := s.conn.Send(ctx, chatclient.TypingFrame(room)); err != nil {
		return err
	}
	if err := c.wait(ctx, s, "leaving room "+room, func() bool { return c.probes[room] > before }); err != nil {
		return err
	}
	c.mu.Lock()
	c.joined[room] = false
	c.leftAt[room] = time.Now()
	c.mu.Unlock()
	c.stats.leaves.Add(1)
	return nil
}

// send sends a message that must go again if there is one, else a new
// one, to a room joined on this socket.
func (c *client) send(ctx context.Context) error {
	s, err := c.current()
	if err != nil {
		return err
	}
	c.mu.Lock()
	cmid, m := c.retryable()
	if m != nil {
		m.retry = false
		c.obs.resent(m.room, cmid)
		c.stats.resent.Add(1)
	} else {
		var joined []string
		for _, r := range c.rooms {
			if c.joined[r] {
				joined = append(joined, r)
			}
		}
		if len(joined) == 0 {
			c.mu.Unlock()
			return nil
		}
		c.nextMsg++
		cmid = fmt.Sprintf("%s-%d", c.name, c.nextMsg)
		m = &outgoing{room: joined[c.rng.IntN(len(joined))], text: "soak message " + cmid}
		c.pending[cmid] = m
		c.stats.sent.Add(1)
	}
	c.mu.Unlock()
	return s.conn.Send(ctx, chatclient.SendFrame(m.room, cmid, m.text))
}

// retryable is a message to send again in a room joined now, if any.
func (c *client) retryable() (string, *outgoing) {
	for _, cmid := range slices.Sorted(maps.Keys(c.pending)) {
		if m := c.pending[cmid]; m.retry && c.joined[m.room] {
			return cmid, m
		}
	}
	return "", nil
}

// closeGrace is how long a client keeps reading after its last leave.
const closeGrace = time.Second

// finish rejoins the rooms left for a while, has every message
// acknowledged, then leaves every room and closes the socket.
func (c *client) finish(ctx context.Context) error {
	if c.socketGone() {
		if err := c.reconnect(ctx); err != nil {
			return err
		}
	}
	for _, room := range slices.Sorted(maps.Keys(c.leftAt)) {
		if err := c.join(ctx, room); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(c.how.timeout)
	for {
		c.mu.Lock()
		left := len(c.pending)
		cmid, m := c.retryable()
		c.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d messages never acknowledged", left)
		}
		if m != nil {
			if err := c.send(ctx); err != nil {
				return fmt.Errorf("resend %s: %w", cmid, err)
			}
			continue
		}
		s, err := c.current()
		if err != nil {
			return err
		}
		waitCtx, cancel := context.WithTimeout(ctx, time.Second)
		err = c.wait(waitCtx, s, "acknowledgements", func() bool { return len(c.pending) < left })
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	for _, room := range c.joinedRooms() {
		if err := c.leave(ctx, room); err != nil {
			return err
		}
	}
	s, err := c.current()
	if err != nil {
		return err
	}
	// Frames still on their way in are read before closing, so that one
	// the server sends late shows as out of order rather than lost.
	time.Sleep(closeGrace)
	err = s.conn.Close()
	<-s.done
	c.stats.open.Add(-1)
	c.mu.Lock()
	c.sock = nil
	c.mu.Unlock()
	return err
}
