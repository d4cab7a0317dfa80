package rooms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// message reads a message of the room for a decision: nil when the room
// has none by that id.
func (s *Service) message(ctx context.Context, roomID, messageID string) (*store.Message, error) {
	m, err := s.store.Message(ctx, roomID, messageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rooms: read message %s: %w", messageID, err)
	}
	return &m, nil
}

func ref(m *store.Message) *chat.MessageRef {
	if m == nil {
		return nil
	}
	return m.Ref()
}

// EditMessage replaces the text of actor's own message.
func (s *Service) EditMessage(ctx context.Context, actor, roomID, messageID, text string) (Change, error) {
	return s.execute(ctx, command{roomID: roomID, actor: actor, rows: chat.MentionCandidates(text),
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			if _, err := r.CheckMember(actor); err != nil {
				return nil, err
			}
			m, err := s.message(ctx, roomID, messageID)
			if err != nil {
				return nil, err
			}
			return r.EditMessage(actor, ref(m), text, now)
		}})
}

// DeleteMessage takes a message back and erases its text, and the text
// of its edits, from the store.
func (s *Service) DeleteMessage(ctx context.Context, actor, roomID, messageID string) (Change, error) {
	var m *store.Message
	return s.execute(ctx, command{roomID: roomID, actor: actor,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			if _, err := r.CheckMember(actor); err != nil {
				return nil, err
			}
			var err error
			if m, err = s.message(ctx, roomID, messageID); err != nil {
				return nil, err
			}
			return r.DeleteMessage(actor, ref(m), now)
		},
		erase: func() []int64 { return append([]int64{m.Seq}, m.Edits...) }})
}

// ErrBadReadPosition refuses a read position past the room's last event.
var ErrBadReadPosition = &chat.Error{Code: "invalid_query", Message: "seq is past the room's last event"}

// readWindow bounds the events a read position's counts are worked out
// from: moving to a seq further back than this from the newest event
// counts every message after the window as read.
const readWindow = 200

// ReadResult is a member's line of the room list after MarkRead, and
// whether the read position moved.
type ReadResult struct {
	Summary store.RoomSummary
	Moved   bool
}

// MarkRead moves actor's read position in the room forward to seq; a seq
// at or behind it changes nothing.
func (s *Service) MarkRead(ctx context.Context, actor, roomID string, seq int64) (ReadResult, error) {
	for attempt := 1; ; attempt++ {
		m, err := s.store.Membership(ctx, roomID, actor)
		if errors.Is(err, store.ErrNotFound) {
			return ReadResult{}, chat.ErrRoomNotFound
		}
		if err != nil {
			return ReadResult{}, fmt.Errorf("rooms: read position in %s: %w", roomID, err)
		}
		r, err := s.load(ctx, roomID, actor, loadRows{})
		if err != nil {
			return ReadResult{}, err
		}
		if seq > r.Version || seq < 0 {
			return ReadResult{}, ErrBadReadPosition
		}
		if seq <= m.ReadSeq {
			return ReadResult{Summary: store.Summarize(r, m)}, nil
		}
		p, err := s.positionAt(ctx, r, actor, m, seq)
		if err != nil {
			return ReadResult{}, err
		}
		moved, err := s.store.SetReadPosition(ctx, roomID, actor, p, m.Mentions)
		if errors.Is(err, store.ErrConcurrency) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return ReadResult{}, err
			}
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			return ReadResult{}, chat.ErrRoomNotFound
		}
		if err != nil {
			return ReadResult{}, fmt.Errorf("rooms: move read position in %s: %w", roomID, err)
		}
		if moved {
			m.ReadSeq, m.ReadMessages, m.ReadMentions = p.Seq, p.Messages, p.Mentions
		}
		return ReadResult{Summary: store.Summarize(r, m), Moved: moved}, nil
	}
}

// positionAt works out the counts at seq from the room's counts now, less
// what came after seq.
func (s *Service) positionAt(ctx context.Context, r *chat.Room, actor string, m store.Membership, seq int64) (store.ReadPosition, error) {
	p := store.ReadPosition{Seq: seq, Messages: r.Messages, Mentions: m.Mentions}
	if seq == r.Version {
		return p, nil
	}
	page, err := s.store.ReadBackward(ctx, r.ID, r.Version+1, readWindow)
	if err != nil {
		return p, fmt.Errorf("rooms: read %s: %w", r.ID, err)
	}
	for _, e := range page.Events {
		sent, ok := e.Data.(chat.MessageSent)
		if !ok || e.Seq <= seq {
			continue
		}
		p.Messages--
		if e.Username != actor && containsName(sent.Mentions, actor) {
			p.Mentions--
		}
	}
	p.Messages, p.Mentions = max(p.Messages, 0), max(p.Mentions, 0)
	return p, nil
}

func containsName(list chat.Usernames, name string) bool {
	for _, u := range list {
		if u == name {
			return true
		}
	}
	return false
}

// Direct is the outcome of OpenDirect: the pair's room, whether it was
// made now, and the change (people brought back, or the creation) to
// announce.
type Direct struct {
	Change
	Created bool
}

// OpenDirect finds or starts the direct room of actor and username.
// Someone who blocked actor, like someone who does not exist, is
// user_not_found. Starting one counts against MaxRoomsCreatedPerHour.
func (s *Service) OpenDirect(ctx context.Context, actor, username string) (Direct, error) {
	peer, err := chat.CheckDirectPeer(actor, username)
	if err != nil {
		return Direct{}, err
	}
	exists, err := s.lookup(ctx, actor, []string{peer})
	if err != nil {
		return Direct{}, err
	}
	if !exists(peer) {
		return Direct{}, &chat.Error{Code: chat.CodeUserNotFound, Message: "no such user: " + peer, Usernames: []string{peer}}
	}
	id := chat.DirectRoomID(actor, peer)
	existing, err := s.load(ctx, id, actor, loadRows{})
	if err != nil {
		return Direct{}, err
	}
	if existing.Version == 0 {
		if err := s.countCreation(ctx, actor); err != nil {
			return Direct{}, err
		}
	}
	created := false
	change, err := s.execute(ctx, command{roomID: id, actor: actor, allMembers: true,
		decide: func(r *chat.Room, now time.Time) ([]chat.Event, error) {
			created = r.Version == 0
			if created {
				return chat.CreateDirect(actor, peer, exists, now)
			}
			return r.ReopenDirect(actor, now)
		}})
	if err != nil {
		return Direct{}, err
	}
	return Direct{Change: change, Created: created}, nil
}

// errDirectBlocked refuses a message to someone who blocked the sender.
var errDirectBlocked = &chat.Error{Code: chat.CodeForbidden, Message: "this person does not take direct messages from you"}

// checkDirect refuses a message in a direct room whose other person
// blocked actor: a block stops direct messages, started or not. Group
// rooms cost nothing here.
func (s *Service) checkDirect(ctx context.Context, r *chat.Room, actor string) error {
	if r.Kind != chat.KindDirect {
		return nil
	}
	peer := r.PeerOf(actor)
	blockers, err := s.store.BlockersAmong(ctx, actor, []string{peer})
	if err != nil {
		return fmt.Errorf("rooms: look up who blocked %s: %w", actor, err)
	}
	if blockers[peer] {
		return errDirectBlocked
	}
	return nil
}
