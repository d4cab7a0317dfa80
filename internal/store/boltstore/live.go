package boltstore

import (
	"sync"
	"time"

	"github.com/chatroom/chat/internal/store"
)

// live holds what dies with the process: open connections, their
// presence in rooms, the links from sessions to connections, and the rate
// counters. None of it means anything after a restart (every socket is
// gone then), so it lives in memory instead of the file, and joining,
// leaving or sending costs no synchronous write to disk for it.
type live struct {
	mu           sync.RWMutex
	conns        map[string]store.Connection
	sessionConns map[string]map[string]struct{}       // session hash -> connection ids
	userConns    map[string]map[string]struct{}       // username -> connection ids
	tickets      map[string]store.Ticket              // ticket hash -> ticket
	connRooms    map[string]map[string]struct{}       // connection id -> room ids
	presence     map[string]map[string]store.Presence // room id -> connection id -> presence
	counters     map[string]counterValue
	// increments counts counter writes since the last sweep of expired
	// counters, which keeps the map as small as the counters in use;
	// ticketsIssued does the same for tickets.
	increments    int
	ticketsIssued int
}

// sweepEvery is how many counter increments pass between sweeps.
const sweepEvery = 4096

func newLive() *live {
	return &live{
		conns:        map[string]store.Connection{},
		sessionConns: map[string]map[string]struct{}{},
		userConns:    map[string]map[string]struct{}{},
		tickets:      map[string]store.Ticket{},
		connRooms:    map[string]map[string]struct{}{},
		presence:     map[string]map[string]store.Presence{},
		counters:     map[string]counterValue{},
	}
}

func addTo[V any](m map[string]map[string]V, outer, inner string, v V) {
	in, ok := m[outer]
	if !ok {
		in = map[string]V{}
		m[outer] = in
	}
	in[inner] = v
}

func deleteFrom[V any](m map[string]map[string]V, outer, inner string) {
	if in, ok := m[outer]; ok {
		delete(in, inner)
		if len(in) == 0 {
			delete(m, outer)
		}
	}
}

// putConnection records c if sessionLive still says yes under the lock
// that SessionConnections takes too: a logout that deleted the session
// before that check lists no connection it misses, and one that deleted it
// after finds this one.
func (l *live) putConnection(c store.Connection, maxPerUser int, sessionLive func() (bool, error)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok, err := sessionLive(); err != nil {
		return err
	} else if !ok {
		return store.ErrNotFound
	}
	// Connections past their expiry, whose $disconnect never came, count
	// for nothing: drop them before counting.
	now := time.Now()
	for id := range l.userConns[c.Username] {
		if old, ok := l.conns[id]; ok && expired(old.ExpiresAt, now) {
			l.deleteLocked(id)
		}
	}
	if _, reopened := l.userConns[c.Username][c.ID]; !reopened && maxPerUser > 0 && len(l.userConns[c.Username]) >= maxPerUser {
		return store.ErrLimit
	}
	l.conns[c.ID] = c
	addTo(l.sessionConns, c.SessionHash, c.ID, struct{}{})
	addTo(l.userConns, c.Username, c.ID, struct{}{})
	return nil
}

// expired reports whether an item that lives until expiresAt is past it:
// like DynamoDB's TTL, which may keep such an item for a while, every read
// treats it as gone. A zero expiry never passes.
func expired(expiresAt, now time.Time) bool {
	return !expiresAt.IsZero() && !now.Before(expiresAt)
}

func (l *live) connection(id string) (store.Connection, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	c, ok := l.conns[id]
	if !ok || expired(c.ExpiresAt, time.Now()) {
		return store.Connection{}, false
	}
	return c, true
}

// liveIDs lists the ids of ids whose connection has not expired at now.
func (l *live) liveIDs(ids map[string]struct{}, now time.Time) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		if !expired(l.conns[id].ExpiresAt, now) {
			out = append(out, id)
		}
	}
	return out
}

func (l *live) deleteConnection(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deleteLocked(id)
}

// deleteLocked forgets a connection with its presence; l.mu is held.
func (l *live) deleteLocked(id string) {
	if c, ok := l.conns[id]; ok {
		deleteFrom(l.sessionConns, c.SessionHash, id)
		deleteFrom(l.userConns, c.Username, id)
	}
	for roomID := range l.connRooms[id] {
		deleteFrom(l.presence, roomID, id)
	}
	delete(l.connRooms, id)
	delete(l.conns, id)
}

