package boltstore

import (
	"context"
	"maps"
	"sync"

	"github.com/chatroom/chat/internal/store"
)

// The delivery marks (store.DeliveryMarks) live in memory, like the rest
// of live.go: they order pushes, and after a restart no push is under way.
// Writing them to the file would cost a synchronous write per event for
// nothing that outlives the process.
//
// A room's marks start at its first append in this process, at the
// version the append found: everything before it was delivered by an
// earlier process, or never will be. The entry is created inside the
// append's write transaction, which bbolt serialises, so no later append
// can create it at a higher version first.

// maxMarkedRooms bounds the rooms whose marks are kept. Past it, the
// rooms delivered up to their last append are forgotten: their next
// append starts them again at the right version.
const maxMarkedRooms = 4096

type deliveryMarks struct {
	mu    sync.Mutex
	rooms map[string]*roomMarks
}

type roomMarks struct {
	// appended is the room's last seq appended in this process.
	appended  int64
	delivered store.Delivered
	// changed is closed, and replaced, when the marks rise.
	changed chan struct{}
}

func newDeliveryMarks() *deliveryMarks {
	return &deliveryMarks{rooms: map[string]*roomMarks{}}
}

// appended records an append of the events after version up to last.
func (m *deliveryMarks) appended(roomID string, version, last int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[roomID]
	if !ok {
		if len(m.rooms) >= maxMarkedRooms {
			m.forgetDelivered()
		}
		r = &roomMarks{delivered: store.Delivered{All: version}, changed: make(chan struct{})}
		m.rooms[roomID] = r
	}
	r.appended = max(r.appended, last)
}

func (m *deliveryMarks) forgetDelivered() {
	for id, r := range m.rooms {
		if r.delivered.UpTo(store.AllSlots) >= r.appended {
			delete(m.rooms, id)
		}
	}
}

func (m *deliveryMarks) get(roomID string) (store.Delivered, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[roomID]
	if !ok {
		return store.Delivered{}, false
	}
	d := r.delivered
	d.Slot = maps.Clone(d.Slot)
	return d, true
}

func (m *deliveryMarks) mark(roomID string, slots store.Slots, seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[roomID]
	if !ok {
		return // forgotten once delivered: a late mark has nothing to raise
	}
	defer func() {
		close(r.changed)
		r.changed = make(chan struct{})
	}()
	d := &r.delivered
	if slots.Whole() {
		if seq > d.All {
			d.All = seq
			maps.DeleteFunc(d.Slot, func(_ int, v int64) bool { return v <= seq })
		}
		return
	}
	for k := max(slots.From, 0); k < min(slots.To, store.DeliverySlots); k++ {
		if seq > max(d.All, d.Slot[k]) {
			if d.Slot == nil {
				d.Slot = map[int]int64{}
			}
			d.Slot[k] = seq
		}
	}
	if len(d.Slot) == store.DeliverySlots {
		d.All = d.UpTo(store.AllSlots)
		maps.DeleteFunc(d.Slot, func(_ int, v int64) bool { return v <= d.All })
	}
}

func (m *deliveryMarks) handedOff(roomID string, seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[roomID]
	if !ok || seq <= r.delivered.HandedOff {
		return
	}
	r.delivered.HandedOff = seq
	close(r.changed)
	r.changed = make(chan struct{})
}

// MarkHandedOff implements store.DeliveryMarks.
func (s *Store) MarkHandedOff(_ context.Context, roomID string, seq int64) error {
	s.marks.handedOff(roomID, seq)
	return nil
}

// Delivered implements store.DeliveryMarks.
func (s *Store) Delivered(_ context.Context, roomID string, _ bool) (store.Delivered, error) {
	d, ok := s.marks.get(roomID)
	if !ok {
		return store.Delivered{}, store.ErrNotFound
	}
	return d, nil
}

// MarkDelivered implements store.DeliveryMarks.
func (s *Store) MarkDelivered(_ context.Context, roomID string, slots store.Slots, seq int64) error {
	s.marks.mark(roomID, slots, seq)
	return nil
}

// MarksChanged returns a channel closed when the room's marks next move,
// so a waiter in this process wakes at once instead of polling; nil for a
// room without marks.
func (s *Store) MarksChanged(roomID string) <-chan struct{} {
	s.marks.mu.Lock()
	defer s.marks.mu.Unlock()
	if r, ok := s.marks.rooms[roomID]; ok {
		return r.changed
	}
	return nil
}
