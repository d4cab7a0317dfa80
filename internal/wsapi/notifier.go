package wsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatroom/chat/internal/auth"
	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/push"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
)

// Notifier carries changes made over the HTTP API to the sockets concerned:
// room_updated to a room's connections after a rename or a membership
// change, removed_from_room to a removed member's, room_deleted to all of a
// deleted room's; and a logout closes the sockets opened with its token.
type Notifier struct {
	store   Store
	push    push.Pusher
	sockets *Handlers
}

// NewNotifier returns the notifier; it pushes and cleans up gone
// connections the way the socket handlers do.
func NewNotifier(h *Handlers) (*Notifier, error) {
	if h == nil {
		return nil, errors.New("wsapi: the notifier needs the socket handlers")
	}
	return &Notifier{store: h.store, push: h.push, sockets: h}, nil
}

// SessionEnded closes every socket opened with the session. API Gateway
// then runs $disconnect for each, which announces the leaves.
func (n *Notifier) SessionEnded(ctx context.Context, id auth.Identity) error {
	conns, err := n.store.SessionConnections(ctx, id.TokenHash)
	if err != nil {
		return fmt.Errorf("wsapi: connections of session: %w", err)
	}
	var errs []error
	for _, c := range conns {
		err := n.push.Disconnect(ctx, c)
		if errors.Is(err, push.ErrGone) {
			err = n.store.DeleteConnection(ctx, c)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RoomChanged pushes one frame per change to the room's connections.
func (n *Notifier) RoomChanged(ctx context.Context, c rooms.Change) error {
	if len(c.Events) == 0 {
		return nil
	}
	roomID := c.Room.ID
	// Connections found gone are forgotten once the room's next frames
	// may go, since forgetting them appends to the room.
	var gone []string
	defer func() {
		c.Delivery.Done()
		n.sockets.forgetAll(ctx, gone, true)
	}()
	n.sockets.awaitTurn(ctx, roomID, c.Delivery)
	if c.PresentErr != nil {
		return fmt.Errorf("wsapi: %w", c.PresentErr)
	}
	present := c.Present
	if _, deleted := c.Events[len(c.Events)-1].Data.(chat.RoomDeleted); deleted {
		var err error
		gone, err = n.close(ctx, roomID, present, "room_deleted")
		return err
	}
	// Removed members' sockets stop receiving the room; the rest hear of
	// the change.
	var stay, removed []store.Presence
	for _, p := range present {
		if _, member := c.Room.Members[p.Username]; member {
			stay = append(stay, p)
		} else {
			removed = append(removed, p)
		}
	}
	var err error
	gone, err = n.close(ctx, roomID, removed, "removed_from_room")
	last := c.Events[len(c.Events)-1]
	frame := roomUpdatedFrame{Type: "room_updated", RoomID: roomID, Seq: last.Seq, Name: c.Room.Name, Members: c.Room.MemberList()}
	gone = append(gone, n.deliver(ctx, stay, encode(frame))...)
	return err
}

// close takes connections out of the room, then tells them why.
func (n *Notifier) close(ctx context.Context, roomID string, present []store.Presence, why string) (gone []string, _ error) {
	if len(present) == 0 {
		return nil, nil
	}
	ids := make([]string, len(present))
	for i, p := range present {
		ids[i] = p.ConnectionID
	}
	if err := n.store.RemovePresence(ctx, roomID, ids...); err != nil {
		return nil, fmt.Errorf("wsapi: remove presence in %s: %w", roomID, err)
	}
	return n.deliver(ctx, present, encode(roomFrame{Type: why, RoomID: roomID})), nil
}

func (n *Notifier) deliver(ctx context.Context, present []store.Presence, frame []byte) (gone []string) {
	ids := make([]string, len(present))
	for i, p := range present {
		ids[i] = p.ConnectionID
	}
	return n.sockets.post(ctx, ids, frame)
}
