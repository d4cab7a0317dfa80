package rooms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Messages to one room are appended in batches: the room's appends take
// turns (order.go), and one at a time each would wait for the store's
// commit (an fsync for the embedded store) before the next could start,
// capping a busy room at one message per commit. Instead, messages that
// arrive while an append is under way queue up, and the next append
// stores all of them in one write. A Lambda instance serves one message at
// a time, so in the cloud a batch holds one message and nothing changes.

// MaxSendBatch bounds a batch: each message is an event and a message
// item, and a DynamoDB transaction holds at most 100 items besides the
// room's head.
const MaxSendBatch = 32

// maxBatchWeight bounds the writes of one batch below a DynamoDB
// transaction's 100, the room's head and some slack aside.
const maxBatchWeight = 90

// sendWeight is the most writes a message can cost the store: its event,
// its message item, the sender's read position, and one count for each
// person it may mention.
func sendWeight(text string) int { return 3 + len(chat.MentionCandidates(text)) }

// MaxQueuedSends bounds the messages waiting for a room's next batch in
// this process. Past it the room is taking messages faster than the store
// commits them, and a send answers rate_limited instead of queueing.
const MaxQueuedSends = 1024

// ErrRoomBusy is a send refused because the room's queue is full.
var ErrRoomBusy = &chat.Error{Code: "rate_limited", Message: "this room is busy; send again in a moment"}

// sendTimeout bounds the store calls of a batch, which run on behalf of
// several callers and so under none of their contexts.
const sendTimeout = 30 * time.Second

type sendRequest struct {
	actor, messageID, clientMsgID, text string
	// connection, when set, must be in the room's roster.
	connection string
	// weight is the most store writes the message can cost (sendWeight).
	weight int

	done   chan struct{}
	change Change
	err    error
}

// Send posts a message. A repeated client_msg_id from the same sender
// appends nothing and returns the original (Change.Duplicate). If ctx ends
// first the message may still be stored: a resend with the same
// client_msg_id then gets it back as a duplicate.
func (s *Service) Send(ctx context.Context, actor, roomID, clientMsgID, text string) (Change, error) {
	return s.SendFrom(ctx, "", actor, roomID, clientMsgID, text)
}

// ErrNotJoined is a message from a connection that has not joined the
// room (or has left it).
var ErrNotJoined = &chat.Error{Code: "not_joined", Message: "join the room on this connection first"}

// SendFrom is Send from a connection, which must have joined the room,
// else ErrNotJoined. The room's roster is read once, after the room and
// before the append (whose version check makes it the roster at the
// message): it says whether the connection is in, and whom the message
// goes to.
func (s *Service) SendFrom(ctx context.Context, connectionID, actor, roomID, clientMsgID, text string) (Change, error) {
	req := &sendRequest{connection: connectionID, actor: actor, messageID: chat.MessageID(roomID, actor, clientMsgID), clientMsgID: clientMsgID, text: text, done: make(chan struct{})}
	req.weight = sendWeight(text)
	ln := s.lines.acquire(roomID)
	s.lines.mu.Lock()
	if len(ln.pending) >= MaxQueuedSends {
		s.lines.mu.Unlock()
		s.lines.release(roomID, ln)
		return Change{}, ErrRoomBusy
	}
	ln.pending = append(ln.pending, req)
	start := !ln.sending
	ln.sending = true
	s.lines.mu.Unlock()
	if start {
		go s.sendBatches(roomID, ln) // holds the line's reference until the queue is empty
	} else {
		s.lines.release(roomID, ln)
	}
	select {
	case <-req.done:
		return req.change, req.err
	case <-ctx.Done():
		// Nobody will push this message: let the room's next ones go.
		go func() {
			<-req.done
			req.change.Delivery.Done()
		}()
		return Change{}, fmt.Errorf("rooms: send to %s: %w", roomID, ctx.Err())
	}
}

// sendBatches appends the room's queued messages, a batch at a time, until
// none are left.
func (s *Service) sendBatches(roomID string, ln *line) {
	defer s.lines.release(roomID, ln)
	for {
		s.lines.mu.Lock()
		n, weight := 0, 0
		for n < min(len(ln.pending), MaxSendBatch) && (n == 0 || weight+ln.pending[n].weight <= maxBatchWeight) {
			weight += ln.pending[n].weight
			n++
		}
		batch := ln.pending[:n:n]
		ln.pending = ln.pending[n:]
		if n == 0 {
			ln.sending = false
			ln.pending = nil
		}
		s.lines.mu.Unlock()
		if n == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
		if err := ln.takeTurn(ctx); err != nil {
			finish(batch, err)
		} else {
			s.appendSends(ctx, roomID, ln, batch)
			ln.endTurn()
		}
		cancel()
	}
}

