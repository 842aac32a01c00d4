package roster

import (
	"context"
	"errors"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// proberKey carries, through the synchronous delivery of a local presence
// probe, the full JID of the resource whose initial presence caused it, so
// the answers go to that resource only (RFC 6121 §4.3.2).
type proberKey struct{}

// OutboundPresence implements router.PresenceHandler: p comes from res,
// with from stamped.
func (m *Module) OutboundPresence(ctx context.Context, res *router.Resource, p *stanza.Element) {
	typ := p.Type()
	switch typ {
	case "", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
	default:
		m.refuse(ctx, res, p, stanza.ErrText("bad-request", "unknown presence type"))
		return
	}
	if p.To() == "" {
		switch typ {
		case "":
			m.available(ctx, res, p)
		case "unavailable":
			m.unavailable(ctx, res, p)
		}
		// Other types need an addressee and are ignored without one.
		return
	}
	to, err := m.r.ParseJID(p.To())
	if err != nil {
		m.refuse(ctx, res, p, stanza.ErrText("jid-malformed", "invalid to address"))
		return
	}
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		m.outboundSubscription(ctx, res, to.Bare(), p)
	case "probe", "error":
		m.r.DeliverPresence(ctx, to, p)
	default:
		m.directed(ctx, res, to, p)
	}
}

// refuse answers presence from res with an error. The reply goes to res
// directly: without a 'to', the error has no sender to route it from.
func (m *Module) refuse(ctx context.Context, res *router.Resource, p *stanza.Element, e stanza.Error) {
	if p.To() != "" {
		m.r.Bounce(ctx, p, e)
		return
	}
	if reply := stanza.ErrorReply(p, e); reply != nil {
		m.r.Send(ctx, res, reply)
	}
}

// InboundPresence implements router.PresenceHandler: p is addressed to
// the existing local account to (bare or full JID), from anywhere.
func (m *Module) InboundPresence(ctx context.Context, to jid.JID, p *stanza.Element) {
	from, err := m.r.ParseJID(p.From())
	if err != nil || p.From() == "" {
		return
	}
	switch p.Type() {
	case "", "unavailable", "error":
		m.r.DeliverToResources(ctx, to, p)
	case "probe":
		m.probe(ctx, to.Bare(), from)
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		m.inboundSubscription(ctx, to.Bare(), from.Bare(), p)
	}
}

// available handles broadcast available presence (RFC 6121 §4.2.2,
// §4.4.2). Initial presence also probes the contacts the user is
// subscribed to, shows the new resource the user's other resources,
// re-delivers pending subscription requests and runs the router's
// available hooks.
func (m *Module) available(ctx context.Context, res *router.Resource, p *stanza.Element) {
	user := res.JID.Bare()
	initial := res.SetPresence(p)
	items := m.roster(ctx, user.String())
	if initial {
		pctx := context.WithValue(ctx, proberKey{}, res.JID)
		for _, it := range items {
			if s := stateOf(it); s.To {
				if contact, err := m.r.ParseJID(it.JID); err == nil {
					probe := stanza.New("", "presence", "type", "probe", "from", user.String(), "to", it.JID)
					m.r.DeliverPresence(pctx, contact, probe)
				}
			}
		}
	}
	m.broadcast(ctx, res, p, items)
	for _, o := range m.r.Resources(user.String()) {
		if !o.Available() {
			continue
		}
		out := p.ShallowCopy()
		out.SetAttr("to", o.JID.String())
		m.r.Send(ctx, o, out)
	}
	if !initial {
		return
	}
	for _, o := range m.r.Resources(user.String()) {
		if o == res {
			continue
		}
		if op := o.Presence(); op != nil {
			out := op.ShallowCopy()
			out.SetAttr("to", res.JID.String())
			m.r.Send(ctx, res, out)
		}
	}
	m.redeliverPending(ctx, res)
	m.r.ResourceAvailable(ctx, res)
}

// unavailable handles broadcast unavailable presence, explicit or for a
// vanished resource (RFC 6121 §4.5.2): subscribers and the user's other
// resources learn it if the resource was available, and so does every
// entity it sent directed presence to.
func (m *Module) unavailable(ctx context.Context, res *router.Resource, p *stanza.Element) {
	user := res.JID.Bare()
	was := res.Available()
	res.SetPresence(p)
	directed := res.TakeDirected()
	if was {
		m.broadcast(ctx, res, p, m.roster(ctx, user.String()))
		for _, o := range m.r.Resources(user.String()) {
			if o == res || !o.Available() {
				continue
			}
			out := p.ShallowCopy()
			out.SetAttr("to", o.JID.String())
			m.r.Send(ctx, o, out)
		}
	}
	for _, d := range directed {
		to, err := m.r.ParseJID(d)
		if err != nil {
			continue
		}
		out := p.ShallowCopy()
		out.SetAttr("to", d)
		m.r.DeliverPresence(ctx, to, out)
	}
}

