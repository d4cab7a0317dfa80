package store

import "testing"

func TestSlotOf(t *testing.T) {
	// Fixed values: every process, in any language, must put a connection
	// in the same slot.
	for _, tc := range []struct {
		id   string
		want int
	}{
		{"", 2166136261 % DeliverySlots},
		{"a", 0xe40c292c % DeliverySlots},
		{"foobar", 0xbf9cf968 % DeliverySlots},
	} {
		if got := SlotOf(tc.id); got != tc.want {
			t.Errorf("SlotOf(%q) = %d, want %d", tc.id, got, tc.want)
		}
	}
	// Connection ids spread over every slot.
	var counts [DeliverySlots]int
	for i := range 64 * DeliverySlots {
		counts[SlotOf("conn-"+string(rune('A'+i%26))+string(rune('a'+i/26%26))+string(rune('0'+i/676)))]++
	}
	for k, c := range counts {
		if c < 20 || c > 120 {
			t.Errorf("slot %d holds %d of %d ids", k, c, 64*DeliverySlots)
		}
	}
}

func TestDeliveredUpTo(t *testing.T) {
	d := Delivered{All: 5, Slot: map[int]int64{3: 9, 4: 7}}
	for _, tc := range []struct {
		slots Slots
		want  int64
	}{
		{AllSlots, 5},
		{Slots{3, 4}, 9},
		{Slots{3, 5}, 7},
		{Slots{2, 5}, 5},
		{Slots{-1, 100}, 5},
	} {
		if got := d.UpTo(tc.slots); got != tc.want {
			t.Errorf("UpTo(%v) = %d, want %d", tc.slots, got, tc.want)
		}
	}
	if got := (Delivered{All: 4}).UpTo(Slots{10, 20}); got != 4 {
		t.Errorf("no slots: UpTo = %d, want 4", got)
	}
}
