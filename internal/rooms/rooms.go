// Package rooms runs the chat's use cases on rooms: it loads a room's state
// from the store, lets the domain decide, and appends the events with
// optimistic concurrency, deciding again when another writer got there
// first. The HTTP and WebSocket layers call it; it knows neither.
package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Store is what the use cases need of the store.
type Store interface {
	Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error)
	Room(ctx context.Context, roomID string) (*chat.Room, error)
	RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error)
	RecentRoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error)
	ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error)
	ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (store.Page, error)
	RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error)
	ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error)
	RoomRoster(ctx context.Context, roomID string) (store.Roster, error)
	IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error)
	store.Blocking
	Message(ctx context.Context, roomID, messageID string) (store.Message, error)
	Membership(ctx context.Context, roomID, username string) (store.Membership, error)
	SetReadPosition(ctx context.Context, roomID, username string, p store.ReadPosition, mentionsSeen int64) (bool, error)
	Audience(ctx context.Context, roomID string) ([]store.Membership, error)
	store.DeliveryMarks
}

// Service runs the room use cases.
type Service struct {
	store  Store
	now    func() time.Time
	newID  func() string
	logger *slog.Logger
	lines  lines
}

// NewService returns the service. now and newID may be nil for the
// system clock and ULIDs.
func NewService(s Store, logger *slog.Logger, now func() time.Time, newID func() string) (*Service, error) {
	if s == nil || logger == nil {
		return nil, errors.New("rooms: a store and a logger are required")
	}
	if now == nil {
		now = time.Now
	}
	if newID == nil {
		newID = func() string { return ulid.Make().String() }
	}
	return &Service{store: s, now: now, newID: newID, logger: logger, lines: lines{marks: s, logger: logger}}, nil
}

// Change is the outcome of a command: the room after it and the events it
// appended (none when nothing needed to change).
type Change struct {
	Room   *chat.Room
	Events []chat.Event
	// Duplicate is set when a message repeated its client_msg_id: Events
	// then holds the message stored the first time.
	Duplicate bool
	// Delivery orders the change's frames after the room's earlier ones
	// (order.go): set when events were appended, and then the caller must
	// call its Done, pushing or not.
	Delivery *Delivery
	// Present are the connections joined to the room when the change was
	// stored, listed in the room's turn: the ones its frames are for, even
	// if some leave before they are pushed (a leaver still gets what came
	// before its leave). Shared between the changes of a batch: read only.
	// PresentErr says the listing failed; the change is stored all the
	// same.
	Present    []store.Presence
	PresentErr error
	// Away are, by username, the members' open sockets that are not joined
	// to the room, read with Present: where a new message goes as a room
	// list line.
	Away map[string][]string
	// Audience, set for a deletion only, are the members with open
	// sockets as the room was before it: afterwards the store no longer
	// knows who they were.
	Audience []store.Membership
}

// maxAttempts bounds how often a command is decided again after losing a
// race; with the backoff below that is well over a second of contention.
const maxAttempts = 50

// load reads the room; a room never created is an empty one, so the
// domain answers room_not_found like for any non-member.
func (s *Service) load(ctx context.Context, roomID, actor string, how loadRows, rows ...string) (*chat.Room, error) {
	var r *chat.Room
	var err error
	switch {
	case how.allMembers:
		r, err = s.store.Room(ctx, roomID)
	case how.recent:
		r, err = s.store.RecentRoomAs(ctx, roomID, append([]string{actor}, rows...)...)
	default:
		r, err = s.store.RoomAs(ctx, roomID, append([]string{actor}, rows...)...)
	}
	if errors.Is(err, store.ErrNotFound) {
		return chat.NewRoom(roomID), nil
	}
	if err != nil {
		return nil, fmt.Errorf("rooms: load %s: %w", roomID, err)
	}
	return r, nil
}

// loadRows says what load reads: every member row, or the actor's and
// the rows asked for, from a read that may be a moment old when recent
// (a first attempt whose append's version check catches it).
type loadRows struct{ allMembers, recent bool }

// command describes one run of the decide-append loop.
type command struct {
	roomID string
	actor  string
	// allMembers loads every member; otherwise only the actor's row and
	// those of rows.
	allMembers bool
	rows       []string
	decide     func(r *chat.Room, now time.Time) ([]chat.Event, error)
	// erase, when set, says after decide which seqs the append erases.
	erase func() []int64
	join  *store.Presence
	leave *store.Presence
	// quiet skips listing the connections: nobody can be joined (create).
	quiet bool
	// connection, when set, must be joined to the room (ErrNotJoined):
	// the roster is then read before the append, from a room read that
	// may be a moment old on the first attempt (SendFrom).
	connection string
}

