package cloudsim

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tally counts every message's deliveries at every socket.
type tally struct {
	sentAt []atomic.Int64 // unix nanoseconds, by message
	// lastAt is each message's latest delivery, got the number that came.
	lastAt []atomic.Int64
	got    []atomic.Int64
	// seen holds, per socket, the messages it got, to tell a repeat.
	seen       []map[int]bool
	sockets    int
	duplicated atomic.Int64
	reordered  atomic.Int64
	mu         sync.Mutex
	errors     map[string]int
	// remaining counts deliveries still expected; done closes at zero.
	remaining atomic.Int64
	done      chan struct{}
}

func newTally(messages, sockets int) *tally {
	t := &tally{sentAt: make([]atomic.Int64, messages), lastAt: make([]atomic.Int64, messages),
		got: make([]atomic.Int64, messages), seen: make([]map[int]bool, sockets), sockets: sockets,
		errors: map[string]int{}, done: make(chan struct{})}
	for i := range t.seen {
		t.seen[i] = map[int]bool{}
	}
	t.remaining.Store(int64(messages * sockets))
	return t
}

func (t *tally) sent(k int, at time.Time) { t.sentAt[k].Store(at.UnixNano()) }

// delivered records message k at socket i; only socket i's reader (or
// the one reader of the client process's records) calls it for i, so
// seen[i] needs no lock.
func (t *tally) delivered(i, k int, at time.Time) {
	if k < 0 || k >= len(t.got) {
		t.problem("a message this run did not send")
		return
	}
	if t.seen[i][k] {
		t.duplicated.Add(1)
		return
	}
	t.seen[i][k] = true
	t.got[k].Add(1)
	for ns := at.UnixNano(); ; {
		cur := t.lastAt[k].Load()
		if cur >= ns || t.lastAt[k].CompareAndSwap(cur, ns) {
			break
		}
	}
	if t.remaining.Add(-1) == 0 {
		close(t.done)
	}
}

func (t *tally) outOfOrder(int) { t.reordered.Add(1) }

func (t *tally) problem(what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors[what]++
}

// wait returns once every delivery came, or limit passed.
func (t *tally) wait(ctx context.Context, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
	case <-ctx.Done():
	}
}

// waitMessage waits until message k reached every socket, or limit
// passed.
func (t *tally) waitMessage(ctx context.Context, k int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for int(t.got[k].Load()) < t.sockets {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (t *tally) lost() int { return int(t.remaining.Load()) }

// latencies are, sorted, the time from each message's send to its last
// delivery, for messages that reached every socket.
func (t *tally) latencies() []time.Duration {
	var out []time.Duration
	for k := range t.got {
		if int(t.got[k].Load()) == t.sockets {
			out = append(out, time.Duration(t.lastAt[k].Load()-t.sentAt[k].Load()))
		}
	}
	slices.Sort(out)
	return out
}

func (t *tally) problems() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for what, n := range t.errors {
		out = append(out, fmt.Sprintf("%s ×%d", what, n))
	}
	sort.Strings(out)
	return out
}

func messageIndex(clientMsgID string) (int, bool) {
	rest, ok := strings.CutPrefix(clientMsgID, "sim-")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil
}
