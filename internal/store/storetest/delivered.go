package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/store"
)

// testDeliveryMarks checks that marks only rise, per slot, for the whole
// room and for hand-offs, and that a room nobody marked has nothing to wait for.
func testDeliveryMarks(t *testing.T, s store.Store) {
	ctx := context.Background()
	id := createRoom(t, s, "alice")
	upTo := func(consistent bool, slots store.Slots) int64 {
		t.Helper()
		d, err := s.Delivered(ctx, id, consistent)
		if errors.Is(err, store.ErrNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return d.UpTo(slots)
	}
	mark := func(slots store.Slots, seq int64) {
		t.Helper()
		if err := s.MarkDelivered(ctx, id, slots, seq); err != nil {
			t.Fatalf("mark %v at %d: %v", slots, seq, err)
		}
	}
	r, err := s.Room(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Version
	if got := upTo(true, store.AllSlots); got != 0 {
		t.Fatalf("a room nobody marked is delivered up to %d, want 0 (or no marks)", got)
	}
	mark(store.AllSlots, v)
	mark(store.AllSlots, v-1) // a late deliverer
	if got := upTo(true, store.AllSlots); got != v {
		t.Fatalf("delivered up to %d after marking %d then %d, want %d", got, v, v-1, v)
	}
	for i := range 2 {
		appendAs(t, s, id, func(r *chat.Room) ([]chat.Event, error) {
			return r.SendMessage("alice", newID(), "m"+string(rune('a'+i)), "hello", epoch.Add(time.Second))
		})
	}
	low, mid, high := store.Slots{From: 0, To: 16}, store.Slots{From: 16, To: 48}, store.Slots{From: 48, To: store.DeliverySlots}
	mark(store.Slots{From: 0, To: 32}, v+1)
	mark(mid, v+2)
	for _, tc := range []struct {
		slots store.Slots
		want  int64
	}{
		{low, v + 1}, {mid, v + 2}, {high, v}, {store.AllSlots, v}, {store.Slots{From: 10, To: 20}, v + 1},
	} {
		if got := upTo(true, tc.slots); got != tc.want {
			t.Errorf("slots %v delivered up to %d, want %d", tc.slots, got, tc.want)
		}
	}
	// A mark below some slots raises only the others.
	mark(store.Slots{From: 0, To: 48}, v+1)
	mark(store.AllSlots, v+1)
	for _, tc := range []struct {
		slots store.Slots
		want  int64
	}{
		{low, v + 1}, {mid, v + 2}, {high, v + 1}, {store.AllSlots, v + 1},
	} {
		if got := upTo(false, tc.slots); got > tc.want {
			t.Errorf("slots %v delivered up to %d, past the %d marked", tc.slots, got, tc.want)
		}
		if got := upTo(true, tc.slots); got != tc.want {
			t.Errorf("slots %v delivered up to %d, want %d", tc.slots, got, tc.want)
		}
	}
	mark(store.AllSlots, v+2)
	if got := upTo(true, store.AllSlots); got != v+2 {
		t.Errorf("delivered up to %d after marking every slot at %d", got, v+2)
	}
	// Hand-offs only rise too, and leave the slots alone.
	for _, seq := range []int64{v + 1, v + 2, v} {
		if err := s.MarkHandedOff(ctx, id, seq); err != nil {
			t.Fatalf("mark handed off at %d: %v", seq, err)
		}
	}
	d, err := s.Delivered(ctx, id, true)
	if err != nil || d.HandedOff != v+2 || d.UpTo(store.AllSlots) != v+2 {
		t.Errorf("handed off up to %d, delivered up to %d (%v), want both %d", d.HandedOff, d.UpTo(store.AllSlots), err, v+2)
	}
}
