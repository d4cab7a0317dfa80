package loadgen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatroom/chat/internal/chatclient"
)

// senderState is what one sender knows of its messages in a phase.
type senderState struct {
	rc      *receiver
	index   int
	window  chan struct{}
	mu      sync.Mutex
	pending map[string]bool
	sent    int
	acked   map[string]int64 // client_msg_id -> seq
	refused map[string]int   // error code -> count
}

// phase runs one phase and checks it.
func (r *room) phase(ctx context.Context, phase int) (Result, error) {
	name := phaseNames[phase]
	res := Result{RoomSize: r.n, Phase: name, Senders: min(r.c.Senders, r.n), InFlight: r.c.InFlight}
	info, err := r.owner.Room(ctx, r.id)
	if err != nil {
		return res, err
	}
	startSeq := info.LastSeq

	// The collectors of this phase must stop with it, or they would take
	// the next phase's answers.
	collectCtx, stopCollecting := context.WithCancel(ctx)
	defer stopCollecting()
	senders := make([]*senderState, res.Senders)
	for i := range senders {
		s := &senderState{rc: r.receivers[i], index: i, window: make(chan struct{}, r.c.InFlight),
			pending: map[string]bool{}, acked: map[string]int64{}, refused: map[string]int{}}
		senders[i] = s
		go s.collect(collectCtx)
	}
	before := r.total.Load()
	var budget atomic.Int64
	budget.Store(int64(r.c.MaxMessages))
	if r.c.MaxMessages <= 0 {
		budget.Store(1 << 62)
	}

	start := time.Now()
	duration := r.c.FlatDuration
	var interval time.Duration // between one sender's messages; 0 = flat out
	if phase == phaseRate {
		duration = r.c.RateDuration
		messagesPerSec := float64(r.c.Rate) / float64(r.n)
		interval = time.Duration(float64(time.Second) * float64(len(senders)) / messagesPerSec)
	}
	deadline := start.Add(duration)
	fmt.Fprintf(r.c.Progress, "room of %d: %s phase for %s\n", r.n, name, duration)
	stopProgress := r.progress(name, start, before)

	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the senders over the interval so the offered load is
			// smooth, not ten messages at once.
			next := start.Add(interval * time.Duration(s.index) / time.Duration(len(senders)))
			for n := 0; ; n++ {
				if interval > 0 {
					if !sleepUntil(ctx, next) {
						return
					}
					next = next.Add(interval)
				}
				if time.Now().After(deadline) || budget.Add(-1) < 0 {
					return
				}
				select {
				case s.window <- struct{}{}:
				case <-ctx.Done():
					return
				}
				id := formatID(phase, s.index, n)
				s.mu.Lock()
				s.pending[id] = true
				s.sent++
				s.mu.Unlock()
				if err := s.rc.conn.Send(ctx, chatclient.SendFrame(r.id, id, messageText(time.Now().UnixNano(), r.c.MessageBytes))); err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()

	// Wait for the answers to every message sent, then for every receiver
	// to have them all.
	drainErr := r.waitSenders(ctx, senders, r.c.Drain)
	var acked int
	for _, s := range senders {
		s.mu.Lock()
		acked += len(s.acked)
		res.Sent += s.sent
		for code, n := range s.refused {
			res.Refused += n
			res.Problems = append(res.Problems, fmt.Sprintf("sender %d: %d sends answered %s", s.index, n, code))
		}
		s.mu.Unlock()
	}
	res.Acknowledged = acked
	want := before + uint64(acked)*uint64(r.n)
	if drainErr == nil {
		drainErr = r.waitTotal(ctx, want, r.c.Drain)
	}
	end := time.Now()
	stopProgress()
	if drainErr != nil {
		res.Problems = append(res.Problems, drainErr.Error())
	}

	// The receivers' view.
	var hist Histogram
	for _, rc := range r.receivers {
		rc.mu.Lock()
		hist.Merge(&rc.phases[phase].latency)
		res.Deliveries += rc.phases[phase].deliveries
		rc.mu.Unlock()
	}
	// From the first send to the last delivery.
	elapsed := end.Sub(start)
	if last := time.Unix(0, r.last.Load()); last.After(start) && last.Before(end) {
		elapsed = last.Sub(start)
	}
	res.Seconds = elapsed.Seconds()
	res.DeliveriesPerSec = float64(res.Deliveries) / elapsed.Seconds()
	res.P50ms = ms(hist.Quantile(0.50))
	res.P99ms = ms(hist.Quantile(0.99))
	res.MaxMs = ms(hist.Max())

	// The store's view: the stream since the phase began.
	events, err := r.owner.EventsAfter(ctx, r.id, startSeq)
	if err != nil {
		return res, err
	}
	r.check(&res, phase, events, senders)
	fmt.Fprintf(r.c.Progress, "room of %d: %s phase: %d sent, %d acknowledged, %d stored, %.0f deliveries/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, lost %d, duplicated %d, reordered %d\n",
		r.n, name, res.Sent, res.Acknowledged, res.Stored, res.DeliveriesPerSec, res.P50ms, res.P99ms, res.MaxMs, res.Lost, res.Duplicated, res.Reordered)
	return res, nil
}

// check compares every receiver's record with the stream.
func (r *room) check(res *Result, phase int, events []chatclient.Event, senders []*senderState) {
	prefix := phaseNames[phase][:1] + "-"
	stored := map[string]int{}
	var seqs []int64
	for _, e := range events {
		if e.Type == "message_sent" && strings.HasPrefix(e.ClientMsgID, prefix) {
			stored[e.ClientMsgID]++
			seqs = append(seqs, e.Seq)
		}
	}
	res.Stored = len(stored)
	for id, n := range stored {
		if n > 1 {
			res.Problems = append(res.Problems, fmt.Sprintf("client_msg_id %s stored %d times", id, n))
		}
	}
	for _, s := range senders {
		s.mu.Lock()
		for id := range s.acked {
			if stored[id] == 0 {
				res.Problems = append(res.Problems, fmt.Sprintf("acknowledged %s is not in the stream", id))
			}
		}
		s.mu.Unlock()
	}
	codes := map[string]int{}
	for _, rc := range r.receivers {
		rc.mu.Lock()
		for _, seq := range seqs {
			if !rc.seen.has(seq) {
				res.Lost++
			}
		}
		res.Duplicated += rc.dups
		res.Reordered += rc.reorders
		rc.dups, rc.reorders = 0, 0
		for code, n := range rc.errors {
			codes[code] += n
		}
		clear(rc.errors)
		rc.mu.Unlock()
	}
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		res.Problems = append(res.Problems, fmt.Sprintf("%d error frames %s", codes[k], k))
	}
}

