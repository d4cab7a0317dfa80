package rooms

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chatroom/chat/internal/store"
)

// ListPosition is a place in a room list: the last room of a page, after
// which the next page begins. The list's order (store.CompareSummaries)
// depends on these two fields alone, so a room that does not change while
// someone pages keeps its place and is neither repeated nor skipped; a
// room with new activity moves to the top, where the next look at the
// first page finds it.
type ListPosition struct {
	LastActivityAt time.Time
	RoomID         string
}

// ListQuery asks for one page of a room list: up to Limit rooms after
// After (nil: from the top).
type ListQuery struct {
	After *ListPosition
	Limit int
}

// RoomPage is one page of a room list. Next is where the following page
// begins, nil on the last one.
type RoomPage struct {
	Rooms []store.RoomSummary
	Next  *ListPosition
}

// ListPage returns one page of the rooms actor is in, newest activity
// first. The answer is bounded by the page; the read is not: ordering by
// activity needs every room's head, which the store reads in batches.
func (s *Service) ListPage(ctx context.Context, actor string, q ListQuery) (RoomPage, error) {
	if q.Limit < 1 {
		return RoomPage{}, errors.New("rooms: a room list page holds at least one room")
	}
	all, err := s.List(ctx, actor)
	if err != nil {
		return RoomPage{}, err
	}
	start := 0
	if q.After != nil {
		at := store.RoomSummary{RoomID: q.After.RoomID, LastActivityAt: q.After.LastActivityAt}
		var found bool
		start, found = slices.BinarySearchFunc(all, at, store.CompareSummaries)
		if found {
			start++ // the page's last room was shown with it
		}
	}
	end := min(start+q.Limit, len(all))
	page := RoomPage{Rooms: all[start:end]}
	if end < len(all) {
		last := all[end-1]
		page.Next = &ListPosition{LastActivityAt: last.LastActivityAt, RoomID: last.RoomID}
	}
	return page, nil
}
