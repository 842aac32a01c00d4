package main

import (
	"context"
	"sync/atomic"
	"time"
)

// timedRuns runs op for k in [0, n) on the connector's workers and
// measures the phase: each successful op's latency goes into the
// histogram, then the function it returned (if any) runs, untimed;
// failures (outside a cancelled ctx) are recorded as errors.
func (b *bench) timedRuns(ctx context.Context, n int, op func(k int) (then func(), err error)) (ph phase, h *histogram, ok int64, err error) {
	h = new(histogram)
	var done atomic.Int64
	before, err := b.meter.sample()
	if err != nil {
		return phase{}, nil, 0, err
	}
	parallel(ctx, n, b.o.clients, func(k int) {
		t := time.Now()
		then, err := op(k)
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		h.record(time.Since(t))
		done.Add(1)
		if then != nil {
			then()
		}
	})
	after, err := b.meter.sample()
	if err != nil {
		return phase{}, nil, 0, err
	}
	return between(before, after), h, done.Load(), nil
}

// rateRecord is the record of a timedRuns phase: the count of what
// succeeded as name, its rate per second and per server CPU-second, and
// latency percentiles.
func (b *bench) rateRecord(params *record, ph phase, h *histogram, name string, ok int64) *record {
	n := float64(ok)
	return b.record(params).setPhase(ph, b.errs.Load()).
		set(name, ok).
		set(name+"_per_s", ph.perSecond(n)).
		set(name+"_per_cpu_s", ph.perCPU(n)).
		set("p50_ms", h.quantileMs(0.50)).
		set("p99_ms", h.quantileMs(0.99))
}
