// Package push implements Push Notifications (XEP-0357): a client
// registers an app server (its JID and node) for the account, and when a
// message or a subscription request arrives while none of the account's
// sessions is connected (all ended, or waiting to be resumed under stream
// management), parley publishes a summary to the app server, which wakes
// the phone through its vendor's push service.
package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/dataform"
	"parley/internal/usercache"
	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Namespaces.
const (
	NS             = "urn:xmpp:push:0"
	NSSummary      = "urn:xmpp:push:summary"
	NSPubSub       = "http://jabber.org/protocol/pubsub"
	NSPublishOpts  = "http://jabber.org/protocol/pubsub#publish-options"
	documentKind   = "push"
	maxCached      = 10000
	responseExpiry = time.Minute
)

// MaxRegistrations bounds the app servers one account may register.
const MaxRegistrations = 20

// Spec declares the module; it is always on.
func Spec() module.Spec {
	return module.Spec{
		Name: "push",
		Setup: func(h *module.Host) (any, error) {
			return Register(h.Router, h.Store, Options{IncludeBody: h.Config.Push.IncludeBody, Log: h.Log}), nil
		},
	}
}

// Options configure the module.
type Options struct {
	// IncludeBody puts the message's text in the notification: the app
	// server, and the phone vendor's service, then see it.
	IncludeBody bool
	Log         zerolog.Logger
}

// registration is one enabled app server.
type registration struct {
	JID, Node string
	// Options is the publish-options form given when enabling, or nil.
	Options *stanza.Element
}

// Module is the push module.
type Module struct {
	r     *router.Router
	store storage.Documents
	o     Options
	regs  *usercache.Cache[[]registration]

	mu      sync.Mutex
	pending map[string]pendingPush // notification iq id -> what it was for
	counts  map[string]int         // messages notified per account since it was last online
	update  sync.Mutex             // serializes changes of registrations
}

type pendingPush struct {
	user string
	reg  registration
	sent time.Time
}

// Register installs the module on r.
func Register(r *router.Router, store storage.Documents, o Options) *Module {
	m := &Module{r: r, store: store, o: o, regs: usercache.New[[]registration](maxCached), pending: make(map[string]pendingPush), counts: make(map[string]int)}
	r.AddFeature(router.TargetAccount, NS)
	r.HandleIQ(router.TargetAccount, NS, m.handleIQ)
	// After blocking and the archive: what they drop is not notified.
	r.Hook(router.Chosen, -100, m.chosen)
	r.Hook(router.ToAccount, 100, m.response)
	r.Hook(router.PresenceObserved, 0, m.presence)
	r.OnAvailable(func(ctx context.Context, res *router.Resource) {
		m.mu.Lock()
		delete(m.counts, res.Bare)
		m.mu.Unlock()
	})
	// A deleted account's app servers are gone from storage: an account
	// created under the same name must not notify them.
	r.OnAccountDeleted(func(_ context.Context, bare jid.JID) {
		m.regs.Forget(bare.String())
		m.mu.Lock()
		delete(m.counts, bare.String())
		m.mu.Unlock()
	})
	return m
}