// broadcast sends p to every contact subscribed to the user's presence.
func (m *Module) broadcast(ctx context.Context, res *router.Resource, p *stanza.Element, items []storage.RosterItem) {
	for _, it := range items {
		if !stateOf(it).From {
			continue
		}
		contact, err := m.r.ParseJID(it.JID)
		if err != nil {
			continue
		}
		out := p.ShallowCopy()
		out.SetAttr("to", it.JID)
		m.r.DeliverPresence(ctx, contact, out)
	}
}

// anyAvailable reports whether the user has an available resource.
func (m *Module) anyAvailable(user jid.JID) bool {
	for _, res := range m.r.Resources(user.String()) {
		if res.Available() {
			return true
		}
	}
	return false
}

// roster loads the user's roster for a broadcast; on failure it logs and
// returns none, so presence still reaches the user's own resources.
func (m *Module) roster(ctx context.Context, user string) []storage.RosterItem {
	items, _, err := m.store.Roster(ctx, user)
	if err != nil {
		m.log.Error().Err(err).Str("user", user).Msg("loading roster for presence failed")
	}
	return items
}

// directed delivers presence the user addressed to one entity and tracks
// available directed presence, so the entity learns when the resource
// goes away (RFC 6121 §4.6). Presence to a subscribed contact of an
// available resource needs no tracking: the broadcast reaches it.
func (m *Module) directed(ctx context.Context, res *router.Resource, to jid.JID, p *stanza.Element) {
	m.r.DeliverPresence(ctx, to, p)
	user := res.JID.Bare()
	if to.Bare().Equal(user) {
		return // the user's own resources see the broadcast anyway
	}
	if p.Type() == "unavailable" {
		res.RemoveDirected(to.String())
		return
	}
	if res.Available() {
		it, err := m.store.RosterItem(ctx, user.String(), to.Bare().String())
		if err == nil && stateOf(it).From {
			return
		}
	}
	res.AddDirected(to.String())
}

// probe answers a presence probe from "from" to the user (RFC 6121
// §4.3.2): entities not subscribed to the user's presence get
// unsubscribed; subscribers get the last presence of every available
// resource, addressed to the probing resource when it is known, or
// unavailable presence from the user's bare JID when there is none.
func (m *Module) probe(ctx context.Context, user, from jid.JID) {
	if m.r.Serves(from.Domainpart()) && !m.anyAvailable(user) {
		// A local prober's roster and the user's agree (this server keeps
		// both), and with no available resource there is nothing to send.
		return
	}
	if !from.Bare().Equal(user) {
		it, err := m.store.RosterItem(ctx, user.String(), from.Bare().String())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Error().Err(err).Str("user", user.String()).Msg("answering presence probe failed")
			return
		}
		if err != nil || !stateOf(it).From {
			reply := stanza.New("", "presence", "type", "unsubscribed", "from", user.String(), "to", from.Bare().String())
			m.r.DeliverPresence(ctx, from.Bare(), reply)
			return
		}
	}
	to := from
	if prober, ok := ctx.Value(proberKey{}).(jid.JID); ok && prober.Bare().Equal(from.Bare()) {
		to = prober
	}
	if m.sendLastPresence(ctx, user, to) > 0 {
		return
	}
	// RFC 6121 §4.3.2 (3): with no available resource, the prober learns
	// that the user is offline. Without this, a remote prober could not
	// tell an offline contact from an unanswered probe.
	out := stanza.New("", "presence", "type", "unavailable", "from", user.String(), "to", to.String())
	m.r.DeliverPresence(ctx, to, out)
}

// sendLastPresence sends to "to" the last presence of every available
// resource of user and reports how many it sent.
func (m *Module) sendLastPresence(ctx context.Context, user, to jid.JID) int {
	n := 0
	for _, res := range m.r.Resources(user.String()) {
		p := res.Presence()
		if p == nil {
			continue
		}
		out := p.ShallowCopy()
		out.SetAttr("to", to.String())
		m.r.DeliverPresence(ctx, to, out)
		n++
	}
	return n
}
