package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// rosterSetupWait bounds the wait for all subscriptions to become mutual.
const rosterSetupWait = 5 * time.Minute

// contactsOf returns user i's contacts (users from 1 of n): i±1 .. i±f/2
// modulo n.
func contactsOf(i, n, f int) []int {
	out := make([]int, 0, f/2*2)
	for k := 1; k <= f/2; k++ {
		out = append(out, (i-1+k)%n+1, (i-1-k+n)%n+1)
	}
	return out
}

// rosterState tracks one user's subscriptions to its contacts during
// setup, from the roster result and roster pushes.
type rosterState struct {
	mu    sync.Mutex
	want  map[string]bool   // contact bare JIDs
	sub   map[string]string // contact -> subscription
	done  func()            // called once when every contact is "both"
	fired bool
}

// update applies roster items (from a result or a push).
func (st *rosterState) update(raw []byte) {
	n, err := parseNode(raw)
	if err != nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, it := range n.child("query").children("item") {
		st.sub[it.attr("jid")] = it.attr("subscription")
	}
	if !st.fired && st.missingLocked() == nil {
		st.fired = true
		st.done()
	}
}

// missing returns the contacts whose subscription is not yet "both".
func (st *rosterState) missing() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.missingLocked()
}

func (st *rosterState) missingLocked() []string {
	var out []string
	for c := range st.want {
		if st.sub[c] != "both" {
			out = append(out, c)
		}
	}
	return out
}

// setupRosters makes the contacts of each of the users idx mutual
// ("both") subscriptions through the protocol: roster set and subscribe
// from both sides, with every subscription request approved. contacts
// must be symmetric (j in contacts(i) exactly when i is in contacts(j))
// and stay within idx. Users whose rosters are already complete send
// nothing, so a second run only checks.
func (b *bench) setupRosters(ctx context.Context, idx []int, contacts func(i int) []int) error {
	o := b.o
	bare := func(i int) string { return o.user(i) + "@" + o.domain }
	complete := newCountdown(len(idx))
	states := make(map[int]*rosterState, len(idx))
	want := 0
	for _, i := range idx {
		st := &rosterState{want: make(map[string]bool), sub: make(map[string]string), done: complete.done}
		for _, c := range contacts(i) {
			st.want[bare(c)] = true
		}
		want = max(want, len(st.want))
		states[i] = st
	}
	h := func(s *session, name, raw []byte) {
		switch string(name) {
		case "presence":
			if t, _ := attr(raw, "type"); string(t) == "subscribe" {
				s.writeString("<presence to='" + escape(attrString(raw, "from")) + "' type='subscribed'/>")
			}
		case "iq":
			if t, _ := attr(raw, "type"); string(t) == "set" {
				states[s.index].update(raw)
			}
		}
	}
	p := &pool{b: b}
	defer p.closeAll()
	sessions, err := b.loginAll(ctx, p, idx, "s", loginSteps{}, h)
	if err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	rosterGet := func(id string) string {
		return "<iq type='get' id='" + id + "'><query xmlns='" + nsRoster + "'/></iq>"
	}
	var mu sync.Mutex
	var errs []error
	each := func(fn func(s *session) error) error {
		parallel(ctx, len(sessions), o.clients, func(k int) {
			if err := fn(sessions[k]); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", sessions[k].bare, err))
				mu.Unlock()
			}
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.Join(errs...)
	}
	// Every user requests the roster (to get pushes) and becomes
	// available (to get subscription requests) before anyone asks.
	err = each(func(s *session) error {
		raw, err := s.iq(ctx, rosterGet)
		if err != nil {
			return fmt.Errorf("roster get: %w", err)
		}
		states[s.index].update(raw)
		return s.writeString("<presence/>")
	})
	if err != nil {
		return err
	}
	incomplete := 0
	for _, st := range states {
		if len(st.missing()) > 0 {
			incomplete++
		}
	}
	b.logf("roster setup: %d of %d users lack mutual subscriptions with their (up to) %d contacts", incomplete, len(idx), want)
	err = each(func(s *session) error {
		st := states[s.index]
		for _, c := range st.missing() {
			st.mu.Lock()
			sub, known := st.sub[c]
			st.mu.Unlock()
			if !known {
				if _, err := s.iq(ctx, func(id string) string {
					return "<iq type='set' id='" + id + "'><query xmlns='" + nsRoster + "'><item jid='" + escape(c) + "'/></query></iq>"
				}); err != nil {
					return fmt.Errorf("roster set %s: %w", c, err)
				}
			}
			if sub != "to" {
				if err := s.writeString("<presence to='" + escape(c) + "' type='subscribe'/>"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !complete.wait(ctx, rosterSetupWait) {
		return fmt.Errorf("%d users still lack mutual subscriptions after %v", complete.left(), rosterSetupWait)
	}
	// Check with a fresh roster get that the server agrees.
	return each(func(s *session) error {
		raw, err := s.iq(ctx, rosterGet)
		if err != nil {
			return fmt.Errorf("roster get: %w", err)
		}
		st := &rosterState{want: states[s.index].want, sub: make(map[string]string), done: func() {}}
		st.update(raw)
		if m := st.missing(); len(m) > 0 {
			return fmt.Errorf("roster lacks mutual subscriptions with %v", m)
		}
		return nil
	})
}
