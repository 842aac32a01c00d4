package roster

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// state is the subscription state of one contact in a user's roster, in
// the terms of RFC 6121 Appendix A, plus pre-approval (§3.4).
type state struct {
	To          bool // the user receives the contact's presence
	From        bool // the contact receives the user's presence
	PendingOut  bool // the user asked to subscribe (ask='subscribe')
	PendingIn   bool // the contact asked to subscribe
	PreApproved bool // a request from the contact will be approved
}

func stateOf(it storage.RosterItem) state {
	return state{
		To:          it.Subscription == "to" || it.Subscription == "both",
		From:        it.Subscription == "from" || it.Subscription == "both",
		PendingOut:  it.Ask,
		PendingIn:   it.PendingIn,
		PreApproved: it.PreApproved,
	}
}

// apply returns it with the subscription fields set from s.
func (s state) apply(it storage.RosterItem) storage.RosterItem {
	switch {
	case s.To && s.From:
		it.Subscription = "both"
	case s.To:
		it.Subscription = "to"
	case s.From:
		it.Subscription = "from"
	default:
		it.Subscription = "none"
	}
	it.Ask, it.PendingIn, it.PreApproved = s.PendingOut, s.PendingIn, s.PreApproved
	return it
}

// needsItem reports whether s can only be kept in a roster item. A
// pending inbound request alone is kept with the pending requests, so a
// stranger's request does not add anyone to the user's roster.
func (s state) needsItem() bool { return s.To || s.From || s.PendingOut || s.PreApproved }

// effect says what follows a transition besides the state change.
type effect struct {
	forward   bool // route the outbound stanza / deliver the inbound one
	autoReply bool // answer an inbound subscribe with subscribed
}

// outbound applies a subscription stanza the user sends to the contact
// (RFC 6121 Appendix A.2, and §3.4 for pre-approval).
func outbound(typ string, s state) (state, effect) {
	switch typ {
	case "subscribe":
		if !s.To {
			s.PendingOut = true
		}
		return s, effect{forward: true}
	case "unsubscribe":
		s.To, s.PendingOut = false, false
		return s, effect{forward: true}
	case "subscribed":
		if s.PendingIn {
			s.From, s.PendingIn, s.PreApproved = true, false, false
			return s, effect{forward: true}
		}
		if !s.From {
			s.PreApproved = true
		}
		return s, effect{}
	case "unsubscribed":
		if s.From || s.PendingIn {
			s.From, s.PendingIn, s.PreApproved = false, false, false
			return s, effect{forward: true}
		}
		s.PreApproved = false
		return s, effect{}
	}
	return s, effect{}
}

// inbound applies a subscription stanza the contact sends to the user
// (RFC 6121 Appendix A.3, and §3.4 for pre-approval).
func inbound(typ string, s state) (state, effect) {
	switch typ {
	case "subscribe":
		switch {
		case s.From:
			return s, effect{autoReply: true}
		case s.PreApproved:
			s.From, s.PreApproved = true, false
			return s, effect{autoReply: true}
		case s.PendingIn:
			return s, effect{}
		}
		s.PendingIn = true
		return s, effect{forward: true}
	case "unsubscribe":
		if s.From || s.PendingIn {
			s.From, s.PendingIn = false, false
			return s, effect{forward: true}
		}
	case "subscribed":
		if s.PendingOut && !s.To {
			s.To, s.PendingOut = true, false
			return s, effect{forward: true}
		}
	case "unsubscribed":
		if s.To || s.PendingOut {
			s.To, s.PendingOut = false, false
			return s, effect{forward: true}
		}
	}
	return s, effect{}
}

// change is the outcome of a transition on the user's roster.
type change struct {
	old, new state
	effect
	item    storage.RosterItem // the item after the change
	written bool               // the item was stored: push it
	ver     int64              // roster version after the write
}

// visible reports whether the change shows in the roster item a client
// sees. A pending inbound request is not part of the item (RFC 6121
// §3.1.3 delivers it as presence), so a change to it alone is stored but
// not pushed: the push would repeat the item the client already has.
func (c change) visible() bool {
	o, n := c.old, c.new
	o.PendingIn, n.PendingIn = false, false
	return o != n
}

// transition applies f to the user's state for contact and stores the
// result. request is the serialized subscribe stanza to keep when the
// transition leaves an inbound request pending.
func (m *Module) transition(ctx context.Context, user, contact string, f func(state) (state, effect), request []byte) (change, error) {
	unlock := m.lock(user)
	defer unlock()
	it, exists, err := m.load(ctx, user, contact)
	if err != nil {
		return change{}, err
	}
	c := change{old: stateOf(it)}
	c.new, c.effect = f(c.old)
	c.item = c.new.apply(it)
	if c.new == c.old {
		return c, nil
	}
	if exists || c.new.needsItem() {
		if c.ver, err = m.store.PutRosterItem(ctx, user, c.item); err != nil {
			return change{}, err
		}
		c.written = true
	}
	switch {
	case c.old.PendingIn && !c.new.PendingIn:
		err = m.store.DeletePendingSubscription(ctx, user, contact)
	case !c.old.PendingIn && c.new.PendingIn && request != nil:
		err = m.store.PutPendingSubscription(ctx, user, contact, request)
	}
	return c, err
}

