package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// recordMessage writes what an event of a message changes beside the
// stream: the id indexes, the sender's read position, the mention counts,
// and for a deletion the erasure of the text. count is the room's message
// count after e.
func (s *Store) recordMessage(msgIDs, messages, members, events *bolt.Bucket, req store.AppendRequest, e chat.Event, count int64) error {
	switch d := e.Data.(type) {
	case chat.MessageSent:
		if err := msgIDs.Put(msgIDKey(e.Username, d.ClientMsgID), seqKey(e.Seq)); err != nil {
			return err
		}
		if err := putJSON(messages, []byte(d.MessageID), messageValue{Seq: e.Seq, Author: e.Username}); err != nil {
			return err
		}
		err := updateMember(members, e.Username, func(m *memberValue) {
			m.ReadSeq, m.ReadMessages, m.ReadMentions = e.Seq, count, m.Mentions
		})
		if err != nil {
			return err
		}
		for _, u := range d.Mentions {
			if u == e.Username {
				continue
			}
			if err := updateMember(members, u, func(m *memberValue) { m.Mentions++ }); err != nil {
				return err
			}
		}
	case chat.MessageEdited:
		return updateMessage(messages, d.MessageID, func(m *messageValue) { m.Edits = append(m.Edits, e.Seq) })
	case chat.MessageDeleted:
		if err := updateMessage(messages, d.MessageID, func(m *messageValue) { m.Deleted = true }); err != nil {
			return err
		}
		for _, seq := range req.Erase {
			old, err := decodeEvent(req.RoomID, events.Get(seqKey(seq)))
			if err != nil {
				return fmt.Errorf("erase event %d: %w", seq, err)
			}
			raw, err := chat.ErasedJSON(old)
			if err != nil {
				return err
			}
			if err := events.Put(seqKey(seq), raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// updateMember changes a member's row; a row that is not there (the
// domain decided on a member, so it is) is left alone.
func updateMember(members *bolt.Bucket, username string, change func(*memberValue)) error {
	raw := members.Get([]byte(username))
	if raw == nil {
		return nil
	}
	m := decodeMember(raw)
	change(&m)
	return putJSON(members, []byte(username), m)
}

func updateMessage(messages *bolt.Bucket, id string, change func(*messageValue)) error {
	var m messageValue
	found, err := getJSON(messages, []byte(id), &m)
	if err != nil {
		return err
	}
	if !found || m.Deleted {
		return fmt.Errorf("message %s is gone", id)
	}
	change(&m)
	return putJSON(messages, []byte(id), m)
}

// Message implements store.Reading.
func (s *Store) Message(ctx context.Context, roomID, messageID string) (store.Message, error) {
	var m messageValue
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
		if rb == nil {
			return nil
		}
		var err error
		found, err = getJSON(rb.Bucket(bucketMessages), []byte(messageID), &m)
		return err
	})
	if err != nil {
		return store.Message{}, fmt.Errorf("boltstore: read message: %w", err)
	}
	if !found {
		return store.Message{}, store.ErrNotFound
	}
	return store.Message{ID: messageID, Seq: m.Seq, Author: m.Author, Deleted: m.Deleted, Edits: slices.Clone(m.Edits)}, nil
}

// memberRow reads username's row of a live room.
func memberRow(tx *bolt.Tx, roomID, username string) (*bolt.Bucket, memberValue, error) {
	rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
	var h head
	if found, err := getJSON(rb, keyHead, &h); err != nil {
		return nil, memberValue{}, err
	} else if !found || h.Deleted {
		return nil, memberValue{}, store.ErrNotFound
	}
	mb := rb.Bucket(bucketMembers)
	if mb == nil {
		return nil, memberValue{}, store.ErrNotFound
	}
	raw := mb.Get([]byte(username))
	if raw == nil {
		return nil, memberValue{}, store.ErrNotFound
	}
	return mb, decodeMember(raw), nil
}

// Membership implements store.Reading.
func (s *Store) Membership(ctx context.Context, roomID, username string) (store.Membership, error) {
	var m memberValue
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		_, m, err = memberRow(tx, roomID, username)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Membership{}, err
		}
		return store.Membership{}, fmt.Errorf("boltstore: read membership: %w", err)
	}
	return m.membership(username), nil
}

