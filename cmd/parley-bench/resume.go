package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// cutWait is how long the resume scenario lets the server notice the
// cut connections before the clients come back.
const cutWait = time.Second

// resume measures a resume storm (XEP-0198): -conns sessions enable
// stream management with resumption, all their connections are cut at
// once, and all resume at once. Latency is from dialing to <resumed/>.
func (b *bench) resume(ctx context.Context) (*record, error) {
	o := b.o
	if err := b.warmSCRAM(ctx, min(o.users, o.conns)); err != nil {
		return nil, err
	}
	p := &pool{b: b}
	defer p.closeAll()
	// One session per account: each resumes its own.
	idx := make([]int, o.conns)
	for k := range idx {
		idx[k] = k + 1
	}
	sessions, err := b.loginAll(ctx, p, idx, "r", loginSteps{presence: true, sm: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("log in: %w", err)
	}
	for _, s := range sessions {
		if s.smID == "" {
			return nil, fmt.Errorf("%s: the server offered no resumption", s.jid)
		}
	}
	for _, s := range sessions {
		s.cut()
	}
	if err := sleep(ctx, cutWait); err != nil {
		return nil, err
	}
	var h histogram
	var ok atomic.Int64
	before, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	parallel(ctx, len(sessions), o.clients, func(k int) {
		t := time.Now()
		s, err := b.conn.resume(ctx, sessions[k].index, sessions[k])
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		h.record(time.Since(t))
		ok.Add(1)
		p.start(s, nil)
	})
	after, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	ph := between(before, after)
	n := float64(ok.Load())
	params := newRecord().set("clients", o.clients).set("conns", o.conns).set("users", o.users)
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("resumes", ok.Load()).
		set("resumes_per_s", ph.perSecond(n)).
		set("resumes_per_cpu_s", ph.perCPU(n)).
		set("p50_ms", h.quantileMs(0.50)).
		set("p99_ms", h.quantileMs(0.99))
	return timedOut(ctx, r), nil
}
