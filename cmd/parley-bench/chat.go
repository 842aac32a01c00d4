package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// availableWait bounds the wait for the server to reflect each session's
// initial presence before traffic starts.
const availableWait = 10 * time.Second

// chat measures one-to-one messages: pair i has sender user(2i-1) and
// receiver user(2i); receivers compute latency and hand the window token
// back to their sender in-process, so the loop adds no extra stanzas.
func (b *bench) chat(ctx context.Context) (*record, error) {
	o := b.o
	t := newTraffic(b)
	b.conn.readBuffer = trafficBuffer
	senders := make([]*sender, o.pairs) // by pair
	var mu sync.Mutex                   // guards senders
	ready := newCountdown(2 * o.pairs)
	reflected := make([]atomic.Bool, 2*o.pairs+1) // by user number
	idx := make([]int, 2*o.pairs)
	for i := range idx {
		idx[i] = i + 1
	}
	h := func(s *session, name, raw []byte) {
		switch string(name) {
		case "message":
			if typ, _ := attr(raw, "type"); string(typ) == "error" {
				b.fail(fmt.Errorf("%s: message error %s", s.jid, errorCondition(raw)))
				return
			}
			if id, seq, ok := t.received(raw); ok && id >= 0 && id < len(senders) {
				mu.Lock()
				sd := senders[id]
				mu.Unlock()
				if sd != nil {
					sd.arrived(seq)
				}
			}
		case "presence":
			if attrString(raw, "from") == s.jid && !reflected[s.index].Swap(true) {
				ready.done()
			}
		}
	}
	p := &pool{b: b}
	defer p.closeAll()
	stopClose := context.AfterFunc(ctx, p.closeAll)
	defer stopClose()
	steps := loginSteps{roster: true, presence: true, carbons: o.carbons, sm: o.sm}
	sessions, err := b.loginAll(ctx, p, idx, "c", steps, h)
	if err != nil {
		return nil, fmt.Errorf("log in chat users: %w", err)
	}
	// With carbons, each user's second session gets a copy of every
	// message the first one sends or receives.
	var copies atomic.Int64
	if o.carbons {
		observe := func(s *session, name, raw []byte) {
			if string(name) == "message" && (bytes.Contains(raw, []byte("<received")) || bytes.Contains(raw, []byte("<sent"))) {
				copies.Add(1)
			}
		}
		if _, err := b.loginAll(ctx, p, idx, "o", steps, observe); err != nil {
			return nil, fmt.Errorf("log in carbons sessions: %w", err)
		}
	}
	if !ready.wait(ctx, availableWait) {
		b.logf("warning: not every initial presence was reflected within %v; starting anyway", availableWait)
	}
	mu.Lock()
	for i := range senders {
		from, to := sessions[2*i], sessions[2*i+1]
		senders[i] = newSender(from, i, newTemplate(to.jid, "chat"), o.windowN)
	}
	mu.Unlock()
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(o.pairs) / o.rate * float64(time.Second))
	}
	ph, err := t.run(ctx, p, senders, interval, t.sent.Load)
	if err != nil {
		return nil, err
	}
	sent, got := t.sent.Load(), t.delivered.Load()
	params := newRecord().set("pairs", o.pairs).set("window", o.windowN).set("duration", o.duration.String()).
		set("size", o.size).set("rate", o.rate).set("warmup", o.warmup.String()).
		set("carbons", o.carbons).set("sm", o.sm)
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("sent", sent).
		set("delivered", got).
		set("lost", max(sent-got, 0)).
		set("msgs_per_s", ph.perSecond(float64(got))).
		set("msgs_per_cpu_s", ph.perCPU(float64(got)))
	if o.carbons {
		// Copies of every message, measured or not: a check that the
		// server made them, not a rate.
		r.set("carbon_copies", copies.Load())
	}
	return t.setLatency(r), nil
}