func finish(batch []*sendRequest, err error) {
	for _, req := range batch {
		if req.err == nil && req.change.Events == nil {
			req.err = err
		}
		close(req.done)
	}
}

// appendSends decides and appends a batch in one write; the caller holds
// the room's turn. Each request ends with its own change and delivery, in
// seq order, or its own error.
func (s *Service) appendSends(ctx context.Context, roomID string, ln *line, batch []*sendRequest) {
	if len(batch) == 1 {
		req := batch[0]
		req.change, req.err = s.executeInTurn(ctx, s.sendCommand(ctx, roomID, req), ln)
		finish(batch, nil)
		return
	}
	for attempt := 1; ; attempt++ {
		err := s.appendBatchOnce(ctx, roomID, ln, batch, attempt == 1)
		if errors.Is(err, store.ErrConcurrency) && attempt < maxAttempts {
			if err = backoff(ctx, attempt); err == nil {
				continue
			}
		}
		finish(batch, err)
		return
	}
}

// appendBatchOnce loads the room, decides every message of the batch on
// it and appends them together. ErrConcurrency means another process
// appended first: load and decide again.
func (s *Service) appendBatchOnce(ctx context.Context, roomID string, ln *line, batch []*sendRequest, recent bool) error {
	r, err := s.loadFor(ctx, roomID, batch, recent)
	if err != nil {
		return err
	}
	roster, err := s.store.RoomRoster(ctx, roomID)
	if err != nil {
		return fmt.Errorf("rooms: connections of %s: %w", roomID, err)
	}
	now := s.now()
	start, startMessages := r.Version, r.Messages
	var events []chat.Event
	var owners []*sendRequest
	firstOf := map[[2]string]*sendRequest{}
	dupOf := map[*sendRequest]*sendRequest{}
	for _, req := range batch {
		req.err = nil
		key := [2]string{req.actor, req.clientMsgID}
		if first, ok := firstOf[key]; ok {
			dupOf[req] = first // resent before the first was stored
			continue
		}
		if req.connection != "" && !inRoster(roster, req.connection, req.actor) {
			req.err = ErrNotJoined
			continue
		}
		evs, err := r.SendMessage(req.actor, req.messageID, req.clientMsgID, req.text, now)
		if err == nil {
			err = s.checkDirect(ctx, r, req.actor)
		}
		if err != nil {
			req.err = err
			continue
		}
		firstOf[key] = req
		if err := r.Apply(evs[0]); err != nil {
			return fmt.Errorf("rooms: %w", err)
		}
		events = append(events, evs[0])
		owners = append(owners, req)
	}
	if len(events) == 0 {
		return nil
	}
	res, err := s.store.Append(ctx, store.AppendRequest{RoomID: roomID, ExpectedVersion: start, Messages: startMessages, Events: events})
	if errors.Is(err, store.ErrConcurrency) {
		return err
	}
	if err != nil {
		return fmt.Errorf("rooms: append to %s: %w", roomID, err)
	}
	if res.Duplicate {
		// Some message repeats one stored before: the store appended
		// nothing and says which, not for whom. Rare enough to take the
		// messages one by one, each with its own answer.
		for _, req := range batch {
			req.change, req.err = s.executeInTurn(ctx, s.sendCommand(ctx, roomID, req), ln)
		}
		return nil
	}
	for i, e := range res.Events {
		owners[i].change = Change{Room: r, Events: []chat.Event{e}, Delivery: s.lines.enqueue(roomID, ln, e.Seq, e.Seq), Present: roster.Joined, Away: roster.Away}
	}
	for req, first := range dupOf {
		if first.err != nil {
			req.err = first.err
			continue
		}
		req.change = Change{Room: r, Events: first.change.Events, Duplicate: true}
	}
	return nil
}

// loadFor reads the room with the row of every sender in the batch, from
// a read that may be a moment old when recent.
func (s *Service) loadFor(ctx context.Context, roomID string, batch []*sendRequest, recent bool) (*chat.Room, error) {
	var r *chat.Room
	for _, req := range batch {
		if r != nil {
			if _, ok := r.Members[req.actor]; ok && len(chat.MentionCandidates(req.text)) == 0 {
				continue
			}
		}
		one, err := s.load(ctx, roomID, req.actor, loadRows{recent: recent}, chat.MentionCandidates(req.text)...)
		if err != nil {
			return nil, err
		}
		if r == nil {
			r = one
			continue
		}
		if one.Version != r.Version {
			return nil, store.ErrConcurrency
		}
		for u, role := range one.Members {
			r.Members[u] = role
		}
	}
	return r, nil
}

// inRoster reports whether the connection is joined to the room as user.
func inRoster(r store.Roster, connectionID, user string) bool {
	for _, p := range r.Joined {
		if p.ConnectionID == connectionID {
			return p.Username == user
		}
	}
	return false
}
