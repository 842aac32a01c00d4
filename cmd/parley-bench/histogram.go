package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: values are microseconds; below 2*subBuckets each
// value has its own bucket, above that every power of two is split into
// subBuckets linear buckets, so a bucket is at most 1/subBuckets (~3%)
// wide relative to its values.
const (
	subBits    = 5
	subBuckets = 1 << subBits
	histSize   = 2*subBuckets + (64-subBits-1)*subBuckets
)

// histogram is a log-linear latency histogram safe for concurrent use.
type histogram struct {
	counts [histSize]atomic.Uint64
	total  atomic.Uint64
}

func bucketOf(us uint64) int {
	if us < 2*subBuckets {
		return int(us)
	}
	e := bits.Len64(us) - subBits - 1 // >= 1
	top := us >> e                    // in [subBuckets, 2*subBuckets)
	return 2*subBuckets + (e-1)*subBuckets + int(top-subBuckets)
}

// bucketMid returns the middle value of bucket i, in microseconds.
func bucketMid(i int) float64 {
	if i < 2*subBuckets {
		return float64(i)
	}
	i -= 2 * subBuckets
	e := i/subBuckets + 1
	top := uint64(i%subBuckets + subBuckets)
	lo := top << e
	return float64(lo) + float64(uint64(1)<<e)/2
}

// record adds one latency; negative values count as zero.
func (h *histogram) record(d time.Duration) {
	us := max(d.Microseconds(), 0)
	h.counts[bucketOf(uint64(us))].Add(1)
	h.total.Add(1)
}

// count returns the number of recorded values.
func (h *histogram) count() uint64 { return h.total.Load() }

// quantileMs returns the q-quantile (0 < q <= 1) in milliseconds, or 0
// when nothing was recorded.
func (h *histogram) quantileMs(q float64) float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return bucketMid(i) / 1000
		}
	}
	return bucketMid(histSize-1) / 1000
}