// handleIQ enables and disables app servers (XEP-0357 §5, §6).
func (m *Module) handleIQ(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if !iq.Own() || iq.Resource == nil {
		return nil, stanza.ErrText("forbidden", "push notifications are set up by the account's own clients")
	}
	if !iq.Set() {
		return nil, stanza.ErrText("bad-request", "enable and disable are iq sets")
	}
	p := iq.Payload
	service, err := jid.Parse(p.Attr("jid"))
	if err != nil {
		return nil, stanza.ErrText("bad-request", "the jid attribute must be the app server's JID")
	}
	user := iq.To.Bare().String()
	reg := registration{JID: service.String(), Node: p.Attr("node")}
	switch p.Local {
	case "enable":
		if reg.Node == "" {
			return nil, stanza.ErrText("bad-request", "enable needs the node the app server gave")
		}
		if x := p.Child(dataform.NS, "x"); x != nil {
			if dataform.Parse(x).FormType() != NSPublishOpts {
				return nil, stanza.ErrText("bad-request", "the form must be of type "+NSPublishOpts)
			}
			reg.Options = x
		}
		err = m.change(ctx, user, func(regs []registration) ([]registration, error) {
			out := regs[:0:0]
			for _, r := range regs {
				if r.JID != reg.JID || r.Node != reg.Node {
					out = append(out, r)
				}
			}
			if len(out) >= MaxRegistrations {
				return nil, stanza.ErrText("resource-constraint", "too many app servers are registered; disable one first")
			}
			return append(out, reg), nil
		})
	case "disable":
		err = m.change(ctx, user, func(regs []registration) ([]registration, error) {
			out := regs[:0:0]
			for _, r := range regs {
				if r.JID != reg.JID || (reg.Node != "" && r.Node != reg.Node) {
					out = append(out, r)
				}
			}
			return out, nil
		})
	default:
		return nil, stanza.ErrText("feature-not-implemented", "unknown push request")
	}
	if err != nil {
		return nil, err
	}
	m.o.Log.Info().Str("user", user).Str("app_server", reg.JID).Str("action", p.Local).Msg("push notifications changed")
	return nil, nil
}

// registrations returns user's app servers.
func (m *Module) registrations(ctx context.Context, user string) []registration {
	return m.regs.Get(user, func(user string) []registration {
		regs, err := m.load(ctx, user)
		if err != nil {
			m.o.Log.Error().Err(err).Str("user", user).Msg("loading push registrations failed")
		}
		return regs
	})
}

func (m *Module) load(ctx context.Context, user string) ([]registration, error) {
	data, err := m.store.Document(ctx, user, documentKind, "")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	doc, err := stanza.Parse(string(data))
	if err != nil {
		return nil, err
	}
	var regs []registration
	for _, e := range doc.ChildrenNamed(NS, "enable") {
		regs = append(regs, registration{JID: e.Attr("jid"), Node: e.Attr("node"), Options: e.Child(dataform.NS, "x")})
	}
	return regs, nil
}

// change applies edit to user's registrations and stores the outcome.
func (m *Module) change(ctx context.Context, user string, edit func([]registration) ([]registration, error)) error {
	m.update.Lock()
	defer m.update.Unlock()
	regs, err := m.load(ctx, user)
	if err != nil {
		return err
	}
	regs, err = edit(regs)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		err = m.store.DeleteDocument(ctx, user, documentKind, "")
	} else {
		doc := stanza.New(NS, "push")
		for _, r := range regs {
			e := stanza.New(NS, "enable", "jid", r.JID, "node", r.Node)
			if r.Options != nil {
				e.Append(r.Options)
			}
			doc.Append(e)
		}
		err = m.store.PutDocument(ctx, user, documentKind, "", doc.Bytes())
	}
	if err != nil {
		return err
	}
	m.regs.Put(user, regs)
	return nil
}

// away reports whether none of user's sessions is connected.
func (m *Module) away(user string) bool {
	for _, res := range m.r.Resources(user) {
		if !res.Waiting() {
			return false
		}
	}
	return true
}

// worthNotifying reports whether a message is one a user wants to be
// woken for: one with a text or an encrypted payload (OMEMO, OpenPGP).
func worthNotifying(el *stanza.Element) bool {
	switch el.Type() {
	case "error", "headline", "groupchat":
		return false
	}
	if el.Child("", "body") != nil {
		return true
	}
	for _, c := range el.Elements() {
		switch c.Space {
		case "eu.siacs.conversations.axolotl", "urn:xmpp:omemo:2", "urn:xmpp:openpgp:0", "jabber:x:encrypted":
			return true
		}
	}
	return false
}

