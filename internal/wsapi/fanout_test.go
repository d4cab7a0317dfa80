package wsapi_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chatroom/chat/internal/fanout"
	"github.com/chatroom/chat/internal/store"
	"github.com/chatroom/chat/internal/wsapi"
)

// shardRecorder takes the shards handed off, and refuses them while
// failing is set.
type shardRecorder struct {
	mu      sync.Mutex
	shards  []fanout.Shard
	failing bool
}

func (r *shardRecorder) Dispatch(_ context.Context, s fanout.Shard) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return errors.New("no capacity")
	}
	r.shards = append(r.shards, s)
	return nil
}

func (r *shardRecorder) take() []fanout.Shard {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.shards
	r.shards = nil
	return out
}

// TestBigRoomGoesOutInShards: past the shard size a message is handed off
// in shards that together cover every slot and every connection joined,
// and the function that stored it pushes nothing itself. Each shard,
// delivered, pushes to its connections and marks its slots, and run
// again posts nothing; a room delivered by shards lets the next message
// go. A shard that cannot be handed off is pushed by the function itself.
func TestBigRoomGoesOutInShards(t *testing.T) {
	t.Parallel()
	for _, a := range adapters {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			shards := &shardRecorder{}
			e := newEnv(t, a.Open(t), wsapi.WithFanout(shards, 3))
			alice := e.user("alice")
			roomID := e.room("alice", "big")
			var conns []string
			for range 8 {
				c := e.connect(alice)
				e.join(c, roomID)
				conns = append(conns, c)
			}
			// Deliver the joins' shards, in the order handed off.
			for _, s := range shards.take() {
				if err := e.ws.DeliverShard(t.Context(), s); err != nil {
					t.Fatal(err)
				}
			}
			e.pusher.reset()

			e.send(conns[0], roomID, "m1")
			handed := shards.take()
			if len(handed) < 2 {
				t.Fatalf("a message to 8 connections with shards of 3 went in %d shards", len(handed))
			}
			for _, c := range conns {
				if got := e.pusher.take(c); len(got) != 0 {
					t.Errorf("%s got %d frames before any shard was delivered", c, len(got))
				}
			}
			// Handed off side by side, so in any order.
			slices.SortFunc(handed, func(a, b fanout.Shard) int { return a.From - b.From })
			var covered []string
			next := 0
			for _, s := range handed {
				if s.From != next || s.First != s.Last || s.RoomID != roomID {
					t.Errorf("shard of room %s, seqs %d to %d, slots %d to %d, after slot %d", s.RoomID, s.First, s.Last, s.From, s.To, next)
				}
				next = s.To
				covered = append(covered, s.Connections...)
			}
			if next != store.DeliverySlots {
				t.Errorf("the shards end at slot %d", next)
			}
			slices.Sort(covered)
			want := slices.Sorted(slices.Values(conns))
			if !slices.Equal(covered, want) {
				t.Errorf("the shards hold %v, want every joined connection once: %v", covered, want)
			}
			seq := handed[0].Last
			for _, s := range handed {
				if err := e.ws.DeliverShard(t.Context(), s); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range conns {
				if got := e.frames(c); len(got) != 1 || got[0].Type != "receive_message" {
					t.Errorf("%s got %v, want the message once", c, got)
				}
			}
			d, err := e.store.Delivered(t.Context(), roomID, true)
			if err != nil || d.UpTo(store.AllSlots) != seq {
				t.Errorf("the room is delivered up to %d (%v), want %d", d.UpTo(store.AllSlots), err, seq)
			}
			// Lambda runs an asynchronous event at least once: a shard
			// run again posts nothing.
			if err := e.ws.DeliverShard(t.Context(), handed[0]); err != nil {
				t.Fatal(err)
			}
			for _, c := range handed[0].Connections {
				if got := e.frames(c); len(got) != 0 {
					t.Errorf("a shard run twice posted %v to %s again", got, c)
				}
			}

			shards.failing = true
			e.send(conns[1], roomID, "m2")
			for i, c := range conns {
				if got := e.frames(c); len(got) != 1 || got[0].Type != "receive_message" {
					t.Errorf("with no shard handed off, connection %d got %v, want the message", i, got)
				}
			}
			if d, _ := e.store.Delivered(t.Context(), roomID, true); d.UpTo(store.AllSlots) != seq+1 {
				t.Errorf("the room is delivered up to %d after pushing the shards itself, want %d", d.UpTo(store.AllSlots), seq+1)
			}
			if !strings.Contains(e.logs.String(), "fan-out shard not handed off; pushing it here") {
				t.Error("a shard pushed here for want of a fan-out was not logged")
			}
		})
	}
}
