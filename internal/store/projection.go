package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chatroom/chat/internal/chat"
)

// MaxPageSize bounds one read of a stream.
const MaxPageSize = 1000

// MemberChange is one row of the members projection to write or delete.
type MemberChange struct {
	Username string
	Role     chat.Role
	Removed  bool
}

// MemberChanges returns the members projection rows an event writes. A
// room_deleted removes every member; adapters expand it from what they hold,
// so it yields nothing here.
func MemberChanges(e chat.Event) []MemberChange {
	switch d := e.Data.(type) {
	case chat.RoomCreated:
		out := make([]MemberChange, 0, len(d.Members)+1)
		out = append(out, MemberChange{Username: e.Username, Role: chat.RoleOwner})
		for _, m := range d.Members {
			if m != e.Username {
				out = append(out, MemberChange{Username: m, Role: chat.RoleMember})
			}
		}
		return out
	case chat.MemberAdded:
		return []MemberChange{{Username: d.Member, Role: d.Role}}
	case chat.MemberRemoved:
		return []MemberChange{{Username: d.Member, Removed: true}}
	}
	return nil
}

// CheckAppend refuses a malformed append before any adapter touches storage.
func CheckAppend(req AppendRequest) error {
	var errs []error
	if req.RoomID == "" {
		errs = append(errs, errors.New("no room id"))
	}
	if len(req.Events) == 0 {
		errs = append(errs, errors.New("no events"))
	}
	if req.ExpectedVersion < 0 {
		errs = append(errs, fmt.Errorf("negative expected version %d", req.ExpectedVersion))
	}
	for i, e := range req.Events {
		if want := req.ExpectedVersion + int64(i) + 1; e.Seq != want {
			errs = append(errs, fmt.Errorf("event %d has seq %d, want %d", i, e.Seq, want))
		}
		if e.Data == nil {
			errs = append(errs, fmt.Errorf("event %d has no data", i))
		} else if (e.Seq == 1) != (e.Type() == chat.TypeRoomCreated) {
			errs = append(errs, fmt.Errorf("event %d is %s at seq %d: seq 1 and only seq 1 is room_created", i, e.Type(), e.Seq))
		}
		if e.RoomID != "" && e.RoomID != req.RoomID {
			errs = append(errs, fmt.Errorf("event %d belongs to room %s", i, e.RoomID))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: bad append to room %q: %w", req.RoomID, err)
	}
	return nil
}

// CheckLimit refuses a page size outside 1 to MaxPageSize.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxPageSize {
		return fmt.Errorf("store: page limit %d outside 1 to %d", limit, MaxPageSize)
	}
	return nil
}

// SortSummaries orders a room list newest activity first, then by id so
// the order is stable.
func SortSummaries(rooms []RoomSummary) {
	slices.SortFunc(rooms, CompareSummaries)
}

// CompareSummaries is the order of a room list: newest activity first,
// then by id. Only those two fields count, so a page of the list can say
// where it ended with them alone.
func CompareSummaries(a, b RoomSummary) int {
	if c := b.LastActivityAt.Compare(a.LastActivityAt); c != 0 {
		return c
	}
	return strings.Compare(a.RoomID, b.RoomID)
}
