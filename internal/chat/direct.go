package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// RoomKind tells group rooms from direct conversations.
type RoomKind string

// The kinds of room. Events stored before direct messages carry no kind:
// they are groups.
const (
	KindGroup  RoomKind = "group"
	KindDirect RoomKind = "direct"
)

// KindOf names the room's kind as the wire does.
func (r *Room) KindOf() RoomKind {
	if r.Kind == KindDirect {
		return KindDirect
	}
	return KindGroup
}

// DirectRoomID is the one room of the pair a and b, whichever of them
// starts it: deriving the id makes "find or create" a single conditional
// create, with no index of pairs to keep.
func DirectRoomID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	sum := sha256.Sum256([]byte("direct\x00" + a + "\x00" + b))
	return "dm" + hex.EncodeToString(sum[:15])
}

// directName is the name a direct room carries for clients that show only
// names: both people, in order.
func directName(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + ", " + b
}

// CheckDirectPeer normalises the person actor wants to talk to: a valid
// username that is not actor.
func CheckDirectPeer(actor, other string) (string, error) {
	peer, err := NormalizeUsername(other)
	if err != nil {
		return "", &Error{Code: CodeInvalidUsername, Message: fmt.Sprintf("%q is not a valid username", other), Usernames: []string{other}}
	}
	if peer == actor {
		return "", errorf(CodeInvalidUsername, "a direct conversation needs someone other than you")
	}
	return peer, nil
}

// CreateDirect opens the direct room of actor and other. exists says
// whether actor may reach other (an account, and no block).
func CreateDirect(actor, other string, exists UserExists, at time.Time) ([]Event, error) {
	peer, err := CheckDirectPeer(actor, other)
	if err != nil {
		return nil, err
	}
	if !exists(peer) {
		return nil, &Error{Code: CodeUserNotFound, Message: "no such user: " + peer, Usernames: []string{peer}}
	}
	id := DirectRoomID(actor, peer)
	return []Event{NewRoom(id).next(0, actor, at, RoomCreated{Name: directName(actor, peer), Members: []string{peer}, Kind: KindDirect})}, nil
}

// ReopenDirect brings back whichever of the pair left the room, so that
// starting a conversation that exists finds both people in it. It returns
// no events when both are there.
func (r *Room) ReopenDirect(actor string, at time.Time) ([]Event, error) {
	if !r.Exists() || r.Kind != KindDirect || !r.inPair(actor) {
		return nil, ErrRoomNotFound
	}
	var events []Event
	for _, u := range r.Pair {
		if _, ok := r.Members[u]; ok {
			continue
		}
		role := RoleMember
		if u == r.Owner {
			role = RoleOwner
		}
		events = append(events, r.next(len(events), actor, at, MemberAdded{Member: u, Role: role}))
	}
	return events, nil
}

func (r *Room) inPair(u string) bool { return r.Pair[0] == u || r.Pair[1] == u }

// PeerOf returns the other person of a direct room, "" for a group.
func (r *Room) PeerOf(u string) string {
	switch {
	case r.Kind != KindDirect:
		return ""
	case r.Pair[0] == u:
		return r.Pair[1]
	default:
		return r.Pair[0]
	}
}

// errDirect refuses what a direct room does not allow.
var errDirect = errorf(CodeForbidden, "a direct conversation cannot be renamed, shared, or deleted, and only each person can leave it")