// chosen notifies a message to an account none of whose sessions is
// connected.
func (m *Module) chosen(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Local != "message" || !worthNotifying(el) || router.Rerouted(ctx) {
		// A stanza routed again was notified the first time.
		return router.Continue
	}
	user := ev.ToBare()
	regs := m.registrations(ctx, user)
	if len(regs) == 0 || !m.away(user) {
		return router.Continue
	}
	m.mu.Lock()
	m.counts[user]++
	count := m.counts[user]
	m.mu.Unlock()
	fields := []*stanza.Element{
		dataform.Field("message-count", "", "", strconv.Itoa(count)),
		dataform.Field("last-message-sender", "", "", el.From()),
	}
	if m.o.IncludeBody {
		if b := el.ChildText("", "body"); b != "" {
			fields = append(fields, dataform.Field("last-message-body", "", "", b))
		}
	}
	m.notify(ctx, user, regs, fields)
	return router.Continue
}

// presence notifies a subscription request to an account none of whose
// sessions is connected.
func (m *Module) presence(ctx context.Context, ev *router.Event) router.Verdict {
	if ev.Session != nil || ev.Stanza.Type() != "subscribe" || ev.To.Localpart() == "" {
		return router.Continue
	}
	user := ev.To.Bare().String()
	if !m.r.Serves(ev.To.Domainpart()) {
		return router.Continue
	}
	regs := m.registrations(ctx, user)
	if len(regs) == 0 || !m.away(user) {
		return router.Continue
	}
	m.notify(ctx, user, regs, []*stanza.Element{
		dataform.Field("pending-subscription-count", "", "", "1"),
	})
	return router.Continue
}

// notify publishes the summary fields to each app server (XEP-0357 §7).
func (m *Module) notify(ctx context.Context, user string, regs []registration, fields []*stanza.Element) {
	now := time.Now()
	for _, reg := range regs {
		form := dataform.New("submit", NSSummary)
		form.Append(cloneAll(fields)...)
		publish := stanza.New(NSPubSub, "publish", "node", reg.Node).Append(
			stanza.New(NSPubSub, "item").Append(stanza.New(NS, "notification").Append(form)))
		pubsub := stanza.New(NSPubSub, "pubsub").Append(publish)
		if reg.Options != nil {
			pubsub.Append(stanza.New(NSPubSub, "publish-options").Append(reg.Options.Copy()))
		}
		id := newID()
		iq := stanza.New("", "iq", "type", "set", "id", id, "from", user, "to", reg.JID).Append(pubsub)
		m.mu.Lock()
		for k, p := range m.pending {
			if now.Sub(p.sent) > responseExpiry {
				delete(m.pending, k)
			}
		}
		m.pending[id] = pendingPush{user: user, reg: reg, sent: now}
		m.mu.Unlock()
		m.r.Deliver(ctx, iq)
	}
}

// response takes the app server's answer to a notification; an error
// disables the registration (XEP-0357 §9).
func (m *Module) response(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Local != "iq" || (el.Type() != "result" && el.Type() != "error") || ev.To.Resourcepart() != "" {
		return router.Continue
	}
	m.mu.Lock()
	p, ok := m.pending[el.ID()]
	if ok && p.user == ev.ToBare() {
		delete(m.pending, el.ID())
	}
	m.mu.Unlock()
	if !ok || p.user != ev.ToBare() {
		return router.Continue
	}
	if el.Type() == "error" {
		err := m.change(ctx, p.user, func(regs []registration) ([]registration, error) {
			out := regs[:0:0]
			for _, r := range regs {
				if r.JID != p.reg.JID || r.Node != p.reg.Node {
					out = append(out, r)
				}
			}
			return out, nil
		})
		if err != nil {
			m.o.Log.Error().Err(err).Str("user", p.user).Msg("disabling push notifications failed")
		} else {
			m.o.Log.Info().Str("user", p.user).Str("app_server", p.reg.JID).Msg("push notifications disabled: the app server answered with an error")
		}
	}
	return router.Handled
}

func cloneAll(els []*stanza.Element) []stanza.Node {
	out := make([]stanza.Node, len(els))
	for i, e := range els {
		out[i] = e.Copy()
	}
	return out
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "push-" + hex.EncodeToString(b)
}
