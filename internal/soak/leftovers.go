package soak

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatroom/chat/internal/store"
)

// ConnectionStore is the part of the store where connections, their links
// to sessions and their presence in rooms live; store.Store provides it.
type ConnectionStore interface {
	Connection(ctx context.Context, connectionID string) (store.Connection, error)
	RoomConnections(ctx context.Context, roomID string) ([]store.Presence, error)
	SessionConnections(ctx context.Context, tokenHash string) ([]string, error)
}

var _ ConnectionStore = (store.Store)(nil)

// ConnectionLister lists the connections open now: the emulator's
// gateway, sampled through the run to learn every connection id.
type ConnectionLister interface {
	ConnectionIDs() []string
}

// Leftovers are the items still in the store once every client has gone.
type Leftovers struct {
	Connections, Presence, SessionLinks int
	Examples                            []string
}

func (l Leftovers) total() int { return l.Connections + l.Presence + l.SessionLinks }

// countLeftovers asks the store, by key and never by scan, for every
// connection item the run may have left: each connection id seen, the
// presence in each room, the connections linked to each session.
func countLeftovers(ctx context.Context, st ConnectionStore, connectionIDs, rooms, tokenHashes []string) (Leftovers, error) {
	var l Leftovers
	example := func(format string, args ...any) {
		if len(l.Examples) < maxExamples {
			l.Examples = append(l.Examples, fmt.Sprintf(format, args...))
		}
	}
	for _, id := range connectionIDs {
		c, err := st.Connection(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return l, fmt.Errorf("soak: connection %s: %w", id, err)
		default:
			l.Connections++
			example("connection %s of %s, connected at %s, is still stored", id, c.Username, c.ConnectedAt.Format("15:04:05.000"))
		}
	}
	for _, room := range rooms {
		present, err := st.RoomConnections(ctx, room)
		if err != nil {
			return l, fmt.Errorf("soak: connections of room %s: %w", room, err)
		}
		l.Presence += len(present)
		for _, p := range present {
			example("room %s still lists connection %s of %s", room, p.ConnectionID, p.Username)
		}
	}
	for _, hash := range tokenHashes {
		ids, err := st.SessionConnections(ctx, hash)
		if err != nil {
			return l, fmt.Errorf("soak: connections of a session: %w", err)
		}
		l.SessionLinks += len(ids)
		for _, id := range ids {
			example("a session still links connection %s", id)
		}
	}
	return l, nil
}
