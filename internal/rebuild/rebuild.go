// Package rebuild replays every room stream and compares the result with
// the store's projections: the room head and members, and each user's list
// of rooms. It reports every difference and, when asked, repairs it by
// writing the replayed state over the projection.
//
// Projections are written in the same atomic write as the events, so in
// normal operation there is nothing to find; this is the check that says
// so, and the way back after a bug or a hand edit.
package rebuild

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// Store is what the rebuild needs of an adapter: its reads, plus listing
// every stream and account and overwriting one room's projection.
type Store interface {
	RoomIDs(ctx context.Context) ([]string, error)
	Usernames(ctx context.Context) ([]string, error)
	ReadForward(ctx context.Context, roomID string, afterSeq int64, limit int) (store.Page, error)
	Room(ctx context.Context, roomID string) (*chat.Room, error)
	RoomsOf(ctx context.Context, username string) ([]store.RoomSummary, error)
	ReplaceProjection(ctx context.Context, r *chat.Room) error
}

// Difference is one projection that does not equal the replay.
type Difference struct {
	RoomID   string
	Username string // set for a user's room list
	Detail   string
}

func (d Difference) String() string {
	if d.Username != "" {
		return fmt.Sprintf("user %s: %s", d.Username, d.Detail)
	}
	return fmt.Sprintf("room %s: %s", d.RoomID, d.Detail)
}

// Report is the outcome of a run.
type Report struct {
	Rooms       int
	Events      int
	Users       int
	Differences []Difference
	Repaired    int
}

const pageSize = 500

// Run replays every stream and compares. With repair set it overwrites each
// room whose projection differs, and then checks again.
func Run(ctx context.Context, s Store, repair bool) (Report, error) {
	var rep Report
	ids, err := s.RoomIDs(ctx)
	if err != nil {
		return rep, fmt.Errorf("rebuild: list rooms: %w", err)
	}
	slices.Sort(ids)
	replayed := make(map[string]*chat.Room, len(ids))
	broken := map[string]bool{}
	for _, id := range ids {
		r, n, err := replay(ctx, s, id)
		if err != nil {
			return rep, err
		}
		rep.Rooms++
		rep.Events += n
		replayed[id] = r
		stored, err := s.Room(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return rep, fmt.Errorf("rebuild: read room %s: %w", id, err)
		}
		if d := diffRoom(r, stored); d != "" {
			rep.Differences = append(rep.Differences, Difference{RoomID: id, Detail: d})
			broken[id] = true
		}
	}
	users, err := s.Usernames(ctx)
	if err != nil {
		return rep, fmt.Errorf("rebuild: list users: %w", err)
	}
	slices.Sort(users)
	for _, u := range users {
		rep.Users++
		diffs, err := diffUserRooms(ctx, s, u, replayed)
		if err != nil {
			return rep, err
		}
		for _, d := range diffs {
			rep.Differences = append(rep.Differences, d)
			broken[d.RoomID] = true
		}
	}
	if !repair || len(broken) == 0 {
		return rep, nil
	}
	for _, id := range slices.Sorted(maps.Keys(broken)) {
		r := replayed[id]
		if r == nil {
			// The index names a room with no stream at all: replace it
			// with the empty, deleted state so nobody is listed in it.
			r = chat.NewRoom(id)
			r.Deleted = true
		}
		if err := s.ReplaceProjection(ctx, r); err != nil {
			return rep, fmt.Errorf("rebuild: repair room %s: %w", id, err)
		}
		rep.Repaired++
	}
	after, err := Run(ctx, s, false)
	if err != nil {
		return rep, err
	}
	if len(after.Differences) > 0 {
		return rep, fmt.Errorf("rebuild: %d differences remain after repair, first: %s", len(after.Differences), after.Differences[0])
	}
	return rep, nil
}

func replay(ctx context.Context, s Store, id string) (*chat.Room, int, error) {
	r := chat.NewRoom(id)
	n := 0
	var after int64
	for {
		page, err := s.ReadForward(ctx, id, after, pageSize)
		if err != nil {
			return nil, 0, fmt.Errorf("rebuild: read room %s: %w", id, err)
		}
		for _, e := range page.Events {
			if err := r.Apply(e); err != nil {
				return nil, 0, fmt.Errorf("rebuild: replay: %w", err)
			}
			n++
		}
		if !page.HasMore {
			return r, n, nil
		}
		after = page.Events[len(page.Events)-1].Seq
	}
}

func diffRoom(want, got *chat.Room) string {
	if got == nil {
		return "no projection"
	}
	var d []string
	if want.Name != got.Name {
		d = append(d, fmt.Sprintf("name %q, replay says %q", got.Name, want.Name))
	}
	if want.Owner != got.Owner {
		d = append(d, fmt.Sprintf("owner %q, replay says %q", got.Owner, want.Owner))
	}
	if want.Version != got.Version {
		d = append(d, fmt.Sprintf("version %d, replay says %d", got.Version, want.Version))
	}
	if want.Deleted != got.Deleted {
		d = append(d, fmt.Sprintf("deleted %v, replay says %v", got.Deleted, want.Deleted))
	}
	if want.KindOf() != got.KindOf() || want.Pair != got.Pair {
		d = append(d, fmt.Sprintf("kind %q of %v, replay says %q of %v", got.KindOf(), got.Pair, want.KindOf(), want.Pair))
	}
	if want.Messages != got.Messages {
		d = append(d, fmt.Sprintf("%d messages, replay says %d", got.Messages, want.Messages))
	}
	if !want.CreatedAt.Equal(got.CreatedAt) || !want.LastActivityAt.Equal(got.LastActivityAt) {
		d = append(d, "times differ")
	}
	for u, role := range want.Members {
		if got.Members[u] != role {
			d = append(d, fmt.Sprintf("member %s is %q, replay says %q", u, got.Members[u], role))
		}
	}
	for u := range got.Members {
		if _, ok := want.Members[u]; !ok {
			d = append(d, fmt.Sprintf("%s is listed as a member, replay says not", u))
		}
	}
	return strings.Join(d, "; ")
}

func diffUserRooms(ctx context.Context, s Store, username string, replayed map[string]*chat.Room) ([]Difference, error) {
	listed, err := s.RoomsOf(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("rebuild: rooms of %s: %w", username, err)
	}
	var diffs []Difference
	seen := map[string]bool{}
	for _, sum := range listed {
		seen[sum.RoomID] = true
		r := replayed[sum.RoomID]
		if r == nil {
			diffs = append(diffs, Difference{RoomID: sum.RoomID, Username: username, Detail: "lists room " + sum.RoomID + ", which has no stream"})
			continue
		}
		role, ok := r.RoleOf(username)
		switch {
		case !ok:
			diffs = append(diffs, Difference{RoomID: sum.RoomID, Username: username, Detail: "lists room " + sum.RoomID + ", replay says not a member"})
		case role != sum.Role:
			diffs = append(diffs, Difference{RoomID: sum.RoomID, Username: username, Detail: fmt.Sprintf("role in %s is %q, replay says %q", sum.RoomID, sum.Role, role)})
		}
	}
	for id, r := range replayed {
		if _, ok := r.RoleOf(username); ok && !seen[id] {
			diffs = append(diffs, Difference{RoomID: id, Username: username, Detail: "does not list room " + id + ", replay says member"})
		}
	}
	slices.SortFunc(diffs, func(a, b Difference) int { return strings.Compare(a.Detail, b.Detail) })
	return diffs, nil
}