func (s *Service) execute(ctx context.Context, c command) (Change, error) {
	ln := s.lines.acquire(c.roomID)
	defer s.lines.release(c.roomID, ln)
	if err := ln.takeTurn(ctx); err != nil {
		return Change{}, fmt.Errorf("rooms: wait to append to %s: %w", c.roomID, err)
	}
	defer ln.endTurn()
	return s.executeInTurn(ctx, c, ln)
}

// executeInTurn is execute for a caller that holds the room's turn.
func (s *Service) executeInTurn(ctx context.Context, c command, ln *line) (Change, error) {
	for attempt := 1; ; attempt++ {
		r, err := s.load(ctx, c.roomID, c.actor, loadRows{allMembers: c.allMembers, recent: c.connection != "" && attempt == 1}, c.rows...)
		if err != nil {
			return Change{}, err
		}
		var roster *store.Roster
		if c.connection != "" {
			// Read after the room: the append's version check then says
			// nobody joined since, so the roster is the one at the message.
			got, err := s.store.RoomRoster(ctx, c.roomID)
			if err != nil {
				return Change{}, fmt.Errorf("rooms: connections of %s: %w", c.roomID, err)
			}
			if !inRoster(got, c.connection, c.actor) {
				return Change{}, ErrNotJoined
			}
			roster = &got
		}
		events, err := c.decide(r, s.now())
		if err != nil {
			return Change{}, err
		}
		if len(events) == 0 {
			return Change{Room: r}, nil
		}
		// A leave waits for the room's earlier frames before it takes the
		// connection out: an earlier event's deliverer, perhaps in another
		// instance, lists the room's connections after its append, and
		// must still find the leaver, which the contract says gets
		// everything before its own user_left.
		if c.leave != nil && !s.lines.awaitDelivered(ctx, c.roomID, r.Version) && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "leaving before the room's earlier frames are pushed: one is stuck", "room_id", c.roomID, "seq", r.Version)
		}
		req := store.AppendRequest{RoomID: c.roomID, ExpectedVersion: r.Version, Messages: r.Messages, Events: events, Join: c.join, Leave: c.leave}
		if c.erase != nil {
			req.Erase = c.erase()
		}
		res, err := s.store.Append(ctx, req)
		if errors.Is(err, store.ErrConcurrency) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return Change{}, err
			}
			continue
		}
		if err != nil {
			return Change{}, fmt.Errorf("rooms: append to %s: %w", c.roomID, err)
		}
		if res.Duplicate {
			return Change{Room: r, Events: res.Events, Duplicate: true}, nil
		}
		for _, e := range res.Events {
			if err := r.Apply(e); err != nil {
				return Change{}, fmt.Errorf("rooms: %w", err)
			}
		}
		change := Change{Room: r, Events: res.Events, Delivery: s.lines.enqueue(c.roomID, ln, res.Events[0].Seq, res.Events[len(res.Events)-1].Seq)}
		switch {
		case roster != nil:
			change.Present, change.Away = roster.Joined, roster.Away
		case !c.quiet:
			change.Present, change.Away, change.PresentErr = s.present(ctx, c.roomID)
		}
		return change, nil
	}
}

// present lists the room's connections, and its members' sockets that
// are not joined to it.
func (s *Service) present(ctx context.Context, roomID string) ([]store.Presence, map[string][]string, error) {
	r, err := s.store.RoomRoster(ctx, roomID)
	if err != nil {
		return nil, nil, fmt.Errorf("rooms: connections of %s: %w", roomID, err)
	}
	return r.Joined, r.Away, nil
}

// backoff waits a little longer after each lost race, with jitter so the
// losers do not collide again in step.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt, 6)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lookup asks the store, once per command, which of usernames actor may
// bring into a room: those with an account who have not blocked actor. To
// actor, someone who blocked them does not exist (user_not_found), so a
// block is as quiet as the refusal can be.
func (s *Service) lookup(ctx context.Context, actor string, usernames []string) (chat.UserExists, error) {
	if len(usernames) == 0 {
		return func(string) bool { return false }, nil
	}
	found, err := s.store.ExistingUsers(ctx, usernames)
	if err != nil {
		return nil, fmt.Errorf("rooms: look up users: %w", err)
	}
	blockers, err := s.blockersAmong(ctx, actor, found)
	if err != nil {
		return nil, err
	}
	return func(u string) bool { return found[u] && !blockers[u] }, nil
}

