package emulator

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/fanout"
	"github.com/chatroom/chat/internal/wsapi"
)

// shardPool runs a big room's fan-out shards in this process, as Lambda
// runs the asynchronous invocations of the fan-out function: each on the
// next instance, in a goroutine of its own. At most maxShardsInFlight run
// at once; past that Dispatch waits for one to finish, which slows the
// deliverer instead of queueing without bound. The bound is far above the
// shards a room has in flight: a shard waits for the room's earlier shards
// of its slots, and with a tight bound the waiting ones could hold every
// place while the ones they wait for queue behind them (until the wait's
// own bound, rooms.MaxOrderWait, lets them go out of turn).
type shardPool struct {
	instances []*wsapi.Handlers
	next      atomic.Uint64
	slots     chan struct{}
	running   sync.WaitGroup
}

// maxShardsInFlight bounds the shards under way at once, as a Lambda
// function's reserved concurrency would.
const maxShardsInFlight = 1024

// shardTimeout is the fan-out function's timeout in the template.
const shardTimeout = 15 * time.Second

func newShardPool() *shardPool { return &shardPool{slots: make(chan struct{}, maxShardsInFlight)} }

// Dispatch implements wsapi.Dispatcher.
func (p *shardPool) Dispatch(ctx context.Context, s fanout.Shard) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	h := p.instances[p.next.Add(1)%uint64(len(p.instances))]
	p.running.Add(1)
	go func() {
		defer p.running.Done()
		defer func() { <-p.slots }()
		// Not the caller's context: the invocation that handed the shard
		// off ends long before the shard is pushed.
		ctx, cancel := context.WithTimeout(context.Background(), shardTimeout)
		defer cancel()
		_ = h.DeliverShard(ctx, s)
	}()
	return nil
}

// wait waits for the shards under way, or until ctx ends.
func (p *shardPool) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		p.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