// SetReadPosition implements store.Reading.
func (s *Store) SetReadPosition(ctx context.Context, roomID, username string, p store.ReadPosition, mentionsSeen int64) (bool, error) {
	moved := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		mb, m, err := memberRow(tx, roomID, username)
		switch {
		case err != nil:
			return err
		case m.ReadSeq >= p.Seq:
			return nil
		case m.Mentions != mentionsSeen:
			return store.ErrConcurrency
		}
		m.ReadSeq, m.ReadMessages, m.ReadMentions = p.Seq, p.Messages, p.Mentions
		moved = true
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return mb.Put([]byte(username), raw)
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConcurrency) {
			return false, err
		}
		return false, fmt.Errorf("boltstore: set read position: %w", err)
	}
	return moved, nil
}

// Audience implements store.Reading: the members from the file, their
// sockets from memory.
func (s *Store) Audience(ctx context.Context, roomID string) ([]store.Membership, error) {
	var out []store.Membership
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
		if rb == nil || rb.Bucket(bucketMembers) == nil {
			return nil
		}
		// The rows are kept as the transaction's own slices (valid until
		// it ends) from one pass of the cursor: looking each online member
		// up again by key would search the tree once per member, which in
		// a room of hundreds costs more than the rest of this read.
		var names []string
		var rows [][]byte
		err := rb.Bucket(bucketMembers).ForEach(func(k, v []byte) error {
			names = append(names, string(k))
			rows = append(rows, v)
			return nil
		})
		if err != nil {
			return err
		}
		// One look at the sockets for the whole room; only the rows of
		// people online are decoded.
		for i, conns := range s.live.usersConnections(names) {
			if len(conns) == 0 {
				continue
			}
			m := decodeMember(rows[i]).membership(names[i])
			m.Connections = conns
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: audience of %s: %w", roomID, err)
	}
	return out, nil
}

// UserConnections implements store.Reading.
func (s *Store) UserConnections(ctx context.Context, username string) ([]string, error) {
	return s.live.userConnections(username), ctx.Err()
}

// Memberships implements store.Reading: the rows from the file, their
// sockets from memory.
func (s *Store) Memberships(ctx context.Context, roomID string, usernames []string) ([]store.Membership, error) {
	var out []store.Membership
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
		if rb == nil || rb.Bucket(bucketMembers) == nil {
			return nil
		}
		conns := s.live.usersConnections(usernames)
		for i, u := range usernames {
			if v := rb.Bucket(bucketMembers).Get([]byte(u)); v != nil {
				m := decodeMember(v).membership(u)
				m.Connections = conns[i]
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: members of %s: %w", roomID, err)
	}
	return out, nil
}

// RoomRoster implements store.Connections: the joined connections and the
// members' other sockets, from memory, the members from the file.
func (s *Store) RoomRoster(ctx context.Context, roomID string) (store.Roster, error) {
	var names []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
		if rb == nil || rb.Bucket(bucketMembers) == nil {
			return nil
		}
		return rb.Bucket(bucketMembers).ForEach(func(k, _ []byte) error {
			names = append(names, string(k))
			return nil
		})
	})
	if err != nil {
		return store.Roster{}, fmt.Errorf("boltstore: roster of %s: %w", roomID, err)
	}
	r := store.Roster{Joined: s.live.roomConnections(roomID)}
	joined := make(map[string]bool, len(r.Joined))
	for _, p := range r.Joined {
		joined[p.ConnectionID] = true
	}
	for i, conns := range s.live.usersConnections(names) {
		if away := slices.DeleteFunc(conns, func(id string) bool { return joined[id] }); len(away) > 0 {
			if r.Away == nil {
				r.Away = map[string][]string{}
			}
			r.Away[names[i]] = away
		}
	}
	return r, nil
}
