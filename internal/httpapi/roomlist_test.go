package httpapi_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// roomPage is a GET /rooms answer, decoded.
type roomPage struct {
	Rooms []struct {
		RoomID string `json:"room_id"`
		Kind   string `json:"kind"`
	} `json:"rooms"`
	Next *string `json:"next"`
}

func (e *env) roomPage(t *testing.T, username, query string) roomPage {
	t.Helper()
	r := e.as(t, username, "list-rooms.json", "", withQuery(query))
	r.wantStatus(t, 200)
	var p roomPage
	r.decode(t, &p)
	return p
}

// storeRooms puts n rooms owned by owner, with member in them, straight in
// the store: their ids do not follow their times, and several share a
// time, so the order by activity and then by id is put to the test. It
// returns the ids in the order GET /rooms must list them.
func (e *env) storeRooms(t *testing.T, owner, member string, n int) []string {
	t.Helper()
	ctx := context.Background()
	var list []store.RoomSummary
	for i := range n {
		id := fmt.Sprintf("01JD8R%020d", (i*7919)%100003)
		// Three rooms at each time, the times apart by less than a second
		// and more than the stores' millisecond.
		at := t0.Add(time.Duration(i/3) * 1234567 * time.Microsecond)
		events, err := chat.CreateRoom(id, owner, fmt.Sprint("room ", i), []string{member}, func(string) bool { return true }, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.raw.Append(ctx, store.AppendRequest{RoomID: id, Events: events}); err != nil {
			t.Fatal(err)
		}
		list = append(list, store.RoomSummary{RoomID: id, LastActivityAt: at})
	}
	store.SortSummaries(list)
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.RoomID
	}
	return ids
}

// TestListRoomsPages pages through 250 rooms: the default page, pages of
// several sizes followed by their cursors, every room once, in order.
func TestListRoomsPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob")
		want := e.storeRooms(t, "alice", "bob", 250)
		ids := func(p roomPage) []string {
			var out []string
			for _, r := range p.Rooms {
				if r.Kind != "group" {
					t.Fatalf("room %s has kind %q, want group", r.RoomID, r.Kind)
				}
				out = append(out, r.RoomID)
			}
			return out
		}

		// No parameters: the first 100 and where to go on.
		first := e.roomPage(t, "bob", "")
		if got := ids(first); !slices.Equal(got, want[:100]) || first.Next == nil {
			t.Fatalf("GET /rooms gave %d rooms (next %v), want the first 100 of %d and a next", len(got), first.Next, len(want))
		}
		// The file asks for two.
		if p := e.roomPage(t, "bob", "limit=2"); !slices.Equal(ids(p), want[:2]) || p.Next == nil {
			t.Fatalf("limit=2: %q, next %v", ids(p), p.Next)
		}

		for _, limit := range []int{100, 7, 83, 125, 200} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				var got []string
				query := fmt.Sprintf("limit=%d", limit)
				for pages := 1; ; pages++ {
					p := e.roomPage(t, "bob", query)
					page := ids(p)
					if len(page) > limit || (p.Next != nil && len(page) != limit) {
						t.Fatalf("page %d holds %d rooms (limit %d, next %v)", pages, len(page), limit, p.Next)
					}
					got = append(got, page...)
					if p.Next == nil {
						break
					}
					if pages > len(want) {
						t.Fatal("the pages never end")
					}
					query = fmt.Sprintf("limit=%d&cursor=%s", limit, *p.Next)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("paging with limit %d gave %d rooms, want each of the %d once in order:\ngot  %q\nwant %q", limit, len(got), len(want), got, want)
				}
			})
		}

		// The same pages for the owner, who sees the rooms as owner; and
		// nobody else's rooms leak into either list.
		e.signup(t, "carol")
		if p := e.roomPage(t, "carol", ""); len(p.Rooms) != 0 || p.Next != nil {
			t.Fatalf("carol's list: %+v", p)
		}
		if p := e.roomPage(t, "alice", "limit=200&cursor="+*first.Next); !slices.Equal(ids(p), want[100:]) || p.Next != nil {
			t.Fatalf("alice's page after bob's cursor: %d rooms, next %v", len(p.Rooms), p.Next)
		}
	})
}

// TestListRoomsBadQuery: a limit or cursor GET /rooms never gave out is
// 400 invalid_query, after authentication.
func TestListRoomsBadQuery(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.signup(t, "alice", "bob")
		e.createRoom(t, "alice", "one", "bob")
		e.createRoom(t, "alice", "two", "bob")
		cursor := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		good := e.roomPage(t, "alice", "limit=1")
		if good.Next == nil {
			t.Fatal("no next after the first of two rooms")
		}
		for _, c := range []struct {
			name  string
			query string
		}{
			{"limit 0", "limit=0"},
			{"limit 201", "limit=201"},
			{"limit -1", "limit=-1"},
			{"limit x", "limit=x"},
			{"limit empty", "limit="},
			{"limit 1.5", "limit=1.5"},
			{"limit with a tail", "limit=100abc"},
			{"limit huge", "limit=99999999999999999999"},
			{"limit given twice", "limit=10&limit=20"},
			{"cursor empty", "cursor="},
			{"cursor not base64", "cursor=!!!!"},
			{"cursor padded", "cursor=" + strings.TrimRight(*good.Next, "=") + "=="},
			{"cursor of one character", "cursor=x"},
			{"cursor without a room", "cursor=" + cursor("2026-11-21T10:00:00Z")},
			{"cursor with an empty room", "cursor=" + cursor("2026-11-21T10:00:00Z ")},
			{"cursor with a bad time", "cursor=" + cursor("yesterday 01JD8Q00000000000000000001")},
			{"cursor with a control character", "cursor=" + cursor("2026-11-21T10:00:00Z 01JD\x07")},
			{"cursor too long", "cursor=" + cursor("2026-11-21T10:00:00Z "+strings.Repeat("A", 300))},
			{"cursor given twice", "cursor=" + *good.Next + "&cursor=" + *good.Next},
			{"a good cursor and a bad limit", "limit=0&cursor=" + *good.Next},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.as(t, "alice", "list-rooms.json", "", withQuery(c.query)).wantError(t, 400, "invalid_query")
				e.send(t, "rooms", "list-rooms.json", "", "", withQuery(c.query)).wantError(t, 401, "unauthenticated")
			})
		}
		// A well-formed cursor of a room that is gone, or never was, still
		// places the page.
		if p := e.roomPage(t, "alice", "cursor="+cursor("2000-01-01T00:00:00Z 01JD8QZZZZZZZZZZZZZZZZZZZZ")); len(p.Rooms) != 0 || p.Next != nil {
			t.Fatalf("after a position older than every room: %+v", p)
		}
		if p := e.roomPage(t, "alice", "cursor="+cursor("2999-01-01T00:00:00Z x")); len(p.Rooms) != 2 || p.Next != nil {
			t.Fatalf("after a position newer than every room: %+v", p)
		}
	})
}
