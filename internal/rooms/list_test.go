package rooms_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chatroom/chat/internal/rooms"
)

// TestListPage pages through bob's rooms: every room once, in the order of
// the whole list, however the pages fall; rooms that change meanwhile move
// to the top without disturbing the others.
func TestListPage(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		var ids []string
		for i := range 23 {
			r, err := f.svc.Create(f.ctx, "alice", fmt.Sprint("room ", i), []string{"bob"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.ID)
		}
		all, err := f.svc.List(f.ctx, "bob")
		if err != nil || len(all) != len(ids) {
			t.Fatalf("List(bob): %d rooms, %v", len(all), err)
		}
		var want []string
		for _, r := range all {
			want = append(want, r.RoomID)
		}
		pageThrough := func(t *testing.T, limit int, between func(page int)) []string {
			t.Helper()
			var got []string
			q := rooms.ListQuery{Limit: limit}
			for page := 0; ; page++ {
				p, err := f.svc.ListPage(f.ctx, "bob", q)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Rooms) > limit || (p.Next != nil && len(p.Rooms) != limit) {
					t.Fatalf("page %d has %d rooms (limit %d, more to come: %v)", page, len(p.Rooms), limit, p.Next != nil)
				}
				for _, r := range p.Rooms {
					got = append(got, r.RoomID)
				}
				if p.Next == nil {
					return got
				}
				if between != nil {
					between(page)
				}
				q.After = p.Next
			}
		}
		for _, limit := range []int{1, 5, 22, 23, 24, 100} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				if got := pageThrough(t, limit, nil); !slices.Equal(got, want) {
					t.Fatalf("pages gave %q\nwant %q", got, want)
				}
			})
		}

		// While bob pages, alice renames a room he has not reached yet and
		// one he has seen: both jump to the top, so he sees the first on
		// the next look and neither twice, and every room that did not
		// change shows exactly once.
		unseen, seen := want[len(want)-1], want[0]
		got := pageThrough(t, 10, func(page int) {
			if page != 0 {
				return
			}
			for _, id := range []string{unseen, seen} {
				c, err := f.svc.Rename(f.ctx, "alice", id, "renamed")
				if err != nil {
					t.Fatal(err)
				}
				c.Delivery.Done()
			}
		})
		var unchanged []string
		for _, id := range want {
			if id != unseen {
				unchanged = append(unchanged, id)
			}
		}
		if !slices.Equal(got, unchanged) {
			t.Fatalf("paging while rooms changed gave %q\nwant every unchanged room once, in order: %q", got, unchanged)
		}

		// A position that is not in the list (the room was deleted, or
		// bob left it) still places the next page.
		// Every room has a time of its own, so this sorts between now[4]
		// and now[5].
		now, err := f.svc.List(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.ListPage(f.ctx, "bob", rooms.ListQuery{Limit: 3, After: &rooms.ListPosition{LastActivityAt: now[4].LastActivityAt, RoomID: now[4].RoomID + "0"}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Rooms, now[5:8]) || p.Next == nil || p.Next.RoomID != now[7].RoomID {
			t.Fatalf("the page after a position between two rooms: %+v\nwant %+v", p, now[5:8])
		}
		if _, err := f.svc.ListPage(f.ctx, "bob", rooms.ListQuery{}); err == nil {
			t.Fatal("a page of no rooms was accepted")
		}
		empty, err := f.svc.ListPage(f.ctx, "mallory", rooms.ListQuery{Limit: 10})
		if err != nil || len(empty.Rooms) != 0 || empty.Next != nil {
			t.Fatalf("mallory's list: %+v, %v", empty, err)
		}
	})
}
