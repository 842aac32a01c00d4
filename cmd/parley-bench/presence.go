package main

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// presenceGrace is how long the presence scenario waits after the last
// scheduled login for missing presences before giving up.
const presenceGrace = 60 * time.Second

// setupQuiet separates the setup sessions' end from the measured logins.
const setupQuiet = 2 * time.Second

// watcher counts one user's contact presences in the measured phase.
type watcher struct {
	pos  map[string]int // contact bare JID -> index in seen
	seen []atomic.Bool
	left atomic.Int64
}

// presence measures presence fan-out at login: after making every
// user's contacts mutual subscriptions (setup, not measured), all users
// log in spread over -window, get the roster and send initial presence;
// the phase ends when every user has seen every contact's presence.
// presences counts each (user, contact) once, the work every server must
// do; presences_total adds the duplicates a server may send when a probe
// answer and a broadcast cross.
func (b *bench) presence(ctx context.Context) (*record, error) {
	o := b.o
	idx := make([]int, o.users)
	for i := range idx {
		idx[i] = i + 1
	}
	if err := b.setupRosters(ctx, idx, func(i int) []int { return contactsOf(i, o.users, o.contacts) }); err != nil {
		return nil, fmt.Errorf("roster setup: %w", err)
	}
	// Let the server finish ending the setup sessions.
	if err := sleep(ctx, setupQuiet); err != nil {
		return nil, err
	}
	watchers := make([]*watcher, o.users+1)
	for i := 1; i <= o.users; i++ {
		cs := contactsOf(i, o.users, o.contacts)
		w := &watcher{pos: make(map[string]int, len(cs)), seen: make([]atomic.Bool, len(cs))}
		for k, c := range cs {
			w.pos[o.user(c)+"@"+o.domain] = k
		}
		w.left.Store(int64(len(cs)))
		watchers[i] = w
	}
	complete := newCountdown(o.users)
	var presences, total atomic.Int64 // first per (user, contact); all
	var lastDone atomic.Int64         // bench clock of the last completion
	h := func(s *session, name, raw []byte) {
		if string(name) != "presence" {
			return
		}
		if t, ok := attr(raw, "type"); ok && len(t) > 0 {
			return // only available presence counts
		}
		from, _ := attr(raw, "from")
		bare, _, _ := bytes.Cut(from, []byte("/"))
		w := watchers[s.index]
		k, ok := w.pos[string(bare)]
		if !ok {
			return // own or foreign presence
		}
		total.Add(1)
		if w.seen[k].Swap(true) {
			return // a duplicate: servers may answer a probe and broadcast too
		}
		presences.Add(1)
		if w.left.Add(-1) == 0 {
			lastDone.Store(int64(b.since()))
			complete.done()
		}
	}
	p := &pool{b: b}
	defer p.closeAll()
	stopClose := context.AfterFunc(ctx, p.closeAll)
	defer stopClose()

	before, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	t0 := b.since()
	for i := 1; i <= o.users; i++ {
		at := time.Duration(float64(o.windowD) * float64(i-1) / float64(o.users))
		p.wg.Go(func() {
			if sleep(ctx, t0+at-b.since()) != nil {
				return
			}
			s, err := b.conn.login(ctx, i, b.resource("p", i), loginSteps{roster: true, presence: true})
			if err != nil {
				if ctx.Err() == nil {
					b.fail(err)
				}
				return
			}
			p.start(s, h)
		})
	}
	finished := complete.wait(ctx, o.windowD+presenceGrace)
	after, err := b.meter.sample()
	if err != nil {
		return nil, err
	}
	ph := between(before, after)
	if finished {
		ph.duration = time.Duration(lastDone.Load()) - t0
	}
	n := float64(presences.Load())
	expected := int64(o.users) * int64(len(contactsOf(1, o.users, o.contacts)))
	params := newRecord().set("users", o.users).set("contacts", o.contacts).set("window", o.windowD.String())
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("presences", presences.Load()).
		set("presences_expected", expected).
		set("presences_total", total.Load()).
		set("presences_per_s", ph.perSecond(n)).
		set("presences_per_cpu_s", ph.perCPU(n)).
		set("complete_s", ph.duration.Seconds()).
		set("incomplete_users", complete.left())
	return timedOut(ctx, r), nil
}
