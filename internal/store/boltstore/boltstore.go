// Package boltstore is the embedded store: every room stream, projection,
// account and session in one bbolt file, so a local chat survives a
// restart with nothing else installed; connections, presence and rate
// counters, which die with the process anyway, in memory (live.go).
//
// Each write is one bbolt transaction, which is both atomic and serialised:
// the version check and the append cannot interleave with another writer.
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

var _ store.Store = (*Store)(nil)

// Top-level buckets. Each room has a bucket under rooms holding its head,
// events, members and message ids.
var (
	bucketRooms     = []byte("rooms")
	bucketUserRooms = []byte("user_rooms")
	bucketUsers     = []byte("users")
	bucketSessions  = []byte("sessions")

	keyHead       = []byte("head")
	bucketEvents  = []byte("events")
	bucketMembers = []byte("members")
	bucketMsgIDs  = []byte("message_ids")
	// bucketMessages maps a message id to its messageValue.
	bucketMessages = []byte("messages")
)

// DefaultFile is the store's file name inside the data directory.
const DefaultFile = "chat.db"

// Store is a bbolt-backed store.Store.
type Store struct {
	db    *bolt.DB
	live  *live
	marks *deliveryMarks
}

// Open opens (creating if needed) the store file at path.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: create directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRooms, bucketUserRooms, bucketUsers, bucketSessions} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: create buckets: %w", err)
	}
	return &Store{db: db, live: newLive(), marks: newDeliveryMarks()}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// head is the stored room head: the room's state without its members.
type head struct {
	Name           string        `json:"name"`
	Owner          string        `json:"owner"`
	CreatedAt      time.Time     `json:"created_at"`
	LastActivityAt time.Time     `json:"last_activity_at"`
	Version        int64         `json:"version"`
	Deleted        bool          `json:"deleted,omitempty"`
	Kind           chat.RoomKind `json:"kind,omitempty"`
	Pair           [2]string     `json:"pair,omitzero"`
	Messages       int64         `json:"messages,omitempty"`
}

func (h head) room(roomID string) *chat.Room {
	return &chat.Room{ID: roomID, Name: h.Name, Owner: h.Owner, CreatedAt: h.CreatedAt, LastActivityAt: h.LastActivityAt,
		Version: h.Version, Deleted: h.Deleted, Kind: h.Kind, Pair: h.Pair, Messages: h.Messages, Members: map[string]chat.Role{}}
}

// memberValue is a member's row. Rows written before read positions
// existed hold the bare role, which decodeMember still reads.
type memberValue struct {
	Role         chat.Role `json:"role"`
	ReadSeq      int64     `json:"read_seq,omitempty"`
	ReadMessages int64     `json:"read_msgs,omitempty"`
	Mentions     int64     `json:"mentions,omitempty"`
	ReadMentions int64     `json:"read_mentions,omitempty"`
}

func decodeMember(raw []byte) memberValue {
	var m memberValue
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &m) == nil {
		return m
	}
	return memberValue{Role: chat.Role(raw)}
}

func (m memberValue) membership(username string) store.Membership {
	return store.Membership{Username: username, Role: m.Role, ReadSeq: m.ReadSeq, ReadMessages: m.ReadMessages, Mentions: m.Mentions, ReadMentions: m.ReadMentions}
}

// messageValue is what the messages bucket keeps of a message.
type messageValue struct {
	Seq     int64   `json:"seq"`
	Author  string  `json:"author"`
	Deleted bool    `json:"deleted,omitempty"`
	Edits   []int64 `json:"edits,omitempty"`
}

func seqKey(seq int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(seq))
	return k[:]
}

func msgIDKey(username, clientMsgID string) []byte {
	return []byte(username + "\x00" + clientMsgID)
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	if b == nil {
		return false, nil
	}
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// read looks one JSON value up in a top-level bucket: store.ErrNotFound
// when it is not there.
func read[T any](s *Store, ctx context.Context, bucket []byte, key, what string) (T, error) {
	var v T
	var found bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucket), []byte(key), &v)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("boltstore: read %s: %w", what, err)
	}
	if !found {
		return v, store.ErrNotFound
	}
	return v, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// Append implements store.Rooms.
