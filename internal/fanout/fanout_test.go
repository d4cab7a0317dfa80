package fanout

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chatroom/chat/internal/store"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("conn%05d", i)
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name        string
		connections []string
		size        int
		groups      [2]int // the least and most groups
	}{
		{"none", nil, 200, [2]int{1, 1}},
		{"fewer than a shard", ids(50), 200, [2]int{1, 1}},
		{"a thousand", ids(1000), 200, [2]int{4, 6}},
		{"ten thousand", ids(10000), 200, [2]int{40, store.DeliverySlots}},
		{"shards of one slot at most", ids(10000), 1, [2]int{store.DeliverySlots, store.DeliverySlots}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups := Split(tc.connections, tc.size)
			if len(groups) < tc.groups[0] || len(groups) > tc.groups[1] {
				t.Errorf("%d groups, want %d to %d", len(groups), tc.groups[0], tc.groups[1])
			}
			// The groups cover every slot once, in order, and every
			// connection once, in its own slot's group.
			next := 0
			var all []string
			for _, g := range groups {
				if g.Slots.From != next || g.Slots.To <= g.Slots.From {
					t.Fatalf("group %v after slot %d", g.Slots, next)
				}
				next = g.Slots.To
				for _, id := range g.Connections {
					if k := store.SlotOf(id); k < g.Slots.From || k >= g.Slots.To {
						t.Errorf("%s (slot %d) in group %v", id, k, g.Slots)
					}
				}
				all = append(all, g.Connections...)
			}
			if next != store.DeliverySlots {
				t.Errorf("the groups end at slot %d, want %d", next, store.DeliverySlots)
			}
			slices.Sort(all)
			want := slices.Clone(tc.connections)
			slices.Sort(want)
			if !slices.Equal(all, want) {
				t.Errorf("the groups hold %d connections, want the %d given once each", len(all), len(want))
			}
		})
	}
}

func TestSplitIsStable(t *testing.T) {
	// A connection stays in the same group from one event to the next
	// while the room's connections do not change, whatever their order.
	conns := ids(3000)
	first := Split(conns, 200)
	reversed := slices.Clone(conns)
	slices.Reverse(reversed)
	second := Split(reversed, 200)
	if len(first) != len(second) {
		t.Fatalf("%d groups, then %d", len(first), len(second))
	}
	for i := range first {
		if first[i].Slots != second[i].Slots || len(first[i].Connections) != len(second[i].Connections) {
			t.Errorf("group %d: %v with %d, then %v with %d", i, first[i].Slots, len(first[i].Connections), second[i].Slots, len(second[i].Connections))
		}
	}
}
