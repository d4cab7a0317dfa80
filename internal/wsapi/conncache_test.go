package wsapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/store"
)

func TestConnCache(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		fill   func(c *connCache)
		ask    string
		at     time.Time
		wantOK bool
	}{
		{"remembered", func(c *connCache) { c.put(store.Connection{ID: "a", Username: "alice", ExpiresAt: now.Add(time.Hour)}) }, "a", now, true},
		{"never seen", func(c *connCache) {}, "a", now, false},
		{"expired is read again", func(c *connCache) { c.put(store.Connection{ID: "a", ExpiresAt: now.Add(time.Minute)}) }, "a", now.Add(time.Minute), false},
		{"forgotten on disconnect", func(c *connCache) {
			c.put(store.Connection{ID: "a", ExpiresAt: now.Add(time.Hour)})
			c.forget("a")
		}, "a", now, false},
		{"the oldest goes past the bound", func(c *connCache) {
			for i := range MaxCachedConnections + 1 {
				c.put(store.Connection{ID: fmt.Sprint(i), ExpiresAt: now.Add(time.Hour)})
			}
		}, "0", now, false},
		{"the newest stays past the bound", func(c *connCache) {
			for i := range MaxCachedConnections + 1 {
				c.put(store.Connection{ID: fmt.Sprint(i), ExpiresAt: now.Add(time.Hour)})
			}
		}, fmt.Sprint(MaxCachedConnections), now, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConnCache()
			tc.fill(c)
			if _, ok := c.get(tc.ask, tc.at); ok != tc.wantOK {
				t.Errorf("get(%s) found = %v, want %v", tc.ask, ok, tc.wantOK)
			}
			if len(c.byID) > MaxCachedConnections {
				t.Errorf("cache holds %d, bound %d", len(c.byID), MaxCachedConnections)
			}
		})
	}
}
