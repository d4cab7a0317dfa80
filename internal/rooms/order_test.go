package rooms_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatroom/chat/internal/chat"
	"github.com/chatroom/chat/internal/rooms"
	"github.com/chatroom/chat/internal/store"
)

// TestDeliveriesInSeqOrder: many messages sent into one room at once each
// get a delivery, and the deliveries let their holders through in seq
// order, however the goroutines are scheduled; the messages are batched,
// so the store sees fewer appends than messages.
func TestDeliveriesInSeqOrder(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		r, err := f.svc.Create(f.ctx, "alice", "busy", []string{"bob", "carol", "dave"})
		if err != nil {
			t.Fatal(err)
		}
		// Slow appends down, so messages queue up behind each one.
		f.h.set(nil, func(ctx context.Context, req store.AppendRequest, next func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
			time.Sleep(5 * time.Millisecond)
			return next(ctx, req)
		})
		f.h.counts()
		const senders, each = 8, 6
		var mu sync.Mutex
		var pushed []int64
		var wg sync.WaitGroup
		errs := make(chan error, senders*each)
		for s := range senders {
			actor := []string{"alice", "bob", "carol", "dave"}[s%4]
			wg.Go(func() {
				for i := range each {
					ch, err := f.svc.Send(f.ctx, actor, r.ID, fmt.Sprintf("s%d-%d", s, i), "hello")
					if err != nil {
						errs <- err
						return
					}
					if ch.Duplicate || len(ch.Events) != 1 || ch.Delivery == nil {
						errs <- fmt.Errorf("change %+v, want one new event with a delivery", ch)
						return
					}
					// The earlier of a batch's messages dawdle, so without
					// the deliveries the later ones would push first.
					time.Sleep(time.Duration(4-ch.Events[0].Seq%4) * time.Millisecond)
					if !ch.Delivery.Wait(f.ctx) {
						errs <- fmt.Errorf("seq %d: gave up waiting its turn", ch.Events[0].Seq)
					}
					mu.Lock()
					pushed = append(pushed, ch.Events[0].Seq)
					mu.Unlock()
					ch.Delivery.Done()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := 1; i < len(pushed); i++ {
			if pushed[i] != pushed[i-1]+1 {
				t.Fatalf("pushed out of seq order: %v", pushed)
			}
		}
		if len(pushed) != senders*each {
			t.Fatalf("%d pushed, want %d", len(pushed), senders*each)
		}
		_, appends, _ := f.h.counts()
		if appends >= senders*each {
			t.Fatalf("%d appends for %d messages: nothing was batched", appends, senders*each)
		}
		t.Logf("%d messages in %d appends", senders*each, appends)
		f.stream(t, r.ID) // dense seqs
	})
}

// TestBatchAnswersEachSender: a batch holding a non-member's message, a
// resend of a stored message and two copies of a new one gives each
// sender its own answer, and stores each message once.
func TestBatchAnswersEachSender(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		r, err := f.svc.Create(f.ctx, "alice", "busy", []string{"bob"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := f.svc.Send(f.ctx, "alice", r.ID, "early", "stored before")
		if err != nil {
			t.Fatal(err)
		}
		first.Delivery.Done()
		// Hold the first append of the batch's predecessor until every
		// request below is queued, so they form one batch.
		hold, blocker := holdFirstAppend(f, r.ID)

		type answer struct {
			ch  rooms.Change
			err error
		}
		reqs := []struct{ actor, cmid string }{
			{"mallory", "intruder"}, {"alice", "early"}, {"bob", "twice"}, {"bob", "twice"}, {"alice", "fresh"},
		}
		answers := make([]answer, len(reqs))
		var wg sync.WaitGroup
		var queued atomic.Int64
		for i, q := range reqs {
			wg.Go(func() {
				queued.Add(1)
				ch, err := f.svc.Send(f.ctx, q.actor, r.ID, q.cmid, "text of "+q.cmid)
				answers[i] = answer{ch, err}
				ch.Delivery.Done()
			})
		}
		for queued.Load() < int64(len(reqs)) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(hold)
		wg.Wait()
		if err := <-blocker; err != nil {
			t.Fatal(err)
		}

		if code, _ := chat.CodeOf(answers[0].err); code != chat.CodeRoomNotFound {
			t.Fatalf("a non-member's message: %v, want room_not_found", answers[0].err)
		}
		if a := answers[1]; a.err != nil || !a.ch.Duplicate || a.ch.Events[0].Seq != first.Events[0].Seq {
			t.Fatalf("a resend of a stored message: %+v %v, want the original seq %d", a.ch, a.err, first.Events[0].Seq)
		}
		a, b := answers[2], answers[3]
		if a.err != nil || b.err != nil || a.ch.Events[0].Seq != b.ch.Events[0].Seq || a.ch.Duplicate == b.ch.Duplicate {
			t.Fatalf("two copies of one message: %+v %v / %+v %v, want one new and one duplicate of the same seq", a.ch, a.err, b.ch, b.err)
		}
		if a := answers[4]; a.err != nil || a.ch.Duplicate || len(a.ch.Events) != 1 {
			t.Fatalf("a fresh message: %+v %v", a.ch, a.err)
		}
		counts := map[string]int{}
		for _, e := range f.stream(t, r.ID) {
			if m, ok := e.Data.(chat.MessageSent); ok {
				counts[m.ClientMsgID]++
			}
		}
		for _, id := range []string{"early", "blocker", "twice", "fresh"} {
			if counts[id] != 1 {
				t.Fatalf("%s stored %d times: %v", id, counts[id], counts)
			}
		}
		if counts["intruder"] != 0 {
			t.Fatal("a non-member's message was stored")
		}
	})
}

// TestStuckDeliveryIsPassed: a delivery that started pushing and never
// finished holds the room's next ones only for a bounded time.
func TestStuckDeliveryIsPassed(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		f.svc.SetMaxDeliveryWait(100 * time.Millisecond)
		r, err := f.svc.Create(f.ctx, "alice", "busy", nil)
		if err != nil {
			t.Fatal(err)
		}
		stuck, err := f.svc.Send(f.ctx, "alice", r.ID, "stuck", "never pushed")
		if err != nil {
			t.Fatal(err)
		}
		if !stuck.Delivery.Wait(f.ctx) {
			t.Fatal("the first delivery after the room's creation had to wait")
		}
		next, err := f.svc.Send(f.ctx, "alice", r.ID, "next", "waits")
		if err != nil {
			t.Fatal(err)
		}
		defer next.Delivery.Done()
		if next.Delivery.Wait(f.ctx) {
			t.Fatal("the next delivery claims its turn while the earlier one is not done")
		}
		stuck.Delivery.Done()
		third, err := f.svc.Send(f.ctx, "alice", r.ID, "third", "after both")
		if err != nil {
			t.Fatal(err)
		}
		next.Delivery.Done()
		if !third.Delivery.Wait(context.Background()) {
			t.Fatal("a delivery after finished ones had to wait")
		}
		third.Delivery.Done()
	})
}

