package costmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatroom/chat/internal/chatclient"
)

// client drives the chat the way the browser does: the HTTP API for
// accounts and rooms, one WebSocket per person in a room, through the
// contract's client.
type client struct {
	base   string
	logger *slog.Logger
	http   http.Client
}

// setupParallelism bounds the sign-ups and connections in flight: enough
// to keep two cores busy, few enough not to time out on a loaded machine.
const setupParallelism = 8

// signUp makes n accounts, named so that runs never collide.
func (c *client) signUp(ctx context.Context, n int) ([]*chatclient.Client, error) {
	people := make([]*chatclient.Client, n)
	prefix := "cm" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "_"
	err := inParallel(ctx, n, func(ctx context.Context, i int) error {
		p, err := chatclient.SignUp(ctx, &c.http, c.base, prefix+strconv.Itoa(i), "cost model password")
		people[i] = p
		return err
	})
	return people, err
}

// inParallel runs do for 0 to n-1, setupParallelism at a time, and
// returns the first error, after which the others are cancelled.
func inParallel(ctx context.Context, n int, do func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(setupParallelism)
	for i := range n {
		g.Go(func() error { return do(ctx, i) })
	}
	return g.Wait()
}

// makeRoom has people[0] create a room and add the others.
func (c *client) makeRoom(ctx context.Context, people []*chatclient.Client, name string) (string, error) {
	owner := people[0]
	room, err := owner.CreateRoom(ctx, name, nil)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(people)-1)
	for _, p := range people[1:] {
		names = append(names, p.Username)
	}
	if err := owner.AddMembers(ctx, room.RoomID, names); err != nil {
		return "", err
	}
	return room.RoomID, nil
}

// socket is one connection and what it has been sent.
type socket struct {
	conn   *chatclient.Conn
	frames chan frame
	// onMessage, if set, is told of every receive_message.
	onMessage atomic.Pointer[func(clientMsgID string)]
	closeOnce sync.Once
}

type frame struct {
	Type        string `json:"type"`
	RoomID      string `json:"room_id"`
	ClientMsgID string `json:"client_msg_id"`
	Code        string `json:"code"`
	Message     string `json:"message"`
}

func (c *client) connect(ctx context.Context, p *chatclient.Client) (*socket, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := p.Dial(dctx)
	if err != nil {
		return nil, fmt.Errorf("costmodel: connect %s: %w", p.Username, err)
	}
	s := &socket{conn: conn, frames: make(chan frame, 16)}
	go s.read()
	return s, nil
}

// read delivers frames: receive_message to onMessage, history and errors
// to frames; announcements are dropped, as the counting does not need them.
func (s *socket) read() {
	defer close(s.frames)
	for {
		raw, err := s.conn.Read(context.Background())
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(raw, &f) != nil {
			continue
		}
		switch f.Type {
		case "receive_message":
			if fn := s.onMessage.Load(); fn != nil {
				(*fn)(f.ClientMsgID)
			}
		case "history", "error":
			select {
			case s.frames <- f:
			default: // nobody is waiting: drop rather than stall the reader
			}
		}
	}
}

func (s *socket) send(ctx context.Context, frame []byte) error {
	return s.conn.Send(ctx, frame)
}

func (s *socket) close() {
	s.closeOnce.Do(s.conn.CloseNow)
}

// joinTimeout bounds one join's answer; joins to a large room queue
// behind the announcements of those before.
const joinTimeout = time.Minute

// join joins the room and waits for the history frame. A join that lost
// too many races on the room's version is answered with an error; it is
// tried again.
func (s *socket) join(ctx context.Context, roomID string) error {
	for attempt := 1; ; attempt++ {
		if err := s.send(ctx, chatclient.JoinFrame(roomID, -1)); err != nil {
			return fmt.Errorf("costmodel: join: %w", err)
		}
		f, err := s.next(ctx, joinTimeout)
		if err != nil {
			return err
		}
		switch {
		case f.Type == "history":
			return nil
		case attempt < 5:
			continue
		default:
			return fmt.Errorf("costmodel: join refused: %s %s", f.Code, f.Message)
		}
	}
}

func (s *socket) next(ctx context.Context, timeout time.Duration) (frame, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f, ok := <-s.frames:
		if !ok {
			return frame{}, errors.New("costmodel: connection closed")
		}
		return f, nil
	case <-t.C:
		return frame{}, errors.New("costmodel: no answer in time")
	case <-ctx.Done():
		return frame{}, ctx.Err()
	}
}

// joinAll connects everyone and joins them to the room, a few at a time.
func (c *client) joinAll(ctx context.Context, people []*chatclient.Client, roomID string) ([]*socket, error) {
	sockets := make([]*socket, len(people))
	err := inParallel(ctx, len(people), func(ctx context.Context, i int) error {
		s, err := c.connect(ctx, people[i])
		if err != nil {
			return err
		}
		sockets[i] = s
		return s.join(ctx, roomID)
	})
	opened := sockets[:0:0]
	for _, s := range sockets {
		if s != nil {
			opened = append(opened, s)
		}
	}
	return opened, err
}

// deliveryTimeout bounds the wait for one message to reach everyone.
const deliveryTimeout = time.Minute

// sendAll sends messages one after another from the first senders
// connections in turn, each after the last reached every connection, and
// returns the time spent.
func sendAll(ctx context.Context, sockets []*socket, roomID string, messages, senders, textBytes int) (time.Duration, error) {
	var mu sync.Mutex
	var want string
	var left int
	done := make(chan struct{}, 1)
	onMessage := func(clientMsgID string) {
		mu.Lock()
		defer mu.Unlock()
		if clientMsgID != want || left == 0 {
			return
		}
		left--
		if left == 0 {
			done <- struct{}{}
		}
	}
	for _, s := range sockets {
		s.onMessage.Store(&onMessage)
	}
	defer func() {
		for _, s := range sockets {
			s.onMessage.Store(nil)
		}
	}()
	text := strings.Repeat("m", textBytes)
	prefix := strconv.FormatInt(time.Now().UnixNano(), 36)
	var total time.Duration
	for i := range messages {
		sender := sockets[i%senders]
		mu.Lock()
		want, left = prefix+"-"+strconv.Itoa(i), len(sockets)
		id := want
		mu.Unlock()
		start := time.Now()
		if err := sender.send(ctx, chatclient.SendFrame(roomID, id, text)); err != nil {
			return 0, err
		}
		t := time.NewTimer(deliveryTimeout)
		select {
		case <-done:
			t.Stop()
		case f := <-sender.frames:
			t.Stop()
			return 0, fmt.Errorf("message %d refused: %s %s", i, f.Code, f.Message)
		case <-t.C:
			mu.Lock()
			missing := left
			mu.Unlock()
			return 0, fmt.Errorf("message %d: %d of %d connections did not get it in %v", i, missing, len(sockets), deliveryTimeout)
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		}
		total += time.Since(start)
		// Stay under the per-connection send limit (20 a second) on fast,
		// small rooms: a refused send would not be a message.
		if pause := 150*time.Millisecond/time.Duration(senders) - time.Since(start); pause > 0 {
			time.Sleep(pause)
		}
	}
	return total, nil
}
