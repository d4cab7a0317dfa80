package loadgen

import (
	"math/bits"
	"time"
)

// Histogram records latencies in log-linear buckets: exact below 128 µs,
// then 64 buckets per power of two, so any quantile is within 1.6% of the
// true value in a few kilobytes, whatever the number of samples.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBits     = 6 // 64 sub-buckets per power of two
	linearLimit = 2 << subBits
	histBuckets = linearLimit + (40-subBits)*(1<<subBits)
)

func bucketOf(us uint64) int {
	if us < linearLimit {
		return int(us)
	}
	exp := bits.Len64(us) - 1 - subBits // >= 1
	sub := (us >> exp) & (1<<subBits - 1)
	i := linearLimit + (exp-1)*(1<<subBits) + int(sub)
	return min(i, histBuckets-1)
}

// lowerBound is the smallest value in bucket i, in microseconds.
func lowerBound(i int) uint64 {
	if i < linearLimit {
		return uint64(i)
	}
	i -= linearLimit
	exp := i>>subBits + 1
	sub := uint64(i & (1<<subBits - 1))
	return (1<<subBits | sub) << exp
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's samples.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the value at q (0 to 1): the lower bound of the bucket
// holding that sample, never above Max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(lowerBound(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}