func (s *Store) Append(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	if err := store.CheckAppend(req); err != nil {
		return store.AppendResult{}, err
	}
	return s.appendEvents(ctx, req)
}

// appendEvents writes the events and their projections in one transaction.
func (s *Store) appendEvents(ctx context.Context, req store.AppendRequest) (store.AppendResult, error) {
	var res store.AppendResult
	joined, took := false, false
	var left store.Presence
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(bucketRooms).CreateBucketIfNotExists([]byte(req.RoomID))
		if err != nil {
			return err
		}
		var h head
		if _, err := getJSON(rb, keyHead, &h); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		msgIDs, err := rb.CreateBucketIfNotExists(bucketMsgIDs)
		if err != nil {
			return err
		}
		events, err := rb.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		// A repeated client_msg_id wins over a version conflict: the
		// message is already stored, whatever was appended since.
		for _, e := range req.Events {
			if m, ok := e.Data.(chat.MessageSent); ok {
				if raw := msgIDs.Get(msgIDKey(e.Username, m.ClientMsgID)); raw != nil {
					orig, err := decodeEvent(req.RoomID, events.Get(raw))
					if err != nil {
						return err
					}
					res = store.AppendResult{Events: []chat.Event{orig}, Duplicate: true}
					return nil
				}
			}
		}
		if h.Version != req.ExpectedVersion {
			return store.ErrConcurrency
		}
		// Presence changes with the events, inside the write: bbolt runs
		// one at a time, so whoever lists the room for a later event finds
		// the joiner and not the leaver, and for an earlier one the other
		// way round, whichever process or instance appended it. Of leaves
		// racing for one connection only one finds it.
		if l := req.Leave; l != nil {
			var present bool
			if left, present = s.live.takePresence(req.RoomID, l.ConnectionID); !present {
				return store.ErrNotPresent
			}
			took = true
		}
		s.marks.appended(req.RoomID, req.ExpectedVersion, req.Events[len(req.Events)-1].Seq)
		members, err := rb.CreateBucketIfNotExists(bucketMembers)
		if err != nil {
			return err
		}
		messages, err := rb.CreateBucketIfNotExists(bucketMessages)
		if err != nil {
			return err
		}
		userRooms := tx.Bucket(bucketUserRooms)
		count := req.Messages
		for _, e := range req.Events {
			raw, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := events.Put(seqKey(e.Seq), raw); err != nil {
				return err
			}
			if _, ok := e.Data.(chat.MessageSent); ok {
				count++
			}
			if err := s.recordMessage(msgIDs, messages, members, events, req, e, count); err != nil {
				return err
			}
			changes := store.MemberChanges(e)
			if _, ok := e.Data.(chat.RoomDeleted); ok {
				changes = nil
				err := members.ForEach(func(k, _ []byte) error {
					changes = append(changes, store.MemberChange{Username: string(k), Removed: true})
					return nil
				})
				if err != nil {
					return err
				}
			}
			for _, ch := range changes {
				if err := applyMemberChange(members, userRooms, req.RoomID, ch, memberValue{ReadSeq: e.Seq, ReadMessages: count}); err != nil {
					return err
				}
			}
			h = applyHead(h, e)
		}
		h.Messages = count
		if err := putJSON(rb, keyHead, h); err != nil {
			return err
		}
		if j := req.Join; j != nil {
			// Present before the next append to the room can start (bbolt
			// runs one write at a time), so whoever lists the room for a
			// later event finds the joiner, whichever process or
			// instance appended it.
			s.live.join(req.RoomID, *j)
			joined = true
		}
		res = store.AppendResult{Events: req.Events}
		return nil
	})
	if err != nil && joined {
		// The commit failed after all.
		s.live.removePresence(req.RoomID, []string{req.Join.ConnectionID})
	}
	if err != nil && took {
		s.live.restorePresence(req.RoomID, left)
	}
	if err != nil {
		if errors.Is(err, store.ErrConcurrency) || errors.Is(err, store.ErrNotPresent) {
			return store.AppendResult{}, err
		}
		return store.AppendResult{}, fmt.Errorf("boltstore: append to room %s: %w", req.RoomID, err)
	}
	return res, nil
}

