package emulator_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestBlocksAndRoomPages: the blocking routes and the paged room list as
// the emulator serves them from template.yaml, over real HTTP, on each
// store.
func TestBlocksAndRoomPages(t *testing.T) {
	for name, opts := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := start(t, opts(t))
			alice, bob := signup(t, e, "alice"), signup(t, e, "bob")

			if status, body := alice.do("POST", "/me/blocks", map[string]string{"username": "bob"}); status != http.StatusNoContent {
				t.Fatalf("alice blocks bob: %d %v", status, body)
			}
			if status, body := alice.do("GET", "/me/blocks", nil); status != http.StatusOK || !slices.Equal(names(body["usernames"]), []string{"bob"}) {
				t.Fatalf("GET /me/blocks: %d %v", status, body)
			}
			status, body := bob.do("POST", "/rooms", map[string]any{"name": "r", "members": []string{"alice"}})
			if detail, _ := body["error"].(map[string]any); status != http.StatusNotFound || detail["code"] != "user_not_found" {
				t.Fatalf("bob creates a room with alice: %d %v", status, body)
			}

			var made []string
			for _, n := range []string{"one", "two", "three"} {
				status, room := bob.do("POST", "/rooms", map[string]any{"name": n})
				if status != http.StatusCreated {
					t.Fatalf("create %s: %d %v", n, status, room)
				}
				made = append(made, room["room_id"].(string))
			}
			var listed []string
			query := "?limit=2"
			for {
				status, page := bob.do("GET", "/rooms"+query, nil)
				if status != http.StatusOK {
					t.Fatalf("GET /rooms%s: %d %v", query, status, page)
				}
				for _, r := range page["rooms"].([]any) {
					listed = append(listed, r.(map[string]any)["room_id"].(string))
				}
				next, ok := page["next"].(string)
				if !ok {
					if page["next"] != nil {
						t.Fatalf("next is %v, want a string or null", page["next"])
					}
					break
				}
				query = "?limit=2&cursor=" + url.QueryEscape(next)
			}
			slices.Sort(listed)
			slices.Sort(made)
			if !slices.Equal(listed, made) {
				t.Fatalf("the pages listed %q, want %q", listed, made)
			}
			if status, body := bob.do("GET", "/rooms?limit=0", nil); status != http.StatusBadRequest {
				t.Fatalf("GET /rooms?limit=0: %d %v", status, body)
			}

			if status, body := alice.do("DELETE", "/me/blocks/bob", nil); status != http.StatusNoContent {
				t.Fatalf("alice unblocks bob: %d %v", status, body)
			}
			if status, body := bob.do("POST", "/rooms/"+made[0]+"/members", map[string]any{"usernames": []string{"alice"}}); status != http.StatusOK {
				t.Fatalf("bob adds alice after the unblock: %d %v", status, body)
			}
		})
	}
}

func names(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
