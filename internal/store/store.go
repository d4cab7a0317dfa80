// Package store is the port between the chat's use cases and where their
// data lives: each room's event stream with its projections (the room head,
// its members, the rooms of each user), and the accounts, sessions,
// connections and presence the handlers keep beside it.
//
// Two adapters implement it, and both pass the conformance suite in
// storetest: dynamostore (DynamoDB, the cloud) and boltstore (a bbolt file,
// the embedded default). Code that needs only part of the store declares
// the smaller interface it uses; Store is what an adapter provides whole.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/chatroom/chat/internal/chat"
)

// Errors every adapter returns, compared with errors.Is.
var (
	// ErrConcurrency means the room's version was not the expected one:
	// someone appended first. Re-read the room, decide again and retry.
	ErrConcurrency = errors.New("store: version conflict")
	// ErrNotFound means the item asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a create found the key taken.
	ErrExists = errors.New("store: already exists")
	// ErrNotPresent means an append's Leave named a connection that is not
	// in the room (it left already): nothing was appended.
	ErrNotPresent = errors.New("store: connection not in the room")
	// ErrLimit means a write would pass a limit the caller set: nothing
	// was written.
	ErrLimit = errors.New("store: limit reached")
)

// User is an account.
type User struct {
	Username string
	// PasswordHash is opaque to the store: the auth code encodes its
	// algorithm and parameters in it.
	PasswordHash string
	CreatedAt    time.Time
}

// Session is a logged-in token, known only by the SHA-256 of the token.
// Stores keep it until ExpiresAt at least; callers check the expiry, since
// a TTL sweep may leave an expired item for a while.
type Session struct {
	TokenHash string
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Connection is an open WebSocket connection and who opened it.
type Connection struct {
	ID          string
	Username    string
	SessionHash string
	ConnectedAt time.Time
	ExpiresAt   time.Time
}

// Ticket is a single-use pass to open one socket for a session, known
// only by the SHA-256 of its value. Stores keep it until ExpiresAt at
// least; callers check the expiry.
type Ticket struct {
	Hash        string
	SessionHash string
	Username    string
	ExpiresAt   time.Time
}

// Presence is a connection joined to a room.
type Presence struct {
	ConnectionID string
	Username     string
	// ExpiresAt bounds how long the item outlives a connection that was
	// never cleanly closed.
	ExpiresAt time.Time
}

// RoomSummary is one line of a user's room list (Summarize).
type RoomSummary struct {
	RoomID         string
	Name           string
	Owner          string
	Role           chat.Role
	LastSeq        int64
	LastActivityAt time.Time
	Kind           chat.RoomKind
	// Peer is the other person of a direct room.
	Peer string
	// ReadSeq is the user's read position; Unread and Mentions count,
	// up to MaxCounted, the messages by others after it and those of
	// them that mention the user.
	ReadSeq  int64
	Unread   int64
	Mentions int64
}

// Page is a run of events in ascending seq. HasMore says whether more
// events lie beyond it in the direction it was read.
type Page struct {
	Events  []chat.Event
	HasMore bool
}

// AppendRequest appends Events to one room's stream. Their seqs must follow
// ExpectedVersion without gaps. Join and Leave, when set, record or remove
// a connection's presence in the same atomic write as the events; a Leave
// whose presence is already gone appends nothing and fails with
// ErrNotPresent, so a connection leaves a room once however many paths
// (leave_room, $disconnect, a push that found it gone) race to do it.
//
// Messages is the room's message count at ExpectedVersion (chat.Room's),
// from which the store numbers the messages it appends for read positions.
// Erase lists the seqs of a deleted message and its edits: with the
// message_deleted event, the store overwrites them with chat.Erased in
// the same write.
type AppendRequest struct {
	RoomID          string
	ExpectedVersion int64
	Messages        int64
	Events          []chat.Event
	Join            *Presence
	Leave           *Presence
	Erase           []int64
}

// AppendResult is what an append stored. Duplicate is set when a
// message_sent repeated the sender's client_msg_id in the room: nothing was
// appended and Events holds the original message.
type AppendResult struct {
	Events    []chat.Event
	Duplicate bool
}

// Rooms is the event store: append with optimistic concurrency, read pages
// of a stream, and read the projections.
type Rooms interface {
	// Append stores the events and updates the projections atomically. It
	// returns ErrConcurrency when the room's version is not ExpectedVersion.
	Append(ctx context.Context, req AppendRequest) (AppendResult, error)
	// Room returns the room's projected state with all its members, or
	// ErrNotFound for a room never created. A deleted room is returned
	// with Deleted set.
	Room(ctx context.Context, roomID string) (*chat.Room, error)
	// RoomAs is Room with Members holding only the entries of usernames
	// that are members: enough for commands that consult the actor's
	// role and the people a message mentions, and cheap in a room of a
	// thousand.
	RoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error)
	// RecentRoomAs is RoomAs from a read that may be a moment old, for a
	// caller whose append is conditioned on what it read: ErrConcurrency
	// then sends it back to RoomAs.
	RecentRoomAs(ctx context.Context, roomID string, usernames ...string) (*chat.Room, error)
	// ReadForward returns up to limit events with seq > afterSeq.
	ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (Page, error)
	// ReadBackward returns the last up to limit events with seq < beforeSeq
	// (beforeSeq <= 0: the newest), still in ascending order.
	ReadBackward(ctx context.Context, roomID string, beforeSeq int64, limit int) (Page, error)
	// RoomsOf lists the live rooms username is a member of, newest
	// activity first.
	RoomsOf(ctx context.Context, username string) ([]RoomSummary, error)
}