func applyHead(h head, e chat.Event) head {
	switch d := e.Data.(type) {
	case chat.RoomCreated:
		h.Name, h.Owner, h.CreatedAt = d.Name, e.Username, e.At
		if d.Kind == chat.KindDirect && len(d.Members) == 1 {
			h.Kind, h.Pair = chat.KindDirect, [2]string{e.Username, d.Members[0]}
		}
	case chat.RoomRenamed:
		h.Name = d.Name
	case chat.RoomDeleted:
		h.Deleted = true
	}
	h.Version = e.Seq
	if e.IsActivity() {
		h.LastActivityAt = e.At
	}
	return h
}

// applyMemberChange writes one change of the members projection. A new
// member's row starts at fresh, the read position where they came in; an
// existing member keeps theirs and changes role.
func applyMemberChange(members, userRooms *bolt.Bucket, roomID string, ch store.MemberChange, fresh memberValue) error {
	if ch.Removed {
		if err := members.Delete([]byte(ch.Username)); err != nil {
			return err
		}
		if ub := userRooms.Bucket([]byte(ch.Username)); ub != nil {
			return ub.Delete([]byte(roomID))
		}
		return nil
	}
	row := fresh
	if raw := members.Get([]byte(ch.Username)); raw != nil {
		row = decodeMember(raw)
	}
	row.Role = ch.Role
	if err := putJSON(members, []byte(ch.Username), row); err != nil {
		return err
	}
	ub, err := userRooms.CreateBucketIfNotExists([]byte(ch.Username))
	if err != nil {
		return err
	}
	return ub.Put([]byte(roomID), []byte(ch.Role))
}

func decodeEvent(roomID string, raw []byte) (chat.Event, error) {
	if raw == nil {
		return chat.Event{}, fmt.Errorf("event missing")
	}
	var e chat.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return chat.Event{}, err
	}
	e.RoomID = roomID
	return e, nil
}

// room reads the head with every member, or with only the named ones
// when only is not nil.
func (s *Store) room(ctx context.Context, roomID string, only []string) (*chat.Room, error) {
	var r *chat.Room
	err := s.view(ctx, func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
		var h head
		found, err := getJSON(rb, keyHead, &h)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		r = h.room(roomID)
		mb := rb.Bucket(bucketMembers)
		if mb == nil {
			return nil
		}
		if only != nil {
			for _, u := range only {
				if raw := mb.Get([]byte(u)); raw != nil {
					r.Members[u] = decodeMember(raw).Role
				}
			}
			return nil
		}
		return mb.ForEach(func(k, v []byte) error {
			r.Members[string(k)] = decodeMember(v).Role
			return nil
		})
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("boltstore: read room %s: %w", roomID, err)
	}
	return r, nil
}

// Room implements store.Rooms.
func (s *Store) Room(ctx context.Context, roomID string) (*chat.Room, error) {
	return s.room(ctx, roomID, nil)
}

// RoomAs implements store.Rooms.
func (s *Store) RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	if usernames == nil {
		usernames = []string{}
	}
	return s.room(ctx, roomID, usernames)
}

// RecentRoomAs implements store.Rooms: every read here is current.
func (s *Store) RecentRoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error) {
	return s.RoomAs(ctx, roomID, usernames...)
}

