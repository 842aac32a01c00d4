package main

import (
	"context"
	"fmt"
	"sync"
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
	ph, h, ok, err := b.timedRuns(ctx, o.logins, func(k int) (func(), error) {
		s, err := b.conn.login(ctx, k%o.users+1, b.resource("l", k), loginSteps{roster: true, presence: true})
		if err != nil {
			return nil, err
		}
		return s.close, nil
	})
	if err != nil {
		return nil, err
	}
	params := newRecord().set("clients", o.clients).set("logins", o.logins).set("users", o.users)
	r := b.rateRecord(params, ph, h, "logins", ok)
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