// TestFullRoomQueueRefusesSends: while a room's append is held up, sends
// queue for its next batch up to rooms.MaxQueuedSends; the next one is
// refused with rate_limited, and the queued ones are all stored once the
// append goes on.
func TestFullRoomQueueRefusesSends(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		r, err := f.svc.Create(f.ctx, "alice", "busy", []string{"bob"})
		if err != nil {
			t.Fatal(err)
		}
		hold, blocker := holdFirstAppend(f, r.ID)
		// A send whose caller gives up at once still queues its message;
		// that fills the queue without a goroutine per send.
		gaveUp, cancel := context.WithCancel(f.ctx)
		cancel()
		queued := 0
		for ; queued <= rooms.MaxQueuedSends; queued++ {
			_, err := f.svc.Send(gaveUp, "alice", r.ID, fmt.Sprintf("q%d", queued), "queued")
			if errors.Is(err, rooms.ErrRoomBusy) {
				break
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("send %d: %v", queued, err)
			}
		}
		if queued != rooms.MaxQueuedSends {
			t.Fatalf("refused after %d queued sends, want %d", queued, rooms.MaxQueuedSends)
		}
		if code, _ := chat.CodeOf(rooms.ErrRoomBusy); code != "rate_limited" {
			t.Errorf("a full queue answers %q, want rate_limited", code)
		}
		close(hold)
		if err := <-blocker; err != nil {
			t.Fatal(err)
		}
		// The queue drains: a later send is stored after every queued one.
		// Until the first batch leaves the queue it is still full, and the
		// send is refused as a client would be: it tries again.
		var ch rooms.Change
		for deadline := time.Now().Add(10 * time.Second); ; {
			ch, err = f.svc.Send(f.ctx, "alice", r.ID, "after", "after the queue")
			if !errors.Is(err, rooms.ErrRoomBusy) || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		ch.Delivery.Done()
		if want := r.Version + 1 + int64(rooms.MaxQueuedSends) + 1; ch.Events[0].Seq != want {
			t.Errorf("the send after the queue has seq %d, want %d", ch.Events[0].Seq, want)
		}
	})
}

