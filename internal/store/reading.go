package store

import (
	"context"

	"github.com/chatroom/chat/internal/chat"
)

// MaxCounted caps the unread and mention counts of a room summary: past
// it a badge says "100+" and counting on would cost reads for nothing.
const MaxCounted = 100

// Membership is one member's row of a room: their role, their read
// position, and the counts their unread badges are differences of.
type Membership struct {
	Username string
	Role     chat.Role
	// ReadSeq is the read position; ReadMessages the room's message count
	// at it.
	ReadSeq      int64
	ReadMessages int64
	// Mentions counts the messages by others that ever mentioned the
	// member; ReadMentions how many of them were at or before ReadSeq.
	Mentions     int64
	ReadMentions int64
	// Connections are the member's open sockets, joined to the room or
	// not; filled by Audience only.
	Connections []string
}

// ReadPosition is where a member has read up to, with the counts at that
// point.
type ReadPosition struct {
	Seq      int64
	Messages int64
	Mentions int64
}

// Message is what the store keeps of a message beside its event, so an
// edit or a deletion can find it by id.
type Message struct {
	ID      string
	Seq     int64
	Author  string
	Deleted bool
	// Edits are the seqs of its message_edited events, oldest first.
	Edits []int64
}

// Ref is the message as the domain decides on it.
func (m Message) Ref() *chat.MessageRef {
	return &chat.MessageRef{ID: m.ID, Seq: m.Seq, Author: m.Author, Deleted: m.Deleted, Edits: len(m.Edits)}
}

// Summarize is one line of m's room list for the room r (its head: no
// members needed).
func Summarize(r *chat.Room, m Membership) RoomSummary {
	return RoomSummary{
		RoomID: r.ID, Name: r.Name, Owner: r.Owner, Role: m.Role,
		LastSeq: r.Version, LastActivityAt: r.LastActivityAt,
		Kind: r.KindOf(), Peer: r.PeerOf(m.Username),
		ReadSeq:  m.ReadSeq,
		Unread:   min(max(r.Messages-m.ReadMessages, 0), MaxCounted),
		Mentions: min(max(m.Mentions-m.ReadMentions, 0), MaxCounted),
	}
}

// Reading holds what the room list's badges and the message menu need
// beside the streams. The rows it reads are written by Append:
//   - a member's row starts with the read position at the event that
//     brought them in (room_created or member_added), so history from
//     before they joined is not unread;
//   - message_sent moves the sender's read position to the message (what
//     you send you have read) and adds one to the Mentions of each member
//     it mentions but the sender;
//   - message_sent records the Message, message_edited adds its seq to
//     Edits, and message_deleted marks it Deleted and erases
//     AppendRequest.Erase.
type Reading interface {
	// Message returns the room's message by id; ErrNotFound when the room
	// has none by that id.
	Message(ctx context.Context, roomID, messageID string) (Message, error)
	// Membership returns username's row of the room; ErrNotFound when
	// they are not a member (or the room is gone).
	Membership(ctx context.Context, roomID, username string) (Membership, error)
	// SetReadPosition moves username's read position forward to p, in one
	// conditional write: it returns false and changes nothing when the
	// position is already at or past p.Seq; ErrConcurrency when the
	// member's Mentions is no longer mentionsSeen (p.Mentions was counted
	// from a stale row: read again); ErrNotFound when they are not a
	// member.
	SetReadPosition(ctx context.Context, roomID, username string, p ReadPosition, mentionsSeen int64) (bool, error)
	// Audience lists the room's members who have an open socket, each
	// with their sockets, in one read of the room: whom a change to the
	// room concerns, joined to it or not.
	Audience(ctx context.Context, roomID string) ([]Membership, error)
	// Memberships returns the rows of those of usernames who are members,
	// each with their sockets, in one read: the few members a roster says
	// have sockets away from the room.
	Memberships(ctx context.Context, roomID string, usernames []string) ([]Membership, error)
	// UserConnections lists the user's open sockets.
	UserConnections(ctx context.Context, username string) ([]string, error)
}