func anyone(string) bool { return true }

// MaxRoomsCreatedPerHour bounds the rooms one person creates in a clock
// hour: each may add people who never asked to be added, to their room
// list.
const MaxRoomsCreatedPerHour = 30

// ErrTooManyRooms refuses a creation past MaxRoomsCreatedPerHour.
var ErrTooManyRooms = &chat.Error{Code: "rate_limited", Message: fmt.Sprintf("at most %d new rooms an hour; try again later", MaxRoomsCreatedPerHour)}

// countCreation counts a room actor is about to make, and refuses it past
// MaxRoomsCreatedPerHour. It counts in the store, so that creations sent
// all at once or to different instances are held to it too.
func (s *Service) countCreation(ctx context.Context, actor string) error {
	hour := s.now().UTC().Truncate(time.Hour)
	created, err := s.store.IncrementCounter(ctx, fmt.Sprintf("rooms_created:%s:%d", actor, hour.Unix()), time.Now().Add(2*time.Hour))
	if err != nil {
		return fmt.Errorf("rooms: count creations: %w", err)
	}
	if created > MaxRoomsCreatedPerHour {
		return ErrTooManyRooms
	}
	return nil
}

// Create opens a room owned by actor with the named people as members.
func (s *Service) Create(ctx context.Context, actor, name string, members []string) (*chat.Room, error) {
	// Check everything but existence first, so a malformed request costs
	// no lookups; the events carry the normalised member list.
	draft, err := chat.CreateRoom("draft", actor, name, members, anyone, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.countCreation(ctx, actor); err != nil {
		return nil, err
	}
	exists, err := s.lookup(ctx, actor, draft[0].Data.(chat.RoomCreated).Members)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		id := s.newID()
		change, err := s.execute(ctx, command{roomID: id, actor: actor, allMembers: true, quiet: true,
			decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
				if r.Version != 0 {
					return nil, store.ErrConcurrency // the id is taken: draw another
				}
				return chat.CreateRoom(id, actor, name, members, exists, now)
			}})
		if errors.Is(err, store.ErrConcurrency) && attempt < 3 {
			continue
		}
		// Nobody can have joined a room that did not exist: nothing to push.
		change.Delivery.Done()
		return change.Room, err
	}
}

// Get returns the room for a member; anyone else gets room_not_found.
func (s *Service) Get(ctx context.Context, actor, roomID string) (*chat.Room, error) {
	r, err := s.load(ctx, roomID, actor, loadRows{allMembers: true})
	if err != nil {
		return nil, err
	}
	if _, err := r.CheckMember(actor); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckMember answers room_not_found unless actor is a member of the room:
// what transports ask before telling a caller their request is malformed.
func (s *Service) CheckMember(ctx context.Context, actor, roomID string) error {
	r, err := s.load(ctx, roomID, actor, loadRows{})
	if err != nil {
		return err
	}
	_, err = r.CheckMember(actor)
	return err
}

// List returns the rooms actor is in, newest activity first.
func (s *Service) List(ctx context.Context, actor string) ([]store.RoomSummary, error) {
	rooms, err := s.store.RoomsOf(ctx, actor)
	if err != nil {
		return nil, fmt.Errorf("rooms: list for %s: %w", actor, err)
	}
	return rooms, nil
}

// Rename gives the room a new name.
func (s *Service) Rename(ctx context.Context, actor, roomID, name string) (Change, error) {
	return s.execute(ctx, command{roomID: roomID, actor: actor, allMembers: true,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) { return r.Rename(actor, name, now) }})
}

// AddMembers adds people, all or none; with admin set they become admins.
func (s *Service) AddMembers(ctx context.Context, actor, roomID string, usernames []string, admin bool) (Change, error) {
	var exists chat.UserExists
	return s.execute(ctx, command{roomID: roomID, actor: actor, allMembers: true,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			if exists == nil {
				// The contract's order: membership and the request's
				// shape before anything is looked up.
				role, err := r.CheckMember(actor)
				if err != nil {
					return nil, err
				}
				names, err := chat.NormalizeMemberList(usernames)
				if err != nil {
					return nil, err
				}
				if !role.CanManage() {
					return nil, chat.ErrForbidden // no lookups for who may not add
				}
				if exists, err = s.lookup(ctx, actor, names); err != nil {
					return nil, err
				}
			}
			return r.AddMembers(actor, usernames, admin, orMember(r, exists), now)
		}})
}

