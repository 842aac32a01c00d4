package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantileMs(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ { // 1..1000 ms
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct{ q, want float64 }{
		{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0.001, 1},
	} {
		got := h.quantileMs(tc.q)
		if math.Abs(got-tc.want)/tc.want > 1.0/subBuckets {
			t.Errorf("q%v = %v ms, want %v ±%.1f%%", tc.q, got, tc.want, 100.0/subBuckets)
		}
	}
	if h.count() != 1000 {
		t.Errorf("count %d", h.count())
	}
}

func TestHistogramBuckets(t *testing.T) {
	if bucketOf(63) == bucketOf(64) || bucketOf(64) != bucketOf(65) {
		t.Error("64 should start the first two-wide bucket")
	}
	prev := -1
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<40 + 12345, math.MaxUint64} {
		b := bucketOf(us)
		if b < prev || b >= histSize {
			t.Fatalf("bucket(%d) = %d after %d (size %d)", us, b, prev, histSize)
		}
		prev = b
		if mid := bucketMid(b); us > 0 && us < math.MaxUint64 && math.Abs(mid-float64(us))/float64(us) > 1.0/subBuckets {
			t.Errorf("bucket %d of %d has middle %v", b, us, mid)
		}
	}
	var h histogram
	h.record(-time.Second) // clock oddities count as zero
	if h.quantileMs(1) != 0 {
		t.Error("negative latency not clamped")
	}
}
