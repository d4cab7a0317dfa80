// Package loadgen measures the chat the way its users feel it: it signs up
// people through the HTTP API, fills a room with N WebSocket connections,
// has S of them send, first at a fixed offered rate and then flat out, and
// at every receiver counts deliveries, times each message from send to
// receipt, and checks that nothing is lost, repeated or out of seq order.
// Afterwards it reads the room's stream to check every acknowledged message
// was stored once. It speaks only the wire contract, so it can load the
// local emulator or a deployed stack alike.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatroom/chat/internal/chatclient"
)

// Config is one run: every room size, each with both phases.
type Config struct {
	BaseURL   string
	HTTP      *http.Client
	RoomSizes []int
	// Senders is how many of the room's connections send; each keeps up
	// to InFlight messages unanswered.
	Senders, InFlight int
	MessageBytes      int
	// Rate is the fixed phase's offered load in deliveries a second
	// (messages a second times the room size); 0 skips the phase.
	Rate         int
	RateDuration time.Duration
	// FlatDuration bounds the flat-out phase (0 skips it); MaxMessages
	// bounds either phase's messages.
	FlatDuration time.Duration
	MaxMessages  int
	// UsersPerRoom is how many accounts share the room's connections:
	// signing up costs a deliberately slow password hash each.
	UsersPerRoom int
	Password     string
	// RunID makes usernames unique between runs against one server.
	RunID string
	// Drain bounds the wait for the last deliveries after a phase.
	Drain    time.Duration
	Progress io.Writer
}

// Result is one phase in one room.
type Result struct {
	RoomSize         int     `json:"room_size"`
	Phase            string  `json:"phase"`
	Senders          int     `json:"senders"`
	InFlight         int     `json:"in_flight"`
	Sent             int     `json:"messages_sent"`
	Acknowledged     int     `json:"messages_acknowledged"`
	Stored           int     `json:"messages_stored"`
	Refused          int     `json:"messages_refused"`
	Deliveries       uint64  `json:"deliveries"`
	Seconds          float64 `json:"seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_second"`
	P50ms            float64 `json:"latency_p50_ms"`
	P99ms            float64 `json:"latency_p99_ms"`
	MaxMs            float64 `json:"latency_max_ms"`
	Lost             int     `json:"lost"`
	Duplicated       int     `json:"duplicated"`
	Reordered        int     `json:"reordered"`
	// Problems lists what went wrong besides the counts, e.g. error
	// frames by code or acknowledged messages missing from the stream.
	Problems []string `json:"problems,omitempty"`
}

// OK says whether the phase kept every promise.
func (r Result) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && r.Reordered == 0 && r.Stored == r.Acknowledged && len(r.Problems) == 0
}

// Run loads the chat and returns a result per room size and phase.
func Run(ctx context.Context, c Config) ([]Result, error) {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Senders < 1 || c.InFlight < 1 || c.UsersPerRoom < 1 {
		return nil, errors.New("loadgen: senders, in-flight and users per room must be at least 1")
	}
	var all []Result
	for _, n := range c.RoomSizes {
		res, err := runRoom(ctx, c, n)
		all = append(all, res...)
		if err != nil {
			return all, fmt.Errorf("loadgen: room of %d: %w", n, err)
		}
	}
	return all, nil
}

const (
	phaseRate = iota
	phaseFlat
	phaseCount
)

var phaseNames = [phaseCount]string{"rate", "flat"}

// Client message ids say the phase, so a receiver files each delivery
// without a lookup: r-<sender>-<n> or f-<sender>-<n>.
func phaseOf(clientMsgID []byte) (int, bool) {
	if len(clientMsgID) < 2 || clientMsgID[1] != '-' {
		return 0, false
	}
	switch clientMsgID[0] {
	case 'r':
		return phaseRate, true
	case 'f':
		return phaseFlat, true
	}
	return 0, false
}

// room is one room of the run with its connections.
type room struct {
	c         Config
	n         int
	id        string
	owner     *chatclient.Client
	receivers []*receiver
	total     atomic.Uint64
	last      atomic.Int64
}

func runRoom(ctx context.Context, c Config, n int) ([]Result, error) {
	r := &room{c: c, n: n}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Fprintf(c.Progress, "room of %d: signing up, connecting and joining\n", n)
	if err := r.setUp(ctx); err != nil {
		return nil, err
	}
	defer r.close()
	var out []Result
	if c.Rate > 0 && c.RateDuration > 0 {
		res, err := r.phase(ctx, phaseRate)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	if c.FlatDuration > 0 {
		res, err := r.phase(ctx, phaseFlat)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (r *room) setUp(ctx context.Context) error {
	users := min(r.c.UsersPerRoom, r.n)
	clients := make([]*chatclient.Client, users)
	err := parallel(ctx, users, 4, func(ctx context.Context, i int) error {
		var err error
		clients[i], err = chatclient.SignUp(ctx, r.c.HTTP, r.c.BaseURL, fmt.Sprintf("lg%s_%d_%d", r.c.RunID, r.n, i), r.c.Password)
		return err
	})
	if err != nil {
		return err
	}
	r.owner = clients[0]
	var names []string
	for _, cl := range clients[1:] {
		names = append(names, cl.Username)
	}
	first := names[:min(len(names), chatclient.MaxAddPerRequest)]
	created, err := r.owner.CreateRoom(ctx, fmt.Sprintf("load %d", r.n), first)
	if err != nil {
		return err
	}
	r.id = created.RoomID
	if err := r.owner.AddMembers(ctx, r.id, names[len(first):]); err != nil {
		return err
	}

	r.receivers = make([]*receiver, r.n)
	runCtx := ctx // the receivers outlive the setup's group
	err = parallel(ctx, r.n, 16, func(ctx context.Context, i int) error {
		cl := clients[i%users]
		conn, err := cl.Dial(ctx)
		if err != nil {
			return err
		}
		rc := newReceiver(conn, cl.Username, r.id, i < r.c.Senders, &r.total, &r.last)
		r.receivers[i] = rc
		go rc.run(runCtx)
		if err := conn.Send(ctx, chatclient.JoinFrame(r.id, -1)); err != nil {
			return err
		}
		select {
		case <-rc.joined:
			return nil
		case <-rc.done:
			return fmt.Errorf("connection closed while joining: %w", rc.readErr)
		case <-time.After(time.Minute):
			return errors.New("no join announcement within a minute")
		}
	})
	if err != nil {
		return err
	}
	// Everyone must have heard every join before the clock starts, or the
	// first messages would queue behind announcements.
	info, err := r.owner.Room(ctx, r.id)
	if err != nil {
		return err
	}
	return r.waitFor(ctx, func(rc *receiver) bool { return rc.lastSeq >= info.LastSeq }, time.Minute)
}

func (r *room) waitFor(ctx context.Context, done func(*receiver) bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		waiting := 0
		for _, rc := range r.receivers {
			rc.mu.Lock()
			if !done(rc) {
				waiting++
			}
			rc.mu.Unlock()
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d connections still waiting after %s", waiting, len(r.receivers), limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *room) close() {
	for _, rc := range r.receivers {
		if rc != nil {
			_ = rc.conn.Close()
		}
	}
}

// parallel runs fn for 0..n-1, at most width at once, and returns the
// first error, after which the rest are cancelled through their ctx.
func parallel(ctx context.Context, n, width int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(width)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

func formatID(phase, sender, n int) string {
	return phaseNames[phase][:1] + "-" + strconv.Itoa(sender) + "-" + strconv.Itoa(n)
}
