package boltstore

import (
	"fmt"
	"testing"
	"time"
)

// TestExpiredCountersAreSwept: rate counters are named per connection and
// window, so a long run makes endlessly many; the expired ones must not
// stay in memory.
func TestExpiredCountersAreSwept(t *testing.T) {
	l := newLive()
	now := time.Now()
	for i := range 3 * sweepEvery {
		// Each counter lives one step of the fake clock.
		at := now.Add(time.Duration(i) * time.Second)
		l.incrementCounter(fmt.Sprint("sends:", i), at.Add(time.Second), at)
	}
	if n := len(l.counters); n > sweepEvery {
		t.Errorf("%d counters held after %d increments, want at most %d", n, 3*sweepEvery, sweepEvery)
	}
	last := now.Add(time.Duration(3*sweepEvery-1) * time.Second)
	if got := l.counter(fmt.Sprint("sends:", 3*sweepEvery-1), last); got != 1 {
		t.Errorf("the live counter reads %d, want 1", got)
	}
}
