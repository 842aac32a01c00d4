package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsMUCUser  = "http://jabber.org/protocol/muc#user"
	// joinWait bounds the wait for room joins.
	joinWait = 60 * time.Second
)

// occupant is the join state of one user in its room.
type occupant struct {
	once    sync.Once
	done    chan struct{}
	err     error // set before done closes
	created bool  // the join created the room (status 201)
}

// joined records the outcome of the join once.
func (oc *occupant) joined(err error, created bool) {
	oc.once.Do(func() {
		oc.err, oc.created = err, created
		close(oc.done)
	})
}

// muc measures group chat: -rooms rooms of -room-size occupants; the
// first -senders occupants of each room post in closed loop (a message
// may follow once the sender's own reflection arrives, -window
// outstanding); every occupant's copy is a delivery with its latency.
func (b *bench) muc(ctx context.Context) (*record, error) {
	o := b.o
	t := newTraffic(b)
	b.conn.readBuffer = trafficBuffer
	n := o.rooms * o.roomSize
	roomOf := func(u int) string { return fmt.Sprintf("room%d@%s", (u-1)/o.roomSize+1, o.mucDomain) }
	self := func(u int) string { return roomOf(u) + "/" + b.resource("n", u) }
	occ := make([]occupant, n+1) // by user number
	for i := range occ {
		occ[i].done = make(chan struct{})
	}
	var mu sync.Mutex               // guards senders
	senders := make([]*sender, n+1) // by user number
	h := func(s *session, name, raw []byte) {
		switch string(name) {
		case "message":
			if typ, _ := attr(raw, "type"); string(typ) == "error" {
				b.fail(fmt.Errorf("%s: message error %s", s.jid, errorCondition(raw)))
				return
			}
			if id, seq, ok := t.received(raw); ok && id == s.index {
				mu.Lock()
				sd := senders[id]
				mu.Unlock()
				if sd != nil {
					sd.arrived(seq)
				}
			}
		case "presence":
			if attrString(raw, "from") != self(s.index) {
				return
			}
			switch typ, _ := attr(raw, "type"); string(typ) {
			case "error":
				occ[s.index].joined(fmt.Errorf("join %s: %s", self(s.index), errorCondition(raw)), false)
			case "":
				occ[s.index].joined(nil, mucStatus(raw)["201"])
			}
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i + 1
	}
	p := &pool{b: b}
	defer p.closeAll()
	stopClose := context.AfterFunc(ctx, p.closeAll)
	defer stopClose()
	sessions, err := b.loginAll(ctx, p, idx, "m", loginSteps{roster: true, presence: true}, h)
	if err != nil {
		return nil, fmt.Errorf("log in muc users: %w", err)
	}
	join := func(u int) error {
		return sessions[u-1].writeString("<presence to='" + escape(self(u)) + "'><x xmlns='" + nsMUC +
			"'><history maxstanzas='0'/></x></presence>")
	}
	wait := func(u int) error {
		select {
		case <-occ[u].done:
			return occ[u].err
		case <-time.After(joinWait):
			return fmt.Errorf("join %s: no self-presence within %v", self(u), joinWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Each room's first occupant creates it (accepting the default
	// configuration) before the others join.
	var errs []error
	var emu sync.Mutex
	parallel(ctx, o.rooms, o.clients, func(r int) {
		u := r*o.roomSize + 1
		err := join(u)
		if err == nil {
			err = wait(u)
		}
		if err == nil && occ[u].created {
			_, err = sessions[u-1].iq(ctx, func(id string) string {
				return "<iq type='set' id='" + id + "' to='" + escape(roomOf(u)) + "'><query xmlns='" + nsMUCOwner +
					"'><x xmlns='jabber:x:data' type='submit'/></query></iq>"
			})
			if err != nil {
				err = fmt.Errorf("configure %s: %w", roomOf(u), err)
			}
		}
		if err != nil {
			emu.Lock()
			errs = append(errs, err)
			emu.Unlock()
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for u := 1; u <= n; u++ {
		if (u-1)%o.roomSize != 0 {
			if err := join(u); err != nil {
				return nil, fmt.Errorf("join %s: %w", self(u), err)
			}
		}
	}
	for u := 1; u <= n; u++ {
		if err := wait(u); err != nil {
			return nil, err
		}
	}
	var list []*sender
	mu.Lock()
	for r := range o.rooms {
		for k := range o.senders {
			u := r*o.roomSize + k + 1
			senders[u] = newSender(sessions[u-1], u, newTemplate(roomOf(u), "groupchat"), o.windowN)
			list = append(list, senders[u])
		}
	}
	mu.Unlock()
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(len(list)) / o.rate * float64(time.Second))
	}
	perMsg := int64(o.roomSize)
	ph, err := t.run(ctx, p, list, interval, func() int64 { return t.sent.Load() * perMsg })
	if err != nil {
		return nil, err
	}
	sent, got := t.sent.Load(), t.delivered.Load()
	params := newRecord().set("muc_domain", o.mucDomain).set("rooms", o.rooms).set("room_size", o.roomSize).
		set("senders", o.senders).set("window", o.windowN).set("duration", o.duration.String()).
		set("size", o.size).set("rate", o.rate).set("warmup", o.warmup.String())
	r := b.record(params).setPhase(ph, b.errs.Load()).
		set("sent", sent).
		set("delivered", got).
		set("lost", max(sent*perMsg-got, 0)).
		set("deliveries_per_s", ph.perSecond(float64(got))).
		set("deliveries_per_cpu_s", ph.perCPU(float64(got)))
	return t.setLatency(r), nil
}

// mucStatus returns the status codes of a MUC presence (XEP-0045 §15.6.2).
func mucStatus(raw []byte) map[string]bool {
	codes := make(map[string]bool)
	n, err := parseNode(raw)
	if err != nil {
		return codes
	}
	for _, x := range n.children("x") {
		if x.XMLName.Space != nsMUCUser {
			continue
		}
		for _, st := range x.children("status") {
			codes[st.attr("code")] = true
		}
	}
	return codes
}
