package store

import "context"

// A room's live frames reach each connection in seq order however many
// processes push them (docs/api.md, "Order"): before pushing an event's
// frames a deliverer waits until the room's earlier events are delivered,
// and after pushing it says so. What it waits on is kept in the store, the
// only thing every instance of every function shares.
//
// A big room's frames are pushed in shards by parallel invocations, so the
// mark is kept per slot: each connection belongs to one of DeliverySlots
// slots by a hash of its id (SlotOf), a shard covers a run of slots, and
// order holds per connection as long as each slot's events are pushed in
// turn. A deliverer that covers every slot (a room small enough for one
// invocation) marks them all at once.

// DeliverySlots is how many slots a room's connections are spread over.
// It bounds how many shards one event can be pushed in.
const DeliverySlots = 64

// SlotOf is the delivery slot of a connection: FNV-1a of its id, so every
// process and every language agrees.
func SlotOf(connectionID string) int {
	h := uint32(2166136261)
	for i := 0; i < len(connectionID); i++ {
		h ^= uint32(connectionID[i])
		h *= 16777619
	}
	return int(h % DeliverySlots)
}

// Slots is the run of slots [From, To) a deliverer covers.
type Slots struct{ From, To int }

// AllSlots covers the whole room.
var AllSlots = Slots{0, DeliverySlots}

// Whole says whether s covers every slot.
func (s Slots) Whole() bool { return s.From <= 0 && s.To >= DeliverySlots }

// Delivered is how far a room's events have been pushed.
type Delivered struct {
	// All is the seq every slot is delivered up to.
	All int64
	// Slot holds the slots pushed further than All, by shards.
	Slot map[int]int64
	// HandedOff is the seq up to which a big room's events have been
	// handed to the fan-out function, every shard of each. The next
	// event's shards are handed off only after it, so the fan-out's
	// queue holds a room's shards in seq order and a shard never waits
	// for one queued behind it.
	HandedOff int64
}

// UpTo is the seq every slot of s is delivered up to.
func (d Delivered) UpTo(s Slots) int64 {
	if len(d.Slot) == 0 {
		return d.All
	}
	least := int64(-1)
	for k := max(s.From, 0); k < min(s.To, DeliverySlots); k++ {
		v := max(d.All, d.Slot[k])
		if least < 0 || v < least {
			least = v
		}
	}
	return max(least, d.All)
}

// DeliveryMarks keeps how far each room's events have been pushed.
type DeliveryMarks interface {
	// Delivered returns how far the room's events have been pushed;
	// ErrNotFound when nothing was ever marked (a room whose events
	// predate the marks, or whose first deliverer has not finished):
	// there is nothing to wait for. consistent asks for a strongly
	// consistent read.
	Delivered(ctx context.Context, roomID string, consistent bool) (Delivered, error)
	// MarkDelivered raises the slots' mark to seq; a slot already at or
	// past it keeps its mark.
	MarkDelivered(ctx context.Context, roomID string, slots Slots, seq int64) error
	// MarkHandedOff raises the room's HandedOff to seq.
	MarkHandedOff(ctx context.Context, roomID string, seq int64) error
}