// load returns the user's item for contact; for a contact not in the
// roster, an item with subscription none whose PendingIn says whether a
// request from the contact is pending.
func (m *Module) load(ctx context.Context, user, contact string) (storage.RosterItem, bool, error) {
	it, err := m.store.RosterItem(ctx, user, contact)
	if err == nil {
		return it, true, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return it, false, err
	}
	pending, err := m.hasPending(ctx, user, contact)
	return storage.RosterItem{JID: contact, Subscription: "none", PendingIn: pending}, false, err
}

func (m *Module) hasPending(ctx context.Context, user, contact string) (bool, error) {
	reqs, err := m.store.PendingSubscriptions(ctx, user)
	if err != nil {
		return false, err
	}
	for _, p := range reqs {
		if p.From == contact {
			return true, nil
		}
	}
	return false, nil
}

// outboundSubscription handles subscribe, subscribed, unsubscribe and
// unsubscribed sent by a user's resource (RFC 6121 §3.1.2, §3.1.5, §3.2.2,
// §3.3.2, §3.4).
func (m *Module) outboundSubscription(ctx context.Context, res *router.Resource, contact jid.JID, p *stanza.Element) {
	user := res.JID.Bare()
	if contact.Equal(user) {
		return // the user is implicitly subscribed to himself
	}
	typ := p.Type()
	c, err := m.transition(ctx, user.String(), contact.String(), func(s state) (state, effect) { return outbound(typ, s) }, nil)
	if err != nil {
		m.log.Error().Err(err).Str("user", user.String()).Str("contact", contact.String()).Str("type", typ).Msg("outbound subscription failed")
		m.refuse(ctx, res, p, stanza.Err("internal-server-error"))
		return
	}
	m.log.Debug().Str("user", user.String()).Str("contact", contact.String()).Str("type", typ).Bool("routed", c.forward).Msg("outbound subscription")
	if c.written && c.visible() {
		m.push(ctx, user.String(), itemElement(c.item), c.ver)
	}
	if !c.forward {
		return
	}
	out := p.ShallowCopy()
	out.SetAttr("from", user.String())
	out.SetAttr("to", contact.String())
	m.r.DeliverPresence(ctx, contact, out)
	switch {
	case typ == "subscribed":
		m.sendPresence(ctx, user, contact)
	case typ == "unsubscribed" && c.old.From:
		m.sendUnavailable(ctx, user, contact)
	}
}

// inboundSubscription handles a subscription stanza from contact to a
// local user (RFC 6121 §3.1.3, §3.1.6, §3.2.3, §3.3.3, §3.4).
func (m *Module) inboundSubscription(ctx context.Context, user, contact jid.JID, p *stanza.Element) {
	if contact.Equal(user) {
		return
	}
	typ := p.Type()
	in := p.ShallowCopy()
	in.SetAttr("from", contact.String())
	in.SetAttr("to", user.String())
	var request []byte
	if typ == "subscribe" {
		request = in.Bytes()
	}
	c, err := m.transition(ctx, user.String(), contact.String(), func(s state) (state, effect) { return inbound(typ, s) }, request)
	if err != nil {
		m.log.Error().Err(err).Str("user", user.String()).Str("contact", contact.String()).Str("type", typ).Msg("inbound subscription failed")
		return
	}
	m.log.Debug().Str("user", user.String()).Str("contact", contact.String()).Str("type", typ).
		Bool("delivered", c.forward).Bool("auto_reply", c.autoReply).Msg("inbound subscription")
	if c.written && c.visible() {
		m.push(ctx, user.String(), itemElement(c.item), c.ver)
	}
	if c.forward {
		m.r.DeliverToResources(ctx, user, in)
	}
	switch {
	case c.autoReply:
		reply := stanza.New("", "presence", "type", "subscribed", "from", user.String(), "to", contact.String())
		m.r.DeliverPresence(ctx, contact, reply)
		m.sendPresence(ctx, user, contact)
	case typ == "unsubscribe" && c.forward && c.old.From:
		m.sendUnavailable(ctx, user, contact)
	}
}

// sendPresence sends the current presence of each available resource of
// user to contact, who was just allowed to see it.
func (m *Module) sendPresence(ctx context.Context, user, contact jid.JID) {
	for _, res := range m.r.Resources(user.String()) {
		p := res.Presence()
		if p == nil {
			continue
		}
		out := p.ShallowCopy()
		out.SetAttr("to", contact.String())
		m.r.DeliverPresence(ctx, contact, out)
	}
}

// sendUnavailable tells contact, no longer allowed to see user's
// presence, that each available resource of user is unavailable.
func (m *Module) sendUnavailable(ctx context.Context, user, contact jid.JID) {
	for _, res := range m.r.Resources(user.String()) {
		if !res.Available() {
			continue
		}
		out := stanza.New("", "presence", "type", "unavailable", "from", res.JID.String(), "to", contact.String())
		m.r.DeliverPresence(ctx, contact, out)
	}
}

// redeliverPending sends res every subscription request still awaiting
// the user's decision (RFC 6121 §3.1.3).
func (m *Module) redeliverPending(ctx context.Context, res *router.Resource) {
	user := res.JID.Bare().String()
	reqs, err := m.store.PendingSubscriptions(ctx, user)
	if err != nil {
		m.log.Error().Err(err).Str("user", user).Msg("loading pending subscriptions failed")
		return
	}
	for _, req := range reqs {
		el, err := stanza.ParseBytes(req.Stanza)
		if err != nil {
			m.log.Error().Err(fmt.Errorf("stored request from %s: %w", req.From, err)).Str("user", user).Msg("dropping unreadable subscription request")
			continue
		}
		m.r.Send(ctx, res, el)
	}
}
