package chat

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a member's standing in a room.
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// CanManage reports whether the role may rename the room and add or remove
// people.
func (r Role) CanManage() bool { return r == RoleOwner || r == RoleAdmin }

// Member is a person in a room with their role.
type Member struct {
	Username string `json:"username"`
	Role     Role   `json:"role"`
}

// Room is the state of one room: what a replay of its stream gives, and what
// the store's projections hold. The zero Version means the room does not
// exist yet.
type Room struct {
	ID             string
	Name           string
	Owner          string
	CreatedAt      time.Time
	LastActivityAt time.Time
	Members        map[string]Role
	// Version is the seq of the last event applied.
	Version int64
	Deleted bool
	// Kind is KindDirect or empty for a group (KindOf); Pair holds the two people of a
	// direct room, its creator first, whether or not they are still in it.
	Kind RoomKind
	Pair [2]string
	// Messages counts the room's message_sent events: unread counts are
	// differences of it.
	Messages int64
}

// NewRoom returns the state of a room before its first event.
func NewRoom(id string) *Room { return &Room{ID: id, Members: map[string]Role{}} }

// Replay folds a stream, oldest first, into the room's state.
func Replay(id string, events []Event) (*Room, error) {
	r := NewRoom(id)
	for _, e := range events {
		if err := r.Apply(e); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Apply folds one event into the state. The event must be the next in the
// stream.
func (r *Room) Apply(e Event) error {
	if e.Data == nil {
		return fmt.Errorf("chat: room %s: event %d has no data", r.ID, e.Seq)
	}
	if e.Seq != r.Version+1 {
		return fmt.Errorf("chat: room %s: event seq %d does not follow version %d", r.ID, e.Seq, r.Version)
	}
	if r.Deleted {
		return fmt.Errorf("chat: room %s: event %d after room_deleted", r.ID, e.Seq)
	}
	if (r.Version == 0) != (e.Type() == TypeRoomCreated) {
		return fmt.Errorf("chat: room %s: seq 1 and only seq 1 is room_created, got %s at %d", r.ID, e.Type(), e.Seq)
	}
	if r.Members == nil {
		r.Members = map[string]Role{}
	}
	switch d := e.Data.(type) {
	case RoomCreated:
		r.Name, r.Owner, r.CreatedAt = d.Name, e.Username, e.At
		if d.Kind == KindDirect {
			if len(d.Members) != 1 || d.Members[0] == e.Username {
				return fmt.Errorf("chat: room %s: a direct room is created with exactly one other person", r.ID)
			}
			r.Kind, r.Pair = KindDirect, [2]string{e.Username, d.Members[0]}
		}
		r.Members[e.Username] = RoleOwner
		for _, m := range d.Members {
			if m != e.Username {
				r.Members[m] = RoleMember
			}
		}
	case RoomRenamed:
		r.Name = d.Name
	case MemberAdded:
		if r.Kind == KindDirect {
			// Only the pair comes back into a direct room, each with the
			// role they had.
			if !r.inPair(d.Member) || (d.Role == RoleOwner) != (d.Member == r.Owner) {
				return fmt.Errorf("chat: room %s: event %d adds %s to a direct room as %s", r.ID, e.Seq, d.Member, d.Role)
			}
		} else if d.Member == r.Owner || d.Role == RoleOwner {
			return fmt.Errorf("chat: room %s: event %d changes who owns the room", r.ID, e.Seq)
		}
		r.Members[d.Member] = d.Role
	case MemberRemoved:
		if d.Member == r.Owner && (r.Kind != KindDirect || e.Username != d.Member) {
			return fmt.Errorf("chat: room %s: event %d removes the owner", r.ID, e.Seq)
		}
		delete(r.Members, d.Member)
	case RoomDeleted:
		r.Deleted = true
		clear(r.Members)
	case MessageSent:
		r.Messages++
	case UserJoined, UserLeft, MessageEdited, MessageDeleted:
	default:
		return fmt.Errorf("chat: room %s: unknown event data %T", r.ID, e.Data)
	}
	r.Version = e.Seq
	if e.IsActivity() {
		r.LastActivityAt = e.At
	}
	return nil
}

// Exists reports whether the room was created and not deleted.
func (r *Room) Exists() bool { return r.Version > 0 && !r.Deleted }

// RoleOf returns the role of username, and false for a non-member or a room
// that does not exist.
func (r *Room) RoleOf(username string) (Role, bool) {
	if !r.Exists() {
		return "", false
	}
	role, ok := r.Members[username]
	return role, ok
}

// CheckMember answers room_not_found unless username is a member of a live
// room: to an outsider a room they are not in does not exist.
func (r *Room) CheckMember(username string) (Role, error) {
	role, ok := r.RoleOf(username)
	if !ok {
		return "", ErrRoomNotFound
	}
	return role, nil
}

// MemberList returns the members sorted: the owner first, then admins, then
// members, each group by username.
func (r *Room) MemberList() []Member {
	out := make([]Member, 0, len(r.Members))
	for u, role := range r.Members {
		out = append(out, Member{Username: u, Role: role})
	}
	rank := map[Role]int{RoleOwner: 0, RoleAdmin: 1, RoleMember: 2}
	slices.SortFunc(out, func(a, b Member) int {
		if d := rank[a.Role] - rank[b.Role]; d != 0 {
			return d
		}
		return strings.Compare(a.Username, b.Username)
	})
	return out
}

// UserExists tells whether an account exists. Callers look the names up
// before the command and pass the answer in, so the domain stays free of I/O.
type UserExists func(username string) bool

// NormalizeMemberList lower-cases and checks each username, drops repeats
// and refuses lists that add more people than one change may carry.
func NormalizeMemberList(usernames []string) ([]string, error) {
	out, err := normalizeNames(usernames)
	if err != nil {
		return nil, err
	}
	return out, checkChangeSize(out)
}

func normalizeNames(usernames []string) ([]string, error) {
	out := make([]string, 0, min(len(usernames), MaxMembers+1))
	seen := make(map[string]bool, len(usernames))
	for _, raw := range usernames {
		u, err := NormalizeUsername(raw)
		if err != nil {
			return nil, &Error{Code: CodeInvalidUsername, Message: fmt.Sprintf("%q is not a valid username", raw), Usernames: []string{raw}}
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

func checkChangeSize(people []string) error {
	if len(people) > MaxMembersPerChange {
		return errorf(CodeTooManyMembers, "at most %d people can be added at once", MaxMembersPerChange)
	}
	return nil
}

func unknownUsers(usernames []string, exists UserExists) error {
	var unknown []string
	for _, u := range usernames {
		if !exists(u) {
			unknown = append(unknown, u)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return &Error{Code: CodeUserNotFound, Message: "no such user: " + strings.Join(unknown, ", "), Usernames: unknown}
}

// next builds the event that follows the room's version by offset.
func (r *Room) next(offset int, actor string, at time.Time, data EventData) Event {
	return Event{RoomID: r.ID, Seq: r.Version + int64(offset) + 1, Username: actor, At: at.UTC().Truncate(time.Millisecond), Data: data}
}

// CreateRoom opens a room owned by owner with the named people as members.
// The owner may list themself; they stay the owner.
func CreateRoom(id, owner, name string, members []string, exists UserExists, at time.Time) ([]Event, error) {
	name, err := NormalizeRoomName(name)
	if err != nil {
		return nil, err
	}
	members, err = normalizeNames(members)
	if err != nil {
		return nil, err
	}
	members = slices.DeleteFunc(members, func(u string) bool { return u == owner })
	if err := checkChangeSize(members); err != nil {
		return nil, err
	}
	if err := unknownUsers(members, exists); err != nil {
		return nil, err
	}
	return []Event{NewRoom(id).next(0, owner, at, RoomCreated{Name: name, Members: members})}, nil
}

// Rename gives the room a new name. Admins only.
func (r *Room) Rename(actor, name string, at time.Time) ([]Event, error) {
	role, err := r.CheckMember(actor)
	if err != nil {
		return nil, err
	}
	if name, err = NormalizeRoomName(name); err != nil {
		return nil, err
	}
	if r.Kind == KindDirect {
		return nil, errDirect
	}
	if !role.CanManage() {
		return nil, ErrForbidden
	}
	return []Event{r.next(0, actor, at, RoomRenamed{Name: name})}, nil
}

// AddMembers adds people to the room, all or none. With admin set they
// become admins, and existing members are promoted rather than refused;
// people who already hold that role or more change nothing, so the result
// may be no events at all.
func (r *Room) AddMembers(actor string, usernames []string, admin bool, exists UserExists, at time.Time) ([]Event, error) {
	role, err := r.CheckMember(actor)
	if err != nil {
		return nil, err
	}
	if usernames, err = NormalizeMemberList(usernames); err != nil {
		return nil, err
	}
	if r.Kind == KindDirect {
		return nil, errDirect
	}
	if !role.CanManage() {
		return nil, ErrForbidden
	}
	if err := unknownUsers(usernames, exists); err != nil {
		return nil, err
	}
	newRole := RoleMember
	if admin {
		newRole = RoleAdmin
	}
	var already []string
	added := 0
	var events []Event
	for _, u := range usernames {
		current, isMember := r.Members[u]
		switch {
		case !isMember:
			added++
		case !admin:
			already = append(already, u)
			continue
		case current != RoleMember:
			continue // already admin or owner: nothing to promote
		}
		events = append(events, r.next(len(events), actor, at, MemberAdded{Member: u, Role: newRole}))
	}
	if len(already) > 0 {
		return nil, &Error{Code: CodeAlreadyMember, Message: "already a member: " + strings.Join(already, ", "), Usernames: already}
	}
	if len(r.Members)+added > MaxMembers {
		return nil, ErrTooManyMembers
	}
	return events, nil
}

// RemoveMember takes member out of the room. Admins remove others; anyone
// but the owner may remove themself; nobody removes the owner.
func (r *Room) RemoveMember(actor, member string, at time.Time) ([]Event, error) {
	role, err := r.CheckMember(actor)
	if err != nil {
		return nil, err
	}
	target, err := NormalizeUsername(member)
	self := err == nil && target == actor
	if r.Kind == KindDirect {
		if !self {
			return nil, errDirect
		}
		return []Event{r.next(0, actor, at, MemberRemoved{Member: target})}, nil
	}
	if !self && !role.CanManage() {
		return nil, ErrForbidden
	}
	if err == nil && target == r.Owner {
		return nil, errorf(CodeForbidden, "the owner cannot be removed")
	}
	if _, ok := r.Members[target]; err != nil || !ok {
		return nil, &Error{Code: CodeUserNotFound, Message: fmt.Sprintf("%q is not a member of this room", member), Usernames: []string{member}}
	}
	return []Event{r.next(0, actor, at, MemberRemoved{Member: target})}, nil
}

// Delete closes the room for good. Owner only.
func (r *Room) Delete(actor string, at time.Time) ([]Event, error) {
	role, err := r.CheckMember(actor)
	if err != nil {
		return nil, err
	}
	if r.Kind == KindDirect {
		return nil, errDirect
	}
	if role != RoleOwner {
		return nil, errorf(CodeForbidden, "only the owner can delete the room")
	}
	return []Event{r.next(0, actor, at, RoomDeleted{})}, nil
}

// Join records that a member opened the room.
func (r *Room) Join(actor string, at time.Time) ([]Event, error) {
	if _, err := r.CheckMember(actor); err != nil {
		return nil, err
	}
	return []Event{r.next(0, actor, at, UserJoined{})}, nil
}

// Leave records that a member left the room.
func (r *Room) Leave(actor string, at time.Time) ([]Event, error) {
	if _, err := r.CheckMember(actor); err != nil {
		return nil, err
	}
	return []Event{r.next(0, actor, at, UserLeft{})}, nil
}

// SendMessage posts text to the room. messageID is the server's id for it
// (MessageID), clientMsgID the sender's idempotency key. The message
// mentions the members among MentionCandidates(text) that the room holds,
// so callers load those rows.
func (r *Room) SendMessage(actor, messageID, clientMsgID, text string, at time.Time) ([]Event, error) {
	if _, err := r.CheckMember(actor); err != nil {
		return nil, err
	}
	if err := ValidateClientMsgID(clientMsgID); err != nil {
		return nil, err
	}
	text, err := NormalizeMessageText(text)
	if err != nil {
		return nil, err
	}
	return []Event{r.next(0, actor, at, MessageSent{MessageID: messageID, ClientMsgID: clientMsgID, Text: text, Mentions: r.mentionsIn(text)})}, nil
}