// ReadForward implements store.Rooms.
func (s *Store) ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error) {
	if err := store.CheckLimit(limit); err != nil {
		return store.Page{}, err
	}
	var page store.Page
	err := s.view(ctx, func(tx *bolt.Tx) error {
		eb := eventsBucket(tx, roomID)
		if eb == nil {
			return nil
		}
		if afterSeq == math.MaxInt64 {
			// Nothing can come after the largest seq, and afterSeq+1
			// would wrap round to the smallest.
			return nil
		}
		c := eb.Cursor()
		for k, v := c.Seek(seqKey(max(afterSeq, 0) + 1)); k != nil; k, v = c.Next() {
			if len(page.Events) == limit {
				page.HasMore = true
				return nil
			}
			e, err := decodeEvent(roomID, v)
			if err != nil {
				return err
			}
			page.Events = append(page.Events, e)
		}
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("boltstore: read room %s: %w", roomID, err)
	}
	return page, nil
}

// ReadBackward implements store.Rooms.
func (s *Store) ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (store.Page, error) {
	if err := store.CheckLimit(limit); err != nil {
		return store.Page{}, err
	}
	var page store.Page
	err := s.view(ctx, func(tx *bolt.Tx) error {
		eb := eventsBucket(tx, roomID)
		if eb == nil {
			return nil
		}
		c := eb.Cursor()
		var k, v []byte
		if beforeSeq <= 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(seqKey(beforeSeq)); k == nil {
			k, v = c.Last() // every event is before beforeSeq
		} else {
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			if len(page.Events) == limit {
				page.HasMore = true
				break
			}
			e, err := decodeEvent(roomID, v)
			if err != nil {
				return err
			}
			page.Events = append(page.Events, e)
		}
		slices.Reverse(page.Events)
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("boltstore: read room %s: %w", roomID, err)
	}
	return page, nil
}

func eventsBucket(tx *bolt.Tx, roomID string) *bolt.Bucket {
	rb := tx.Bucket(bucketRooms).Bucket([]byte(roomID))
	if rb == nil {
		return nil
	}
	return rb.Bucket(bucketEvents)
}

// RoomsOf implements store.Rooms.
func (s *Store) RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error) {
	var out []store.RoomSummary
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUserRooms).Bucket([]byte(username))
		if ub == nil {
			return nil
		}
		return ub.ForEach(func(k, _ []byte) error {
			rb := tx.Bucket(bucketRooms).Bucket(k)
			var h head
			found, err := getJSON(rb, keyHead, &h)
			if err != nil || !found || h.Deleted {
				return err
			}
			row := rb.Bucket(bucketMembers).Get([]byte(username))
			if row == nil {
				return nil
			}
			out = append(out, store.Summarize(h.room(string(k)), decodeMember(row).membership(username)))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: rooms of %s: %w", username, err)
	}
	store.SortSummaries(out)
	return out, nil
}

type userValue struct {
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		if b.Get([]byte(u.Username)) != nil {
			return store.ErrExists
		}
		return putJSON(b, []byte(u.Username), userValue{PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt})
	})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("boltstore: create user: %w", err)
	}
	return err
}

// User implements store.Users.
func (s *Store) User(ctx context.Context, username string) (store.User, error) {
	v, err := read[userValue](s, ctx, bucketUsers, username, "user")
	if err != nil {
		return store.User{}, err
	}
	return store.User{Username: username, PasswordHash: v.PasswordHash, CreatedAt: v.CreatedAt}, nil
}

// ExistingUsers implements store.Users.
func (s *Store) ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error) {
	out := make(map[string]bool, len(usernames))
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsers)
		for _, u := range usernames {
			if b.Get([]byte(u)) != nil {
				out[u] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: look up users: %w", err)
	}
	return out, nil
}

type sessionValue struct {
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSession implements store.Sessions.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketSessions), []byte(se.TokenHash), sessionValue{Username: se.Username, CreatedAt: se.CreatedAt, ExpiresAt: se.ExpiresAt})
	})
	if err != nil {
		return fmt.Errorf("boltstore: create session: %w", err)
	}
	return nil
}

// Session implements store.Sessions.
func (s *Store) Session(ctx context.Context, tokenHash string) (store.Session, error) {
	v, err := read[sessionValue](s, ctx, bucketSessions, tokenHash, "session")
	if err != nil {
		return store.Session{}, err
	}
	return store.Session{TokenHash: tokenHash, Username: v.Username, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt}, nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(tokenHash))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete session: %w", err)
	}
	return nil
}

// SessionConnections implements store.Sessions.
func (s *Store) SessionConnections(ctx context.Context, tokenHash string) ([]string, error) {
	return s.live.sessionConnections(tokenHash), ctx.Err()
}

// PutConnection implements store.Connections.
func (s *Store) PutConnection(ctx context.Context, c store.Connection, maxPerUser int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.live.putConnection(c, maxPerUser, func() (bool, error) {
		se, err := s.Session(ctx, c.SessionHash)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil && c.ConnectedAt.Before(se.ExpiresAt), err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrLimit) {
		return fmt.Errorf("boltstore: put connection: %w", err)
	}
	return err
}

// CreateTicket implements store.Tickets. Tickets live a minute and mean
// nothing after a restart (a client asks for another), so they are kept
// in memory.
func (s *Store) CreateTicket(ctx context.Context, t store.Ticket) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.live.createTicket(t, time.Now())
	return nil
}