// collect takes a sender's acknowledgements off its receiver.
func (s *senderState) collect(ctx context.Context) {
	for {
		select {
		case a := <-s.rc.acks:
			s.mu.Lock()
			if s.pending[a.clientMsgID] {
				delete(s.pending, a.clientMsgID)
				if a.code == "" {
					s.acked[a.clientMsgID] = a.seq
				} else {
					s.refused[a.code]++
				}
				s.mu.Unlock()
				<-s.window
				continue
			}
			s.mu.Unlock()
		case <-ctx.Done():
			return
		case <-s.rc.done:
			return
		}
	}
}

func (r *room) waitSenders(ctx context.Context, senders []*senderState, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		open := 0
		for _, s := range senders {
			s.mu.Lock()
			open += len(s.pending)
			s.mu.Unlock()
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d messages unanswered %s after the last send", open, limit)
		}
		if !sleepUntil(ctx, time.Now().Add(5*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

func (r *room) waitTotal(ctx context.Context, want uint64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for r.total.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries missing %s after the last answer", want-r.total.Load(), limit)
		}
		if !sleepUntil(ctx, time.Now().Add(5*time.Millisecond)) {
			return ctx.Err()
		}
	}
	return nil
}

// progress prints a line a second until stopped.
func (r *room) progress(name string, start time.Time, before uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := r.total.Load()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				cur := r.total.Load()
				fmt.Fprintf(r.c.Progress, "  room of %d %s %5.1fs: %8d deliveries/s, %9d in all\n",
					r.n, name, now.Sub(start).Seconds(), cur-last, cur-before)
				last = cur
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