// holdFirstAppend sends bob's message "blocker" to the room and holds its
// append until hold is closed; it returns once the append is held. blocker
// gets the send's answer.
func holdFirstAppend(f *fixture, roomID string) (hold chan struct{}, blocker chan error) {
	hold, appending := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.h.set(nil, func(ctx context.Context, req store.AppendRequest, next func(context.Context, store.AppendRequest) (store.AppendResult, error)) (store.AppendResult, error) {
		once.Do(func() { close(appending); <-hold })
		return next(ctx, req)
	})
	blocker = make(chan error, 1)
	go func() {
		ch, err := f.svc.Send(f.ctx, "bob", roomID, "blocker", "first in line")
		ch.Delivery.Done()
		blocker <- err
	}()
	<-appending
	return hold, blocker
}

// TestOrderAcrossInstances: two services on one store stand for two
// function instances. A delivery waits for the room's earlier one
// whichever instance holds it, goes as soon as that one is done, and goes
// anyway once it has waited MaxOrderWait (shortened here).
func TestOrderAcrossInstances(t *testing.T) {
	eachAdapter(t, func(t *testing.T, f *fixture) {
		other, err := rooms.NewService(f.st, slog.New(slog.DiscardHandler), f.clock.Now, f.ids.next)
		if err != nil {
			t.Fatal(err)
		}
		other.SetMaxDeliveryWait(300 * time.Millisecond)
		r, err := f.svc.Create(f.ctx, "alice", "two instances", []string{"bob"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := f.svc.Send(f.ctx, "alice", r.ID, "one", "from the first instance")
		if err != nil {
			t.Fatal(err)
		}
		second, err := other.Send(f.ctx, "bob", r.ID, "two", "from the second")
		if err != nil {
			t.Fatal(err)
		}
		if !first.Delivery.Wait(f.ctx) {
			t.Fatal("the first message had to wait")
		}
		waited := make(chan bool, 1)
		go func() { waited <- second.Delivery.Wait(f.ctx) }()
		select {
		case <-waited:
			t.Fatal("the second instance pushed before the first was done")
		case <-time.After(100 * time.Millisecond):
		}
		first.Delivery.Done()
		if kept := <-waited; !kept {
			t.Error("the second instance gave up although the first finished in time")
		}
		// A delivery that never finishes holds the next one for the bound
		// only.
		third, err := f.svc.Send(f.ctx, "alice", r.ID, "three", "stuck in the first instance")
		if err != nil {
			t.Fatal(err)
		}
		second.Delivery.Done()
		if !third.Delivery.Wait(f.ctx) {
			t.Fatal("the third message had to wait after the second was done")
		}
		fourth, err := other.Send(f.ctx, "bob", r.ID, "four", "after a stuck one")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if fourth.Delivery.Wait(f.ctx) {
			t.Error("the fourth message claims its turn while the third is not done")
		}
		if waited := time.Since(start); waited < 250*time.Millisecond {
			t.Errorf("gave up after %v, before its bound of 300ms", waited)
		}
		fourth.Delivery.Done()
		third.Delivery.Done() // late: lowers nothing
		fifth, err := f.svc.Send(f.ctx, "alice", r.ID, "five", "after all")
		if err != nil {
			t.Fatal(err)
		}
		if !fifth.Delivery.Wait(f.ctx) {
			t.Error("a message after finished ones had to wait")
		}
		fifth.Delivery.Done()
	})
}
