package soak

import (
	"runtime"
	"runtime/metrics"
	"sync"
)

// heapWatch samples the process's heap every few seconds: the peak of the
// heap in use, garbage included, and of the live heap after each GC.
type heapWatch struct {
	mu             sync.Mutex
	peak, peakLive uint64
}

func (w *heapWatch) sample() (live, inUse uint64) {
	live, inUse = readHeap()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peak = max(w.peak, inUse)
	w.peakLive = max(w.peakLive, live)
	return live, inUse
}

func (w *heapWatch) peaks() (inUse, live uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak, w.peakLive
}

// readHeap reads the live heap as of the last GC and the heap in use now.
func readHeap() (live, inUse uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// heapAfterGC is the live heap right after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	live, _ := readHeap()
	return live
}
