package wsapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
//
// It also keeps every socket's room list current with user frames, whether
// or not the socket joined the room: room_summary when a room enters a
// list, is renamed, or its read position moves, room_removed when it
// leaves. Finding whom to tell costs one read per change (the room's
// audience, or the one user's sockets), never one per member.
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
		for _, m := range c.Audience {
			gone = append(gone, n.sockets.post(ctx, m.Connections, roomRemovedFrame(roomID))...)
		}
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
	if _, created := c.Events[0].Data.(chat.RoomCreated); !created {
		frame := roomUpdatedFrame{Type: "room_updated", RoomID: roomID, Seq: last.Seq, Name: c.Room.Name, Members: c.Room.MemberList()}
		gone = append(gone, n.deliver(ctx, stay, encode(frame))...)
	}
	more, lerr := n.tellLists(ctx, c)
	gone = append(gone, more...)
	return errors.Join(err, lerr)
}

// tellLists sends the user frames of a change: room_removed to the
// sockets of each person it took out, room_summary to each socket of the
// people whose line of the list it changed (everyone's, for a creation or
// a rename).
func (n *Notifier) tellLists(ctx context.Context, c rooms.Change) (gone []string, _ error) {
	everyone := false
	var added []string
	for _, e := range c.Events {
		switch d := e.Data.(type) {
		case chat.RoomCreated, chat.RoomRenamed:
			everyone = true
		case chat.MemberAdded:
			added = append(added, d.Member)
		case chat.MemberRemoved:
			conns, err := n.store.UserConnections(ctx, d.Member)
			if err != nil {
				return gone, fmt.Errorf("wsapi: sockets of %s: %w", d.Member, err)
			}
			gone = append(gone, n.sockets.post(ctx, conns, roomRemovedFrame(c.Room.ID))...)
		}
	}
	if !everyone && len(added) == 0 {
		return gone, nil
	}
	audience, err := n.store.Audience(ctx, c.Room.ID)
	if err != nil {
		return gone, fmt.Errorf("wsapi: audience of %s: %w", c.Room.ID, err)
	}
	for _, m := range audience {
		if everyone || slices.Contains(added, m.Username) {
			gone = append(gone, n.sockets.post(ctx, m.Connections, summaryFrame(store.Summarize(c.Room, m)))...)
		}
	}
	return gone, nil
}

// RoomCreated puts a new room in the lists of its members' open sockets.
// Nobody can have joined it yet, so there is no room frame to order.
func (n *Notifier) RoomCreated(ctx context.Context, r *chat.Room) error {
	gone, err := n.tellLists(ctx, rooms.Change{Room: r, Events: []chat.Event{{RoomID: r.ID, Seq: 1, Data: chat.RoomCreated{}}}})
	n.sockets.forgetAll(ctx, gone, true)
	return err
}

// ReadMoved tells every socket of the user, so their other tabs clear the
// room's badges.
func (n *Notifier) ReadMoved(ctx context.Context, username string, line store.RoomSummary) error {
	conns, err := n.store.UserConnections(ctx, username)
	if err != nil {
		return fmt.Errorf("wsapi: sockets of %s: %w", username, err)
	}
	n.sockets.forgetAll(ctx, n.sockets.post(ctx, conns, summaryFrame(line)), true)
	return nil
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