func (l *live) sessionConnections(sessionHash string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.liveIDs(l.sessionConns[sessionHash], time.Now())
}

func (l *live) connectionRooms(id string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	now := time.Now()
	out := make([]string, 0, len(l.connRooms[id]))
	for roomID := range l.connRooms[id] {
		if p, ok := l.presence[roomID][id]; ok && !expired(p.ExpiresAt, now) {
			out = append(out, roomID)
		}
	}
	return out
}

func (l *live) roomConnections(roomID string) []store.Presence {
	l.mu.RLock()
	defer l.mu.RUnlock()
	in := l.presence[roomID]
	now := time.Now()
	out := make([]store.Presence, 0, len(in))
	for _, p := range in {
		if !expired(p.ExpiresAt, now) {
			out = append(out, p)
		}
	}
	return out
}

func (l *live) join(roomID string, p store.Presence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	addTo(l.presence, roomID, p.ConnectionID, p)
	addTo(l.connRooms, p.ConnectionID, roomID, struct{}{})
}

// takePresence removes the connection from the room and returns what it
// held, or false when it was not there: one leave wins however many race.
func (l *live) takePresence(roomID, connectionID string) (store.Presence, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.presence[roomID][connectionID]
	if ok {
		deleteFrom(l.presence, roomID, connectionID)
		deleteFrom(l.connRooms, connectionID, roomID)
	}
	return p, ok
}

// restorePresence undoes takePresence after the leave failed to append,
// unless the connection went meanwhile.
func (l *live) restorePresence(roomID string, p store.Presence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, open := l.conns[p.ConnectionID]; open {
		addTo(l.presence, roomID, p.ConnectionID, p)
		addTo(l.connRooms, p.ConnectionID, roomID, struct{}{})
	}
}

func (l *live) removePresence(roomID string, connectionIDs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range connectionIDs {
		deleteFrom(l.presence, roomID, id)
		deleteFrom(l.connRooms, id, roomID)
	}
}

func (l *live) incrementCounter(name string, expiresAt, now time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.increments++; l.increments >= sweepEvery {
		l.increments = 0
		sweepExpired(l.counters, now, func(v counterValue) time.Time { return v.ExpiresAt })
	}
	v := l.counters[name]
	if !now.Before(v.ExpiresAt) {
		v.Count = 0
	}
	v.Count++
	v.ExpiresAt = expiresAt
	l.counters[name] = v
	return v.Count
}

// sweepExpired deletes the entries whose expiry is not after now.
func sweepExpired[V any](m map[string]V, now time.Time, expiry func(V) time.Time) {
	for k, v := range m {
		if !now.Before(expiry(v)) {
			delete(m, k)
		}
	}
}

func (l *live) counter(name string, now time.Time) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	v := l.counters[name]
	if !now.Before(v.ExpiresAt) {
		return 0
	}
	return v.Count
}

// ticketSweepEvery is how many tickets are issued between sweeps of the
// expired ones: tickets live a minute, so the map holds about a minute of
// them.
const ticketSweepEvery = 1024

func (l *live) createTicket(t store.Ticket, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ticketsIssued++; l.ticketsIssued >= ticketSweepEvery {
		l.ticketsIssued = 0
		sweepExpired(l.tickets, now, func(t store.Ticket) time.Time { return t.ExpiresAt })
	}
	l.tickets[t.Hash] = t
}

func (l *live) takeTicket(hash string) (store.Ticket, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.tickets[hash]
	delete(l.tickets, hash)
	return t, ok
}

func (l *live) userConnections(username string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.liveIDs(l.userConns[username], time.Now())
}

// usersConnections is userConnections for many people under one lock:
// what a room's audience asks for every message. The answer lines up with
// usernames (nil for someone offline), so that the caller needs no map of
// a whole room's members to match them.
func (l *live) usersConnections(usernames []string) [][]string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	now := time.Now()
	out := make([][]string, len(usernames))
	for i, u := range usernames {
		out[i] = l.liveIDs(l.userConns[u], now)
	}
	return out
}
