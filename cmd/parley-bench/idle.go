package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

const (
	// settleTime is the least time idle waits for the server's RSS to
	// settle once every connection is up.
	settleTime = 3 * time.Second
	// settleMax bounds the extra wait while RSS still moves by more than
	// settleChange (relative) per settleStep.
	settleMax    = 5 * time.Second
	settleStep   = 500 * time.Millisecond
	settleChange = 0.005
	// keepaliveInterval is how often held connections send whitespace.
	keepaliveInterval = 60 * time.Second
)

// idle measures the server memory per authenticated connection held
// open: RSS before and after opening -conns connections.
func (b *bench) idle(ctx context.Context, args []string) (*record, error) {
	o := b.o
	before, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	var held int
	var release func() error
	if o.conns > b.maxConnsPerProcess {
		kids, err := b.startIdleChildren(ctx, args)
		if err != nil {
			return nil, err
		}
		held, release = kids.held, kids.finish
	} else {
		p := &pool{b: b}
		kctx, stop := context.WithCancel(ctx)
		defer stop()
		go keepalive(kctx, keepaliveInterval, p.list)
		held = b.connectIdle(ctx, p, 0, o.conns)
		release = func() error { stop(); p.closeAll(); return nil }
	}
	up, err := b.meter.sample()
	if err != nil {
		release()
		return nil, err
	}
	after, err := b.settle(ctx)
	if err != nil {
		release()
		return nil, err
	}
	if err := release(); err != nil {
		return nil, err
	}
	end, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	// Time and server CPU are those of establishing the connections; the
	// generator's CPU includes closing them (children are waited for).
	ph := between(before, up)
	ph.serverRSS = after.server.rssKiB
	ph.clientCPU = end.client - before.client
	perConn := 0.0
	if held > 0 {
		perConn = float64(after.server.rssKiB-before.server.rssKiB) / float64(held)
	}
	params := newRecord().set("conns", o.conns).set("users", o.users).set("clients", o.clients)
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("conns", held).
		set("rss_before_kib", before.server.rssKiB).
		set("rss_after_kib", after.server.rssKiB).
		set("rss_per_conn_kib", perConn)
	return timedOut(ctx, r), nil
}

// connectIdle opens count connections with global numbers offset.. and
// returns how many are held; failures are counted as errors.
func (b *bench) connectIdle(ctx context.Context, p *pool, offset, count int) int {
	var held atomic.Int64
	parallel(ctx, count, b.o.clients, func(k int) {
		g := offset + k
		s, err := b.conn.login(ctx, g%b.o.users+1, b.resource("i", g), loginSteps{presence: true})
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		held.Add(1)
		p.start(s, nil)
	})
	return int(held.Load())
}

// settle waits settleTime, then until the server's RSS stops moving (at
// most settleMax more), and returns the last sample.
func (b *bench) settle(ctx context.Context) (snapshot, error) {
	if err := sleep(ctx, settleTime); err != nil {
		return snapshot{}, fmt.Errorf("settle: %w", err)
	}
	last, err := b.meter.sample()
	if err != nil || b.meter.pid == 0 {
		return last, err
	}
	for waited := time.Duration(0); waited < settleMax; waited += settleStep {
		if err := sleep(ctx, settleStep); err != nil {
			return snapshot{}, fmt.Errorf("settle: %w", err)
		}
		cur, err := b.meter.sample()
		if err != nil {
			return snapshot{}, err
		}
		moved := float64(cur.server.rssKiB - last.server.rssKiB)
		last = cur
		if moved <= settleChange*float64(cur.server.rssKiB) && -moved <= settleChange*float64(cur.server.rssKiB) {
			break
		}
	}
	return last, nil
}
