package cloudsim

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatroom/chat/internal/chatclient"
)

// clients holds a room's client sockets and reads them: in this process
// (inProcess), or in a child process (clientProcess), so that the
// sockets' descriptors do not count against this one's limit, which also
// holds every socket's server end.
type clients interface {
	// open dials, at the gateway's url, socket first+j with tickets[j],
	// and reports every frame those sockets read to t until close. It
	// returns once all are open, or with the first that would not.
	open(ctx context.Context, url string, first int, tickets []string, t *tally) error
	// send writes frame on socket i and says when it began to.
	send(ctx context.Context, i int, frame []byte) (time.Time, error)
	// close drops every socket opened, and returns once none reports
	// any more.
	close(ctx context.Context) error
	// stop ends the clients for good.
	stop() error
	// pid is the process the sockets live in; 0 for this one.
	pid() int
}

// dialWidth bounds the sockets dialled at once; seeding is not measured,
// and the gateway queues connects for the $connect instances anyway.
const dialWidth = 32

// sink is what a socket's reader reports to: the tally, in this process,
// or the record stream to the parent, in the client process.
type sink interface {
	delivered(i, k int, at time.Time)
	outOfOrder(i int)
	problem(what string)
}

// readFrames reads socket i's frames until it closes, reporting each
// sim message's arrival and checking each live frame's seq against the
// last.
func readFrames(ctx context.Context, conn *chatclient.Conn, i int, s sink) {
	var last int64
	for {
		raw, err := conn.Read(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		f, err := chatclient.ParseFrame(raw)
		if err != nil {
			s.problem("unparsable frame")
			continue
		}
		switch f.Type {
		case "receive_message", "join_room_announcement", "leave_room_announcement":
			if f.Seq <= last {
				s.outOfOrder(i)
			}
			last = max(last, f.Seq)
		case "error":
			s.problem("error frame " + f.Code)
		}
		if f.Type != "receive_message" {
			continue
		}
		k, ok := messageIndex(f.ClientMsgID)
		if !ok {
			continue // another run's, or a person's
		}
		s.delivered(i, k, now)
	}
}

// socketSet is sockets by index, each with its reader; both the
// in-process clients and the client process keep theirs in one.
type socketSet struct {
	http    *http.Client
	mu      sync.Mutex
	sockets map[int]*chatclient.Conn
	readers sync.WaitGroup
	// cancel ends the readers' context, made at the first open after a
	// close.
	ctx    context.Context
	cancel context.CancelFunc
}

func newSocketSet() *socketSet {
	return &socketSet{
		http:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: dialWidth}},
		sockets: map[int]*chatclient.Conn{},
	}
}

// open dials the sockets dialWidth at a time, starting each one's reader
// as it opens; on a failure it leaves those that opened for close.
func (ss *socketSet) open(ctx context.Context, url string, first int, tickets []string, s sink) error {
	ss.mu.Lock()
	if ss.ctx == nil {
		ss.ctx, ss.cancel = context.WithCancel(context.Background())
	}
	readCtx := ss.ctx
	ss.mu.Unlock()
	dialer := &chatclient.Client{BaseURL: url, HTTP: ss.http}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(dialWidth)
	for j, ticket := range tickets {
		i := first + j
		g.Go(func() error {
			conn, err := dialer.DialTicket(gctx, ticket)
			if err != nil {
				return fmt.Errorf("socket %d: %w", i, err)
			}
			ss.mu.Lock()
			ss.sockets[i] = conn
			ss.mu.Unlock()
			ss.readers.Go(func() { readFrames(readCtx, conn, i, s) })
			return nil
		})
	}
	return g.Wait()
}

func (ss *socketSet) send(ctx context.Context, i int, frame []byte) (time.Time, error) {
	ss.mu.Lock()
	conn := ss.sockets[i]
	ss.mu.Unlock()
	if conn == nil {
		return time.Time{}, fmt.Errorf("cloudsim: no socket %d to send on", i)
	}
	at := time.Now()
	return at, conn.Send(ctx, frame)
}

// close drops every socket without the closing handshake, and waits for
// their readers.
func (ss *socketSet) close() {
	ss.mu.Lock()
	sockets, cancel := ss.sockets, ss.cancel
	ss.sockets, ss.ctx, ss.cancel = map[int]*chatclient.Conn{}, nil, nil
	ss.mu.Unlock()
	var wg sync.WaitGroup
	for _, conn := range sockets {
		wg.Go(conn.CloseNow)
	}
	wg.Wait()
	if cancel != nil {
		cancel()
	}
	ss.readers.Wait()
}

// inProcess keeps the sockets in this process: two descriptors a socket
// with their server ends, simple, and enough for rooms of a few thousand.
type inProcess struct{ set *socketSet }

func (*inProcess) pid() int { return 0 }

var _ clients = (*inProcess)(nil)

func newInProcess() *inProcess { return &inProcess{set: newSocketSet()} }

func (c *inProcess) open(ctx context.Context, url string, first int, tickets []string, t *tally) error {
	return c.set.open(ctx, url, first, tickets, t)
}

func (c *inProcess) send(ctx context.Context, i int, frame []byte) (time.Time, error) {
	return c.set.send(ctx, i, frame)
}

func (c *inProcess) close(context.Context) error {
	c.set.close()
	return nil
}

func (c *inProcess) stop() error {
	c.set.close()
	c.set.http.CloseIdleConnections()
	return nil
}
