// Package fanout carries a big room's frames to its connections in
// shards, each pushed by an invocation of its own, so a message to
// thousands of sockets takes the time of a shard, not of the room
// (docs/scaling.md). A shard covers a run of the room's delivery slots
// (store.SlotOf): its deliverer waits until those slots are delivered up
// to the event before, pushes, and marks them, so each connection still
// gets the room's frames in seq order.
package fanout

import (
	"encoding/json"

	"github.com/chatroom/chat/internal/store"
)

// Shard is one invocation's share of an event's frame: the payload of an
// asynchronous invoke of the fan-out function.
type Shard struct {
	RoomID string `json:"room_id"`
	// First and Last are the seqs the frame carries: the deliverer waits
	// for First-1 and marks Last.
	First int64 `json:"first"`
	Last  int64 `json:"last"`
	// From and To are the slots [From, To) the shard covers.
	From int `json:"from"`
	To   int `json:"to"`
	// Frame is the frame, encoded once by the function that split it.
	Frame       json.RawMessage `json:"frame"`
	Connections []string        `json:"connections"`
	// Quiet forgets the connections found gone without announcing their
	// leaves: the shard is itself the announcement of a gone connection's
	// leave, and one broadcast does bounded work.
	Quiet bool `json:"quiet,omitempty"`
}

// Slots are the shard's slots.
func (s Shard) Slots() store.Slots { return store.Slots{From: s.From, To: s.To} }

// Group is a run of slots and the connections in them.
type Group struct {
	Slots       store.Slots
	Connections []string
}

// Split puts connections in groups of about size each, by slot: every
// slot is in exactly one group, so the groups' marks together cover the
// room, and a connection is in the same group for every event while the
// room's connections stay the same. Groups end at the slot boundary
// nearest to size, so they hold more when a slot is crowded; at most
// store.DeliverySlots groups.
func Split(connections []string, size int) []Group {
	size = max(size, 1)
	var bySlot [store.DeliverySlots][]string
	for _, id := range connections {
		k := store.SlotOf(id)
		bySlot[k] = append(bySlot[k], id)
	}
	var groups []Group
	from, n := 0, 0
	var ids []string
	for k := range store.DeliverySlots {
		// Close the group before this slot when that leaves it nearer
		// to size than taking the slot would.
		if n > 0 && n+len(bySlot[k])-size > size-n {
			groups = append(groups, Group{Slots: store.Slots{From: from, To: k}, Connections: ids})
			from, n, ids = k, 0, nil
		}
		ids = append(ids, bySlot[k]...)
		n += len(bySlot[k])
	}
	return append(groups, Group{Slots: store.Slots{From: from, To: store.DeliverySlots}, Connections: ids})
}
