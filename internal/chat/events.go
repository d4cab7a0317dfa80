package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// TimeFormat is how times appear on the wire and in storage: RFC 3339, UTC,
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// EventType names an event on the wire and in storage.
type EventType string

// The event types of a room's stream.
const (
	TypeRoomCreated    EventType = "room_created"
	TypeRoomRenamed    EventType = "room_renamed"
	TypeMemberAdded    EventType = "member_added"
	TypeMemberRemoved  EventType = "member_removed"
	TypeUserJoined     EventType = "user_joined"
	TypeMessageSent    EventType = "message_sent"
	TypeUserLeft       EventType = "user_left"
	TypeRoomDeleted    EventType = "room_deleted"
	TypeMessageEdited  EventType = "message_edited"
	TypeMessageDeleted EventType = "message_deleted"
)

// Event is one entry of a room's stream: the envelope every event shares and
// the data of its type.
type Event struct {
	RoomID string
	Seq    int64
	// Username is who acted.
	Username string
	At       time.Time
	Data     EventData
}

// Type returns the event's type name.
func (e Event) Type() EventType { return e.Data.EventType() }

// IsActivity reports whether the event moves the room up a member's list:
// everything but people opening and leaving it, and changes to messages
// already there.
func (e Event) IsActivity() bool {
	switch e.Data.(type) {
	case UserJoined, UserLeft, MessageEdited, MessageDeleted:
		return false
	}
	return true
}

// EventData is the part of an event that depends on its type. Only the
// types of this package implement it.
type EventData interface {
	EventType() EventType
	isEventData()
}

// RoomCreated opens every stream (seq 1). The owner is the event's Username;
// Members are the people added at creation, the owner not among them.
// Kind is empty for a group room, which is what every room was before
// direct messages.
type RoomCreated struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	Kind    RoomKind `json:"kind,omitempty"`
}

// RoomRenamed gives the room a new name.
type RoomRenamed struct {
	Name string `json:"name"`
}

// MemberAdded adds a person with a role, or promotes a member to admin.
type MemberAdded struct {
	Member string `json:"member"`
	Role   Role   `json:"role"`
}

// MemberRemoved takes a person out of the room.
type MemberRemoved struct {
	Member string `json:"member"`
}

// UserJoined says a member opened the room on a connection.
type UserJoined struct{}

// MessageSent is a chat message. ClientMsgID is the sender's idempotency
// key; Mentions are the members written as @username in the text. Deleted
// says the message was deleted later and its text erased.
type MessageSent struct {
	MessageID   string    `json:"message_id"`
	ClientMsgID string    `json:"client_msg_id"`
	Text        string    `json:"text"`
	Mentions    Usernames `json:"mentions"`
	Deleted     bool      `json:"deleted,omitempty"`
}

// MessageEdited replaces a message's text. Deleted says the message was
// deleted later and this text erased too.
type MessageEdited struct {
	MessageID string    `json:"message_id"`
	Text      string    `json:"text"`
	Mentions  Usernames `json:"mentions"`
	Deleted   bool      `json:"deleted,omitempty"`
}

// MessageDeleted takes a message back; its text and the text of its edits
// are erased from the stream when this is stored.
type MessageDeleted struct {
	MessageID string `json:"message_id"`
}

// Usernames is a list of people that is written [] when empty, never null,
// events stored before it existed included.
type Usernames []string

// MarshalJSON writes nil as [].
func (u Usernames) MarshalJSON() ([]byte, error) {
	if u == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(u))
}

// UnmarshalJSON reads [] (and null) as nil, so that an event read back
// equals the one written.
func (u *Usernames) UnmarshalJSON(raw []byte) error {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	if len(list) == 0 {
		list = nil
	}
	*u = list
	return nil
}

// UserLeft says a member left the room on a connection.
type UserLeft struct{}

// RoomDeleted closes the stream; nothing follows it.
type RoomDeleted struct{}

