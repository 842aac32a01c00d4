// Package carbons implements Message Carbons (XEP-0280): each of a
// user's clients that enables carbons receives a copy of the one-to-one
// messages the user's other clients send and receive, so that a
// conversation follows the user from phone to desk.
package carbons

import (
	"context"
	"sync"

	"mellium.im/xmpp/jid"

	"parley/archive"
	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/streamfeature"
)

// Namespaces.
const (
	NS        = "urn:xmpp:carbons:2"
	NSForward = "urn:xmpp:forward:0"
	nsHints   = "urn:xmpp:hints"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
)

// Priorities of the module's hooks: spoofed carbons are refused before
// any other module sees the message (the archive, say); copies are made
// after the others had their say.
const (
	spoofPriority = 1000
	copyPriority  = -200
)

// enabledKey marks a resource that enabled carbons.
type enabledKey struct{}

// Module keeps track of carbons-enabled resources and sends them copies.
type Module struct {
	r *router.Router

	mu      sync.RWMutex
	enabled map[string]int // bare JID -> carbons-enabled resources
}

// Spec declares Message Carbons as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "carbons", Setup: func(h *module.Host) (any, error) {
		m := Register(h.Router)
		if h.Features != nil {
			// XEP-0386: carbons enabled inline in a Bind 2 request.
			h.Features.AddBindInline(streamfeature.BindInline{Var: NS, Enable: m.enableInline})
		}
		return m, nil
	}}
}

// Register installs carbons in r.
func Register(r *router.Router) *Module {
	m := &Module{r: r, enabled: make(map[string]int)}
	r.HandleIQ(router.TargetAccount, NS, m.handleIQ)
	r.AddFeature(router.TargetServer, NS)
	r.Hook(router.FromSession, spoofPriority, m.refuseSpoofed)
	r.Hook(router.ToAccount, spoofPriority, m.dropInjected)
	r.Hook(router.FromSession, copyPriority, m.sent)
	r.Hook(router.Chosen, copyPriority, m.received)
	r.OnUnbind(func(_ context.Context, res *router.Resource) { m.setEnabled(res, false) })
	return m
}

// handleIQ enables or disables carbons for the asking resource (XEP-0280
// §4); repeated requests succeed (§8.1).
func (m *Module) handleIQ(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	if !iq.Own() || iq.Resource == nil {
		return nil, stanza.ErrText("forbidden", "only a client of the account may set its carbons")
	}
	if !iq.Set() {
		return nil, stanza.ErrText("bad-request", "carbons are enabled or disabled with an iq set")
	}
	switch iq.Payload.Local {
	case "enable":
		m.setEnabled(iq.Resource, true)
	case "disable":
		m.setEnabled(iq.Resource, false)
	default:
		return nil, stanza.ErrText("bad-request", "expected <enable/> or <disable/>")
	}
	return nil, nil
}

// enableInline enables carbons for a resource bound with Bind 2 whose
// request held <enable/> (XEP-0386 §3.2); as with the iq, no answer.
func (m *Module) enableInline(_ context.Context, res *router.Resource, req *stanza.Element) *stanza.Element {
	if req.Local == "enable" {
		m.setEnabled(res, true)
	}
	return nil
}

// setEnabled records whether res takes carbons.
func (m *Module) setEnabled(res *router.Resource, on bool) {
	bare := res.Bare
	m.mu.Lock()
	defer m.mu.Unlock()
	was := res.Value(enabledKey{}) != nil
	if was == on {
		return
	}
	if on {
		res.SetValue(enabledKey{}, true)
		m.enabled[bare]++
		return
	}
	res.SetValue(enabledKey{}, nil)
	if m.enabled[bare]--; m.enabled[bare] <= 0 {
		delete(m.enabled, bare)
	}
}

// anyEnabled reports whether some resource of bare takes carbons: the
// one check a message pays when nobody does.
func (m *Module) anyEnabled(bare string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.enabled[bare] > 0
}

// hasCarbonPayload reports whether el carries a carbons wrapper.
func hasCarbonPayload(el *stanza.Element) bool {
	return el.Child(NS, "sent") != nil || el.Child(NS, "received") != nil
}

