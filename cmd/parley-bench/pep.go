package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	nsPubSub = "http://jabber.org/protocol/pubsub"
	// pepNode is the node every publisher publishes to: User Tune
	// (XEP-0118), a personal eventing node clients follow.
	pepNode = "http://jabber.org/protocol/tune"
	// pepItemID is the id of every published item: each publish
	// replaces the one before, as a client's current tune does.
	pepItemID = "current"
	// pepReadyWait bounds the wait until every contact resource that
	// asks for notifications has had one from every publisher.
	pepReadyWait = 60 * time.Second
	// pepProbeEvery is how often the publishers publish while the
	// generator waits for that.
	pepProbeEvery = 2 * time.Second
)

// pepUsers returns the user numbers of the pep scenario: the publishers,
// from -first-user on, then their contacts.
func (o *options) pepUsers() (publishers, contacts []int) {
	for k := range o.publishers {
		publishers = append(publishers, o.firstUser+k)
	}
	for k := range o.contacts {
		contacts = append(contacts, o.firstUser+o.publishers+k)
	}
	return publishers, contacts
}

// pepTemplate is a publish of one item to pepNode; the stamped text goes
// into the tune's title.
func pepTemplate() *template {
	return &template{
		head: []byte("<iq type='set' id='"),
		mid: []byte("'><pubsub xmlns='" + nsPubSub + "'><publish node='" + pepNode + "'><item id='" + pepItemID +
			"'><tune xmlns='" + pepNode + "'><title>"),
		tail: []byte("</title></tune></item></publish></pubsub></iq>"),
	}
}

