package wsapi

import (
	"sync"
	"time"

	"github.com/chatroom/chat/internal/store"
)

// MaxCachedConnections bounds the connections a process remembers between
// frames; past it the oldest is forgotten.
const MaxCachedConnections = 4096

// connCache remembers who holds each connection, which never changes for
// the connection's life, so that a busy socket's messages do not each read
// its connection item. Only send_message consults it: the room's roster,
// read consistently with every message, is what says the connection is
// still in the room, and a connection deleted since is not there. A
// connection that expired is read again.
type connCache struct {
	mu    sync.Mutex
	byID  map[string]store.Connection
	order []string // insertion order, a ring of MaxCachedConnections
	next  int
}

func newConnCache() *connCache {
	return &connCache{byID: make(map[string]store.Connection, MaxCachedConnections)}
}

func (c *connCache) get(id string, now time.Time) (store.Connection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn, ok := c.byID[id]
	if ok && !conn.ExpiresAt.IsZero() && !now.Before(conn.ExpiresAt) {
		delete(c.byID, id)
		return store.Connection{}, false
	}
	return conn, ok
}

func (c *connCache) put(conn store.Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[conn.ID]; ok {
		return
	}
	if len(c.order) < MaxCachedConnections {
		c.order = append(c.order, conn.ID)
	} else {
		delete(c.byID, c.order[c.next])
		c.order[c.next] = conn.ID
		c.next = (c.next + 1) % MaxCachedConnections
	}
	c.byID[conn.ID] = conn
}

func (c *connCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byID, id)
}
