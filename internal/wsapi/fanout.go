package wsapi

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/chatroom/chat/internal/fanout"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
)

// A change's frame goes to a big room in shards (internal/fanout): past
// the shard size, the function that stored the change splits the room's
// connections by slot and hands each share to an asynchronous invocation
// of the fan-out function, whose handler is DeliverShard. Each share then
// costs the time of a shard, and the shards run side by side.

// Dispatcher hands a shard to another invocation without waiting for it
// to be pushed: in the cloud an asynchronous Lambda invoke, in the
// emulator a bounded pool of goroutines.
type Dispatcher interface {
	Dispatch(ctx context.Context, s fanout.Shard) error
}

// DefaultShardSize is how many connections one invocation pushes to: at
// 256 MB a post costs about 1.7 ms of the function's share of a core, so
// a shard of 100 takes about 0.2 s, and a room of 1,000 is ten shards side
// by side (docs/scaling.md, docs/performance.md).
const DefaultShardSize = 100

// WithFanout pushes to rooms of more than shardSize connections in
// shards, handed to d (shardSize 0: DefaultShardSize).
func WithFanout(d Dispatcher, shardSize int) Option {
	return func(h *Handlers) {
		h.fanout = d
		h.shardSize = shardSize
		if shardSize <= 0 {
			h.shardSize = DefaultShardSize
		}
	}
}

// maxHandOffs bounds the shards handed off at once by one deliverer.
const maxHandOffs = 8

// markTimeout bounds a shard's mark, which runs even when the
// invocation's context has ended, so the room's next frames need not wait
// out rooms.MaxOrderWait.
const markTimeout = 2 * time.Second

// pushChange pushes a stored change's frame to the connections joined to
// its room when it was stored, plus extra ones, in the room's turn: itself
// for a small room, in shards for a big one. It returns the connections
// it found gone; the caller forgets them once the change's delivery is
// done. Shards forget those they find themselves, announcing their leaves
// only when announceGone (see leave).
func (h *Handlers) pushChange(ctx context.Context, change rooms.Change, frame any, extra []string, announceGone bool) []string {
	roomID := change.Room.ID
	if change.PresentErr != nil {
		h.awaitTurn(ctx, roomID, change.Delivery)
		// The event is stored; clients that resume will get it.
		h.logger.ErrorContext(ctx, "broadcast: list connections", "room_id", roomID, "error", change.PresentErr.Error())
		return nil
	}
	ids := recipients(change.Present, extra)
	if h.fanout == nil || len(ids) <= h.shardSize || len(change.Events) == 0 {
		h.awaitTurn(ctx, roomID, change.Delivery)
		return h.post(ctx, ids, encode(frame))
	}
	change.Delivery.HandOff()
	h.awaitTurn(ctx, roomID, change.Delivery)
	first, last := change.Events[0].Seq, change.Events[len(change.Events)-1].Seq
	// The room's earlier shards, perhaps handed off by another instance,
	// go into the fan-out's queue first: a shard waits for its slots'
	// earlier ones, and must never hold an instance while the one it
	// waits for is queued behind it.
	if !rooms.AwaitHandedOff(ctx, h.store, roomID, first, h.rooms.OrderWait()) && ctx.Err() == nil {
		h.logger.WarnContext(ctx, "handing off out of turn: the room's earlier shards are stuck", "room_id", roomID, "seq", first)
	}
	defer func() {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		defer cancel()
		if err := h.store.MarkHandedOff(mctx, roomID, last); err != nil {
			h.logger.WarnContext(ctx, "hand-off not marked: the room's next shards wait for it", "room_id", roomID, "seq", last, "error", err.Error())
		}
	}()
	raw := encode(frame)
	groups := fanout.Split(ids, h.shardSize)
	// Handed off side by side: each hand-off is a round trip to Lambda,
	// and the last shard should not wait for the others'.
	var mu sync.Mutex
	var gone []string
	var handing errgroup.Group
	handing.SetLimit(maxHandOffs)
	for _, g := range groups {
		s := fanout.Shard{RoomID: roomID, First: first, Last: last, From: g.Slots.From, To: g.Slots.To, Frame: raw, Connections: g.Connections, Quiet: !announceGone}
		handing.Go(func() error {
			if len(s.Connections) == 0 {
				h.mark(ctx, s)
				return nil
			}
			if err := h.fanout.Dispatch(ctx, s); err != nil {
				// Pushed from here instead, late rather than never.
				h.logger.WarnContext(ctx, "fan-out shard not handed off; pushing it here", "room_id", roomID, "seq", last, "connections", len(s.Connections), "error", err.Error())
				found := h.pushShard(ctx, s)
				mu.Lock()
				gone = append(gone, found...)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = handing.Wait()
	return gone
}

// recipients are the present connections (unique, from the store) and
// the extra ones not among them: one or none, so a scan beats a map.
func recipients(present []store.Presence, extra []string) []string {
	ids := make([]string, 0, len(present)+len(extra))
	for _, p := range present {
		ids = append(ids, p.ConnectionID)
	}
	for _, id := range extra {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// DeliverShard is the fan-out function's handler: it pushes one shard of
// a change's frame in the turn of the shard's slots, marks them, and
// forgets the connections it found gone.
func (h *Handlers) DeliverShard(ctx context.Context, s fanout.Shard) error {
	h.forgetAll(ctx, h.pushShard(ctx, s), !s.Quiet)
	return nil
}

func (h *Handlers) pushShard(ctx context.Context, s fanout.Shard) []string {
	upTo, kept := rooms.AwaitSlots(ctx, h.store, s.RoomID, s.Slots(), s.First, h.rooms.OrderWait())
	if !kept && ctx.Err() == nil {
		h.logger.WarnContext(ctx, "pushing a shard out of turn: an earlier frame of its slots is stuck", "room_id", s.RoomID, "seq", s.First)
	}
	if upTo >= s.Last {
		// Its slots are marked past it: this shard ran before (Lambda
		// runs an asynchronous event at least once). Posting again would
		// repeat the frame.
		h.logger.InfoContext(ctx, "shard already delivered; not pushed again", "room_id", s.RoomID, "seq", s.Last)
		return nil
	}
	gone := h.post(ctx, s.Connections, s.Frame)
	h.mark(ctx, s)
	return gone
}

func (h *Handlers) mark(ctx context.Context, s fanout.Shard) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := h.store.MarkDelivered(mctx, s.RoomID, s.Slots(), s.Last); err != nil {
		h.logger.WarnContext(ctx, "shard not marked delivered: the room's next frames wait for it", "room_id", s.RoomID, "seq", s.Last, "error", err.Error())
	}
}
