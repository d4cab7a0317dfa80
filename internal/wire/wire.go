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
}

// NewRoom shapes a room's state as the room object.
func NewRoom(r *chat.Room) Room {
	return Room{RoomID: r.ID, Name: r.Name, Owner: r.Owner, CreatedAt: Time(r.CreatedAt), Members: r.MemberList(), LastSeq: r.Version}
}

// RoomSummary is one line of GET /rooms.
type RoomSummary struct {
	RoomID         string    `json:"room_id"`
	Name           string    `json:"name"`
	Owner          string    `json:"owner"`
	Role           chat.Role `json:"role"`
	LastSeq        int64     `json:"last_seq"`
	LastActivityAt string    `json:"last_activity_at"`
	Kind           string    `json:"kind"`
}

// KindGroup is the kind of every room until direct rooms exist.
const KindGroup = "group"

// NewRoomSummaries shapes a room list.
func NewRoomSummaries(rooms []store.RoomSummary) []RoomSummary {
	out := make([]RoomSummary, len(rooms))
	for i, r := range rooms {
		out[i] = RoomSummary{RoomID: r.RoomID, Name: r.Name, Owner: r.Owner, Role: r.Role, LastSeq: r.LastSeq, LastActivityAt: Time(r.LastActivityAt), Kind: KindGroup}
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