// RemoveMember takes member out of the room.
func (s *Service) RemoveMember(ctx context.Context, actor, roomID, member string) (Change, error) {
	return s.execute(ctx, command{roomID: roomID, actor: actor, allMembers: true,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) { return r.RemoveMember(actor, member, now) }})
}

// Delete closes the room for good.
func (s *Service) Delete(ctx context.Context, actor, roomID string) (Change, error) {
	var audience []store.Membership
	change, err := s.execute(ctx, command{roomID: roomID, actor: actor, allMembers: true,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			events, err := r.Delete(actor, now)
			if err == nil && audience == nil {
				// Who to tell is read before the rows go; someone added
				// in between hears of the room when they next list it.
				if audience, err = s.store.Audience(ctx, roomID); err != nil {
					return nil, fmt.Errorf("rooms: audience of %s: %w", roomID, err)
				}
			}
			return events, err
		}})
	change.Audience = audience
	return change, err
}

// Page asks for a page of a room's stream: the events just before Before,
// or just after After, or (neither set) the newest.
type Page struct {
	Before *int64
	After  *int64
	Limit  int
}

// Events returns a page of the stream to a member.
func (s *Service) Events(ctx context.Context, actor, roomID string, p Page) (store.Page, error) {
	if err := s.CheckMember(ctx, actor, roomID); err != nil {
		return store.Page{}, err
	}
	var page store.Page
	var err error
	switch {
	case p.After != nil:
		page, err = s.store.ReadForward(ctx, roomID, *p.After, p.Limit)
	case p.Before == nil:
		page, err = s.store.ReadBackward(ctx, roomID, 0, p.Limit)
	case *p.Before <= 1:
		// Nothing comes before the first event.
	default:
		page, err = s.store.ReadBackward(ctx, roomID, *p.Before, p.Limit)
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("rooms: read %s: %w", roomID, err)
	}
	return page, nil
}

// Join records that actor opened the room on a connection: user_joined is
// appended and the connection's presence recorded in the same write.
func (s *Service) Join(ctx context.Context, actor, roomID string, p store.Presence) (Change, error) {
	return s.execute(ctx, command{roomID: roomID, actor: actor, join: &p,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) { return r.Join(actor, now) }})
}

// Leave records that actor left the room on a connection: user_left is
// appended and the connection's presence removed in the same write.
func (s *Service) Leave(ctx context.Context, actor, roomID string, p store.Presence) (Change, error) {
	return s.execute(ctx, command{roomID: roomID, actor: actor, leave: &p,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) { return r.Leave(actor, now) }})
}

// sendCommand is the decide-append loop of one message alone.
func (s *Service) sendCommand(ctx context.Context, roomID string, req *sendRequest) command {
	return command{roomID: roomID, actor: req.actor, rows: chat.MentionCandidates(req.text), connection: req.connection,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			evs, err := r.SendMessage(req.actor, req.messageID, req.clientMsgID, req.text, now)
			if err == nil {
				err = s.checkDirect(ctx, r, req.actor)
			}
			return evs, err
		}}
}

// HistoryLimit is the most events a history frame carries.
const HistoryLimit = 100

// History returns what a connection that joined with the event at joinSeq
// missed: the events right after afterSeq when the client resumes, else
// the newest ones; never joinSeq or later. HasMore says, for a resume,
// that newer events remain to page forwards, and otherwise that older
// events exist.
func (s *Service) History(ctx context.Context, roomID string, joinSeq int64, afterSeq *int64) (store.Page, error) {
	last := joinSeq - 1
	if afterSeq == nil {
		page, err := s.store.ReadBackward(ctx, roomID, joinSeq, HistoryLimit)
		if err != nil {
			return store.Page{}, fmt.Errorf("rooms: history of %s: %w", roomID, err)
		}
		return page, nil
	}
	if *afterSeq >= last {
		return store.Page{}, nil
	}
	page, err := s.store.ReadForward(ctx, roomID, *afterSeq, HistoryLimit)
	if err != nil {
		return store.Page{}, fmt.Errorf("rooms: history of %s: %w", roomID, err)
	}
	// Events appended since the join arrive live; cut them off here.
	n := 0
	for n < len(page.Events) && page.Events[n].Seq <= last {
		n++
	}
	page.Events = page.Events[:n]
	page.HasMore = n > 0 && page.Events[n-1].Seq < last
	return page, nil
}
