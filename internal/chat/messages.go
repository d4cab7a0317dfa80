package chat

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
)

// MaxMentions bounds the people one message mentions: each is a write to
// that person's unread counts, and a message naming the whole room would
// be a notification flood.
const MaxMentions = 20

// MaxEditsPerMessage bounds a message's edits: deleting the message erases
// each of them in the same write, and a DynamoDB transaction holds 100.
const MaxEditsPerMessage = 50

// CodeMessageNotFound answers an edit or deletion of a message the room
// does not have, or no longer has.
const CodeMessageNotFound Code = "message_not_found"

// ErrMessageNotFound is the sentinel of CodeMessageNotFound.
var ErrMessageNotFound = &Error{Code: CodeMessageNotFound, Message: "no such message in this room, or it was deleted"}

// MessageID names the message that sender sends to the room with
// clientMsgID. It is derived rather than drawn so that the id is also the
// key under which a resend is recognised: the same three always name the
// same message, and different ones practically never collide (130 bits).
func MessageID(roomID, sender, clientMsgID string) string {
	sum := sha256.Sum256([]byte(roomID + "\x00" + sender + "\x00" + clientMsgID))
	return "m" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])[:26])
}

// MentionCandidates returns the usernames written as @name in text, in
// order of first appearance, without repeats, at most MaxMentions. An @
// counts only at the start or after a character that cannot be part of a
// name, so an e-mail address mentions nobody; the name runs to the first
// character that cannot be part of one. Which candidates are members is
// the room's to say (Room.mentionsIn).
func MentionCandidates(text string) []string {
	var out []string
	for i := 0; i < len(text) && len(out) < MaxMentions; i++ {
		if text[i] != '@' || (i > 0 && isNameByte(text[i-1])) {
			continue
		}
		j := i + 1
		for j < len(text) && isNameByte(text[j]) {
			j++
		}
		if name, err := NormalizeUsername(text[i+1 : j]); err == nil && !contains(out, name) {
			out = append(out, name)
		}
		i = j - 1
	}
	return out
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mentionsIn returns the candidates of text who are members of the room.
// The room may hold only some members (a store reads the rows it is asked
// for); callers load the candidates' rows.
func (r *Room) mentionsIn(text string) Usernames {
	var out Usernames
	for _, u := range MentionCandidates(text) {
		if _, ok := r.Members[u]; ok {
			out = append(out, u)
		}
	}
	return out
}

// MessageRef is what a room knows of one of its messages, for deciding an
// edit or a deletion: who wrote it, whether it is gone, how often it was
// edited.
type MessageRef struct {
	ID      string
	Seq     int64
	Author  string
	Deleted bool
	Edits   int
}

// EditMessage replaces the text of actor's own message.
func (r *Room) EditMessage(actor string, m *MessageRef, text string, at time.Time) ([]Event, error) {
	if _, err := r.CheckMember(actor); err != nil {
		return nil, err
	}
	text, err := NormalizeMessageText(text)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Deleted {
		return nil, ErrMessageNotFound
	}
	if m.Author != actor {
		return nil, errorf(CodeForbidden, "only the author can edit a message")
	}
	if m.Edits >= MaxEditsPerMessage {
		return nil, errorf(CodeForbidden, "a message can be edited at most %d times", MaxEditsPerMessage)
	}
	return []Event{r.next(0, actor, at, MessageEdited{MessageID: m.ID, Text: text, Mentions: r.mentionsIn(text)})}, nil
}

// DeleteMessage takes a message back: its author may, and in a group room
// so may an admin or the owner.
func (r *Room) DeleteMessage(actor string, m *MessageRef, at time.Time) ([]Event, error) {
	role, err := r.CheckMember(actor)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Deleted {
		return nil, ErrMessageNotFound
	}
	if m.Author != actor && (r.Kind == KindDirect || !role.CanManage()) {
		return nil, errorf(CodeForbidden, "only the author or an admin can delete a message")
	}
	return []Event{r.next(0, actor, at, MessageDeleted{MessageID: m.ID})}, nil
}

// Erased returns the event with its text taken out, as a deletion leaves
// a message and its edits in the stream; other events come back as they
// were.
func Erased(e Event) Event {
	switch d := e.Data.(type) {
	case MessageSent:
		d.Text, d.Mentions, d.Deleted = "", nil, true
		e.Data = d
	case MessageEdited:
		d.Text, d.Mentions, d.Deleted = "", nil, true
		e.Data = d
	}
	return e
}

// ErasedJSON is the stored form of an erased event: what a store writes
// over the original.
func ErasedJSON(e Event) ([]byte, error) {
	raw, err := Erased(e).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("chat: erase event %d: %w", e.Seq, err)
	}
	return raw, nil
}