func (RoomCreated) EventType() EventType    { return TypeRoomCreated }
func (RoomRenamed) EventType() EventType    { return TypeRoomRenamed }
func (MemberAdded) EventType() EventType    { return TypeMemberAdded }
func (MemberRemoved) EventType() EventType  { return TypeMemberRemoved }
func (UserJoined) EventType() EventType     { return TypeUserJoined }
func (MessageSent) EventType() EventType    { return TypeMessageSent }
func (UserLeft) EventType() EventType       { return TypeUserLeft }
func (RoomDeleted) EventType() EventType    { return TypeRoomDeleted }
func (MessageEdited) EventType() EventType  { return TypeMessageEdited }
func (MessageDeleted) EventType() EventType { return TypeMessageDeleted }

func (RoomCreated) isEventData()    {}
func (RoomRenamed) isEventData()    {}
func (MemberAdded) isEventData()    {}
func (MemberRemoved) isEventData()  {}
func (UserJoined) isEventData()     {}
func (MessageSent) isEventData()    {}
func (UserLeft) isEventData()       {}
func (RoomDeleted) isEventData()    {}
func (MessageEdited) isEventData()  {}
func (MessageDeleted) isEventData() {}

// eventDecoders is the one registry of type names: it turns a type name and
// the event's JSON into its data.
var eventDecoders = map[EventType]func([]byte) (EventData, error){
	TypeRoomCreated:    decodeData[RoomCreated],
	TypeRoomRenamed:    decodeData[RoomRenamed],
	TypeMemberAdded:    decodeData[MemberAdded],
	TypeMemberRemoved:  decodeData[MemberRemoved],
	TypeUserJoined:     decodeData[UserJoined],
	TypeMessageSent:    decodeData[MessageSent],
	TypeUserLeft:       decodeData[UserLeft],
	TypeRoomDeleted:    decodeData[RoomDeleted],
	TypeMessageEdited:  decodeData[MessageEdited],
	TypeMessageDeleted: decodeData[MessageDeleted],
}

func decodeData[T EventData](raw []byte) (EventData, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

type eventEnvelope struct {
	Seq      int64     `json:"seq"`
	Type     EventType `json:"type"`
	Username string    `json:"username"`
	At       string    `json:"at"`
}

// MarshalJSON writes the contract's event object: seq, type, username, at,
// then the fields of the event's type, flat.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("chat: event %d has no data", e.Seq)
	}
	head, err := json.Marshal(eventEnvelope{Seq: e.Seq, Type: e.Type(), Username: e.Username, At: e.At.UTC().Format(TimeFormat)})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(data, []byte("{}")) {
		return head, nil
	}
	out := make([]byte, 0, len(head)+len(data))
	out = append(out, head[:len(head)-1]...)
	out = append(out, ',')
	return append(out, data[1:]...), nil
}

// UnmarshalJSON reads the contract's event object. RoomID is not part of it
// and is left as it was.
func (e *Event) UnmarshalJSON(raw []byte) error {
	var env eventEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("chat: decode event: %w", err)
	}
	decode, ok := eventDecoders[env.Type]
	if !ok {
		return fmt.Errorf("chat: unknown event type %q", env.Type)
	}
	data, err := decode(raw)
	if err != nil {
		return fmt.Errorf("chat: decode %s event: %w", env.Type, err)
	}
	at, err := time.Parse(time.RFC3339Nano, env.At)
	if err != nil {
		return fmt.Errorf("chat: decode event time: %w", err)
	}
	// Read the time as MarshalJSON writes it (UTC, milliseconds, a
	// four-digit year), so that an event read can be written back and read
	// again as the same event.
	at = at.UTC().Truncate(time.Millisecond)
	if y := at.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("chat: decode event time: %q is outside the years 0000 to 9999 in UTC", env.At)
	}
	e.Seq, e.Username, e.At, e.Data = env.Seq, env.Username, at, data
	return nil
}