// refuseSpoofed refuses a client's message that carries a carbons
// wrapper: copies come from the server only (XEP-0280 §11), and passing
// one on could make a contact's client take it for a copy of its own.
func (m *Module) refuseSpoofed(ctx context.Context, ev *router.Event) router.Verdict {
	if ev.Stanza.Kind() != "message" || !hasCarbonPayload(ev.Stanza) {
		return router.Continue
	}
	m.r.Bounce(ctx, ev.Stanza, stanza.ErrText("not-acceptable", "carbon copies are made by the server, not sent by clients"))
	return router.Handled
}

// dropInjected drops a message carrying a carbons wrapper addressed to a
// local user: genuine copies never pass through routing, so this one
// comes from another server or component trying to pass for the user's
// own.
func (m *Module) dropInjected(_ context.Context, ev *router.Event) router.Verdict {
	if ev.Stanza.Kind() == "message" && ev.Stanza.Type() != "error" && hasCarbonPayload(ev.Stanza) {
		return router.Drop
	}
	return router.Continue
}

// eligible applies XEP-0280 §6: chat messages, and normal messages with
// a body; not groupchat, headline or errors; not those marked private
// (§7) or with a no-copy hint (XEP-0334).
func eligible(el *stanza.Element) bool {
	switch el.Type() {
	case "chat":
	case "", "normal":
		if el.Child("", "body") == nil {
			return false
		}
	default:
		return false
	}
	return el.Child(NS, "private") == nil && el.Child(nsHints, "no-copy") == nil
}

// sent copies a message a client sends to the user's other
// carbons-enabled resources (XEP-0280 §6), whatever the sender's own
// setting.
func (m *Module) sent(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Kind() != "message" || ev.Session == nil {
		return router.Continue
	}
	if !m.anyEnabled(ev.Session.Bare) || !eligible(el) {
		return router.Continue
	}
	bare := ev.Session.JID.Bare()
	var orig *stanza.Element
	for _, res := range m.r.Resources(ev.Session.Bare) {
		if res == ev.Session || res.Value(enabledKey{}) == nil {
			continue
		}
		if orig == nil {
			// A copy now: the original may still change on its way
			// (the recipient's archive ID, say).
			orig = el.Copy()
			// XEP-0313 §3: the ID the sender's archive gave it.
			if id := archive.NotedID(ev); id != nil {
				orig.Append(id)
			}
		}
		m.r.Send(ctx, res, wrap("sent", bare, res.JID, orig))
	}
	return router.Continue
}

// received copies a message to the user to every carbons-enabled
// resource that does not get the original (XEP-0280 §5), and removes the
// private marker the recipient needs no longer (§7).
func (m *Module) received(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Child(NS, "private") != nil {
		el.RemoveChildren(NS, "private")
		return router.Continue
	}
	if !m.anyEnabled(ev.ToBare()) || !eligible(el) || fromGroupChat(el) {
		return router.Continue
	}
	bare := ev.To.Bare()
	var orig *stanza.Element
	for _, res := range m.r.Resources(ev.ToBare()) {
		if res.Value(enabledKey{}) == nil || targeted(ev.Targets, res) {
			continue
		}
		if orig == nil {
			orig = el.Copy()
		}
		m.r.Send(ctx, res, wrap("received", bare, res.JID, orig))
	}
	return router.Continue
}

// fromGroupChat reports whether a message comes from a group-chat room:
// XEP-0280 §6 makes those, private messages included, ineligible, since
// the user's other clients are not in the room.
func fromGroupChat(el *stanza.Element) bool { return el.Child(nsMUCUser, "x") != nil }

func targeted(targets []*router.Resource, res *router.Resource) bool {
	for _, t := range targets {
		if t == res {
			return true
		}
	}
	return false
}

// wrap builds the copy of orig for one resource: from the user's bare JID
// to the resource, keeping the type, the original in a XEP-0297
// <forwarded/> inside <sent/> or <received/>.
func wrap(direction string, bare, to jid.JID, orig *stanza.Element) *stanza.Element {
	msg := stanza.New("", "message", "from", bare.String(), "to", to.String())
	if t := orig.Type(); t != "" {
		msg.SetAttr("type", t)
	}
	return msg.Append(stanza.New(NS, direction).Append(stanza.New(NSForward, "forwarded").Append(orig)))
}