// pep measures personal eventing fan-out (XEP-0163): -publishers
// accounts share the same -contacts contacts, all with mutual presence
// subscriptions (setup, not measured). Every contact has one resource
// whose entity capabilities (XEP-0115) include pepNode+notify and
// -quiet-resources without it; the server learns what the hashes stand
// for by asking the resources (disco#info), which answer. The
// publishers publish in closed loop (-window publishes outstanding, a
// slot coming back with the publish's result) or paced (-rate); each
// publish is due at every contact's +notify resource, where its
// latency is measured, and at none of the others.
func (b *bench) pep(ctx context.Context) (*record, error) {
	o := b.o
	t := newTraffic(b)
	b.conn.readBuffer = trafficBuffer
	pubs, contacts := o.pepUsers()
	isPub := func(u int) bool { return u < o.firstUser+o.publishers }
	err := b.setupRosters(ctx, append(slices.Clone(pubs), contacts...), func(u int) []int {
		if isPub(u) {
			return contacts
		}
		return pubs
	})
	if err != nil {
		return nil, fmt.Errorf("roster setup: %w", err)
	}
	if err := sleep(ctx, setupQuiet); err != nil {
		return nil, err
	}

	notify := newCapsProfile([]string{nsCaps, nsDiscoInfo, pepNode + "+notify"})
	plain := newCapsProfile([]string{nsCaps, nsDiscoInfo})
	nc := o.contacts
	seen := make([]atomic.Bool, o.publishers*nc) // (publisher, contact) pairs notified at least once
	ready := newCountdown(o.publishers * nc)
	// have[c][pub] has bit seq set once contact c's +notify resource has
	// the notification of publish seq: only that session's read loop
	// touches it.
	have := make([][][]uint64, nc)
	for c := range have {
		have[c] = make([][]uint64, o.publishers)
	}
	var misdirected, duplicates, probeErrors, shown atomic.Int64
	var mu sync.Mutex                        // guards senders
	senders := make([]*sender, o.publishers) // by publisher position
	h := func(s *session, name, raw []byte) {
		switch string(name) {
		case "message":
			if typ, _ := attr(raw, "type"); string(typ) == "error" {
				b.fail(fmt.Errorf("%s: message error %s", s.jid, errorCondition(raw)))
				return
			}
			text, ok := childText(raw, "title")
			if !ok {
				return
			}
			pub, seq, ts, measured, ok := t.stamp(text)
			if !ok || pub < 0 || pub >= o.publishers || seq < 0 {
				return
			}
			c := s.index - o.firstUser - o.publishers
			if s.kind != "n" || c < 0 || c >= nc {
				// A resource that did not ask for the node's notifications.
				if measured {
					misdirected.Add(1)
				}
				if shown.Add(1) <= 3 {
					b.logf("a notification reached a resource without +notify: %s", clip(raw))
				}
				return
			}
			bits := have[c][pub]
			for seq/64 >= len(bits) {
				bits = append(bits, make([]uint64, len(bits)+1)...)
			}
			have[c][pub] = bits
			if bits[seq/64]&(1<<(seq%64)) != 0 && seq > 0 {
				if measured {
					duplicates.Add(1)
				}
				return
			}
			bits[seq/64] |= 1 << (seq % 64)
			if measured {
				t.deliver(ts)
			}
			if !seen[pub*nc+c].Swap(true) {
				ready.done()
			}
		case "iq":
			if s.kind != "p" {
				return
			}
			id := attrString(raw, "id")
			typ, _ := attr(raw, "type")
			if string(typ) == "error" {
				if id == "0" {
					// Set-up publishes: the next one tries again.
					if probeErrors.Add(1) == 1 {
						b.logf("a publish while waiting for notifications failed: %s", errorCondition(raw))
					}
				} else {
					b.fail(fmt.Errorf("%s: publish error %s", s.jid, errorCondition(raw)))
				}
			}
			seq, err := strconv.Atoi(id)
			if err != nil {
				return
			}
			mu.Lock()
			sd := senders[s.index-o.firstUser]
			mu.Unlock()
			if sd != nil {
				sd.arrived(seq)
			}
		}
	}
	p := &pool{b: b}
	defer p.closeAll()
	stopClose := context.AfterFunc(ctx, p.closeAll)
	defer stopClose()
	// The publishers first, so that every contact's presence, and its
	// capabilities, reach them.
	pubSessions, err := b.loginAll(ctx, p, pubs, "p", loginSteps{roster: true, presence: true, caps: plain}, h)
	if err != nil {
		return nil, fmt.Errorf("log in publishers: %w", err)
	}
	if _, err := b.loginAll(ctx, p, contacts, "n", loginSteps{roster: true, presence: true, caps: notify}, h); err != nil {
		return nil, fmt.Errorf("log in contacts: %w", err)
	}
	for q := range o.quiet {
		if _, err := b.loginAll(ctx, p, contacts, "q"+strconv.Itoa(q+1), loginSteps{roster: true, presence: true, caps: plain}, h); err != nil {
			return nil, fmt.Errorf("log in contacts' quiet resources: %w", err)
		}
	}
	tmpl := pepTemplate()
	var list []*sender
	mu.Lock()
	for k, s := range pubSessions {
		senders[k] = newSender(s, k, tmpl, o.windowN)
		list = append(list, senders[k])
	}
	mu.Unlock()
	// Publish (sequence number 0, never measured) until every contact's
	// +notify resource has had a notification from every publisher: the
	// server has learned the capabilities.
	deadline := time.Now().Add(pepReadyWait)
	for {
		for _, sd := range list {
			if err := sd.s.write(t.build(nil, sd.tmpl, sd.id, 0, b.since())); err != nil {
				return nil, fmt.Errorf("%s: publish: %w", sd.s.jid, err)
			}
		}
		if ready.wait(ctx, pepProbeEvery) {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			left := ready.left()
			if left == int64(len(seen)) {
				return nil, fmt.Errorf("no contact resource got a notification within %v (does the server support PEP and entity capabilities?)", pepReadyWait)
			}
			b.logf("warning: %d of %d (publisher, contact) pairs still without a notification after %v; measuring anyway", left, len(seen), pepReadyWait)
			break
		}
	}
	b.logf("every contact's +notify resource is notified; warm-up %v, then measuring %v", o.warmup, o.duration)
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(len(list)) / o.rate * float64(time.Second))
	}
	perPublish := int64(nc)
	ph, err := t.run(ctx, p, list, interval, func() int64 { return t.sent.Load() * perPublish })
	if err != nil {
		return nil, err
	}
	sent, got := t.sent.Load(), t.delivered.Load()
	params := newRecord().set("publishers", o.publishers).set("contacts", nc).set("quiet_resources", o.quiet).
		set("node", pepNode).set("window", o.windowN).set("duration", o.duration.String()).
		set("size", o.size).set("rate", o.rate).set("warmup", o.warmup.String()).set("first_user", o.firstUser)
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("publishes", sent).
		set("notifications", got).
		set("notifications_expected", sent*perPublish).
		set("lost", max(sent*perPublish-got, 0)).
		set("duplicates", duplicates.Load()).
		set("misdirected", misdirected.Load()).
		set("publishes_per_s", ph.perSecond(float64(sent))).
		set("notifications_per_s", ph.perSecond(float64(got))).
		set("notifications_per_cpu_s", ph.perCPU(float64(got)))
	return t.setLatency(r), nil
}