// TakeTicket implements store.Tickets.
func (s *Store) TakeTicket(ctx context.Context, hash string) (store.Ticket, error) {
	if err := ctx.Err(); err != nil {
		return store.Ticket{}, err
	}
	t, ok := s.live.takeTicket(hash)
	if !ok {
		return store.Ticket{}, store.ErrNotFound
	}
	return t, nil
}

// Connection implements store.Connections.
func (s *Store) Connection(ctx context.Context, connectionID string) (store.Connection, error) {
	if err := ctx.Err(); err != nil {
		return store.Connection{}, err
	}
	c, ok := s.live.connection(connectionID)
	if !ok {
		return store.Connection{}, store.ErrNotFound
	}
	return c, nil
}

// DeleteConnection implements store.Connections.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) error {
	s.live.deleteConnection(connectionID)
	return nil
}

// ConnectionRooms implements store.Connections.
func (s *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]string, error) {
	return s.live.connectionRooms(connectionID), ctx.Err()
}

// RoomConnections implements store.Connections.
func (s *Store) RoomConnections(ctx context.Context, roomID string) ([]store.Presence, error) {
	return s.live.roomConnections(roomID), ctx.Err()
}

// RemovePresence implements store.Connections.
func (s *Store) RemovePresence(ctx context.Context, roomID string, connectionIDs ...string) error {
	s.live.removePresence(roomID, connectionIDs)
	return nil
}

// RoomIDs lists every stream, deleted rooms included, for the rebuild tool.
func (s *Store) RoomIDs(ctx context.Context) ([]string, error) {
	return s.topKeys(ctx, bucketRooms)
}

// Usernames lists every account, for the rebuild tool.
func (s *Store) Usernames(ctx context.Context) ([]string, error) {
	return s.topKeys(ctx, bucketUsers)
}

func (s *Store) topKeys(ctx context.Context, bucket []byte) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list %s: %w", bucket, err)
	}
	return out, nil
}

// ReplaceProjection overwrites the room's head, members and the user index
// entries for it with r, the result of a replay. It is the rebuild tool's
// repair.
func (s *Store) ReplaceProjection(ctx context.Context, r *chat.Room) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(bucketRooms).CreateBucketIfNotExists([]byte(r.ID))
		if err != nil {
			return err
		}
		h := head{Name: r.Name, Owner: r.Owner, CreatedAt: r.CreatedAt, LastActivityAt: r.LastActivityAt, Version: r.Version, Deleted: r.Deleted,
			Kind: r.Kind, Pair: r.Pair, Messages: r.Messages}
		if err := putJSON(rb, keyHead, h); err != nil {
			return err
		}
		// Read positions are not in the stream: keep each remaining
		// member's, and drop the rows of people the replay says left.
		kept := map[string]memberValue{}
		if old := rb.Bucket(bucketMembers); old != nil {
			err := old.ForEach(func(k, v []byte) error {
				kept[string(k)] = decodeMember(v)
				return nil
			})
			if err != nil {
				return err
			}
			if err := rb.DeleteBucket(bucketMembers); err != nil {
				return err
			}
		}
		members, err := rb.CreateBucket(bucketMembers)
		if err != nil {
			return err
		}
		userRooms := tx.Bucket(bucketUserRooms)
		// Drop every index entry for the room, then write the true ones.
		err = userRooms.ForEachBucket(func(user []byte) error {
			return userRooms.Bucket(user).Delete([]byte(r.ID))
		})
		if err != nil {
			return err
		}
		for u, role := range r.Members {
			row, ok := kept[u]
			if !ok {
				row = memberValue{ReadSeq: r.Version, ReadMessages: r.Messages}
			}
			if err := applyMemberChange(members, userRooms, r.ID, store.MemberChange{Username: u, Role: role}, row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltstore: replace projection of room %s: %w", r.ID, err)
	}
	return nil
}

type counterValue struct {
	Count     int64
	ExpiresAt time.Time
}

// IncrementCounter implements store.Counters.
func (s *Store) IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.live.incrementCounter(name, expiresAt, time.Now()), nil
}

// Counter implements store.Counters.
func (s *Store) Counter(ctx context.Context, name string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.live.counter(name, time.Now()), nil
}
