package main

import (
	"context"
	"fmt"
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
	ph, h, ok, err := b.timedRuns(ctx, len(sessions), func(k int) (func(), error) {
		s, err := b.conn.resume(ctx, sessions[k].index, sessions[k])
		if err != nil {
			return nil, err
		}
		return func() { p.start(s, nil) }, nil
	})
	if err != nil {
		return nil, err
	}
	params := newRecord().set("clients", o.clients).set("conns", o.conns).set("users", o.users)
	r := b.rateRecord(params, ph, h, "resumes", ok)
	return timedOut(ctx, r), nil
}
