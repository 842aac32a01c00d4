package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// login measures complete logins: TCP, stream, STARTTLS, SASL, restart,
// bind, roster get, initial presence, close. Latency is from dialing to
// the roster result. A login whose server stops answering fails after
// setupTimeout, which the phase's duration includes.
func (b *bench) login(ctx context.Context) (*record, error) {
	o := b.o
	if err := b.warmSCRAM(ctx, min(o.users, o.logins)); err != nil {
		return nil, err
	}
	var h histogram
	var ok atomic.Int64
	before, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	parallel(ctx, o.logins, o.clients, func(k int) {
		t := time.Now()
		s, err := b.conn.login(ctx, k%o.users+1, b.resource("l", k), loginSteps{roster: true, presence: true})
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		h.record(time.Since(t))
		ok.Add(1)
		s.close()
	})
	after, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	ph := between(before, after)
	n := float64(ok.Load())
	params := newRecord().set("clients", o.clients).set("logins", o.logins).set("users", o.users)
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("logins", ok.Load()).
		set("logins_per_s", ph.perSecond(n)).
		set("logins_per_cpu_s", ph.perCPU(n)).
		set("p50_ms", h.quantileMs(0.50)).
		set("p99_ms", h.quantileMs(0.99))
	return timedOut(ctx, r), nil
}

// warmSCRAM derives every account's SCRAM keys before measuring, as a
// client that stored them at an earlier login would have them, so the
// measured logins cost the generator no PBKDF2.
func (b *bench) warmSCRAM(ctx context.Context, users int) error {
	if !isSCRAM(b.o.mech) {
		return nil
	}
	var mu sync.Mutex
	var first error
	parallel(ctx, users, b.o.clients, func(i int) {
		if err := b.conn.warm(ctx, i+1); err != nil {
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("SCRAM warm-up for %s: %w", b.o.user(i+1), err)
			}
			mu.Unlock()
		}
	})
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// timedOut marks a record whose run hit -timeout.
func timedOut(ctx context.Context, r *record) *record {
	if ctx.Err() != nil {
		r.set("timed_out", true)
	}
	return r
}