// Users holds accounts.
type Users interface {
	// CreateUser returns ErrExists when the username is taken.
	CreateUser(ctx context.Context, u User) error
	User(ctx context.Context, username string) (User, error)
	// ExistingUsers reports which of usernames have an account.
	ExistingUsers(ctx context.Context, usernames []string) (map[string]bool, error)
}

// Sessions holds login sessions by token hash.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, tokenHash string) (Session, error)
	// DeleteSession is idempotent.
	DeleteSession(ctx context.Context, tokenHash string) error
	// SessionConnections lists the connections opened with the session.
	SessionConnections(ctx context.Context, tokenHash string) ([]string, error)
}

// Tickets holds the passes that open sockets.
type Tickets interface {
	CreateTicket(ctx context.Context, t Ticket) error
	// TakeTicket returns the ticket and deletes it in one step, so that it
	// serves once however many handshakes present it at the same time;
	// ErrNotFound when it is unknown or was taken.
	TakeTicket(ctx context.Context, hash string) (Ticket, error)
}

// Roster is whom a room's frames reach: the connections joined to it, and
// by username the open sockets of its members that are not, which hear of
// its messages by their room list line instead.
type Roster struct {
	Joined []Presence
	Away   map[string][]string
}

// Connections holds open WebSocket connections and their presence in rooms.
type Connections interface {
	// PutConnection records an open connection with its link from the
	// session, in one atomic step that checks two things at the moment
	// of the write. The session must still exist and be live at
	// c.ConnectedAt, else ErrNotFound: a logout deletes the session and
	// then lists its connections, so a handshake racing it is either
	// listed and closed, or refused. And the user must have fewer than
	// maxPerUser open connections (0: no limit), else ErrLimit.
	PutConnection(ctx context.Context, c Connection, maxPerUser int) error
	Connection(ctx context.Context, connectionID string) (Connection, error)
	// DeleteConnection removes the connection with its presence in every
	// room and its link to the session. It is idempotent.
	DeleteConnection(ctx context.Context, connectionID string) error
	// ConnectionRooms lists the rooms the connection has joined.
	ConnectionRooms(ctx context.Context, connectionID string) ([]string, error)
	// RoomConnections lists the connections joined to the room: one read of
	// the room's roster, whatever the table holds besides.
	RoomConnections(ctx context.Context, roomID string) ([]Presence, error)
	// RoomRoster is RoomConnections with the members' sockets that are not
	// joined, in the same read: what a new message needs to reach
	// everyone, whatever the size of the room.
	RoomRoster(ctx context.Context, roomID string) (Roster, error)
	// RemovePresence takes connections out of a room without an event (a
	// removed member, a deleted room, a connection gone). Idempotent.
	RemovePresence(ctx context.Context, roomID string, connectionIDs ...string) error
}

// Counters are named counts that expire, for rate limits that must hold
// across every process serving the chat.
type Counters interface {
	// IncrementCounter adds one and returns the new count. A counter past
	// its expiry starts again from zero; expiresAt is set on every call.
	IncrementCounter(ctx context.Context, name string, expiresAt time.Time) (int64, error)
	// Counter returns the count, 0 for a counter unknown or expired.
	Counter(ctx context.Context, name string) (int64, error)
}

// Store is everything an adapter provides.
type Store interface {
	Rooms
	Users
	Sessions
	Tickets
	Connections
	Counters
	Blocking
	Reading
	DeliveryMarks
	Close() error
}
