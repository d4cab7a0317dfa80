// Package wire holds the JSON shapes of the wire contract that more than
// one transport sends: the room object, the room summary, the error body.
// Events encode themselves (chat.Event.MarshalJSON).
package wire

import (
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Time formats a time the contract's way: RFC 3339, UTC, milliseconds.
func Time(t time.Time) string { return t.UTC().Format(chat.TimeFormat) }

// Room is the contract's room object.
type Room struct {
	RoomID    string        `json:"room_id"`
	Name      string        `json:"name"`
	Owner     string        `json:"owner"`
	CreatedAt string        `json:"created_at"`
	Members   []chat.Member `json:"members"`
	LastSeq   int64         `json:"last_seq"`
	Kind      chat.RoomKind `json:"kind"`
}

// NewRoom shapes a room's state as the room object.
func NewRoom(r *chat.Room) Room {
	return Room{RoomID: r.ID, Name: r.Name, Owner: r.Owner, CreatedAt: Time(r.CreatedAt), Members: r.MemberList(), LastSeq: r.Version, Kind: r.KindOf()}
}

// RoomSummary is one line of GET /rooms, and the room of a room_summary
// frame.
type RoomSummary struct {
	RoomID         string        `json:"room_id"`
	Name           string        `json:"name"`
	Owner          string        `json:"owner"`
	Role           chat.Role     `json:"role"`
	LastSeq        int64         `json:"last_seq"`
	LastActivityAt string        `json:"last_activity_at"`
	Kind           chat.RoomKind `json:"kind"`
	// Peer is the other person of a direct room, so a client can name it.
	Peer     string `json:"peer,omitempty"`
	ReadSeq  int64  `json:"read_seq"`
	Unread   int64  `json:"unread"`
	Mentions int64  `json:"mentions"`
}

// NewRoomSummary shapes one line of a room list.
func NewRoomSummary(r store.RoomSummary) RoomSummary {
	return RoomSummary{RoomID: r.RoomID, Name: r.Name, Owner: r.Owner, Role: r.Role, LastSeq: r.LastSeq, LastActivityAt: Time(r.LastActivityAt),
		Kind: r.Kind, Peer: r.Peer, ReadSeq: r.ReadSeq, Unread: r.Unread, Mentions: r.Mentions}
}

// NewRoomSummaries shapes a room list.
func NewRoomSummaries(rooms []store.RoomSummary) []RoomSummary {
	out := make([]RoomSummary, len(rooms))
	for i, r := range rooms {
		out[i] = NewRoomSummary(r)
	}
	return out
}

// Error is the body of every non-2xx HTTP answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and sentence of an error.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Usernames names the people an error is about, when it is about
	// people (user_not_found, already_member).
	Usernames []string `json:"usernames,omitempty"`
}
