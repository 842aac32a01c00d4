// Package disco implements Service Discovery (XEP-0030) for the server and,
// on their behalf, for local accounts. Features, identities and server
// items come from the router, where every module registers its own.
package disco

import (
	"context"

	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/streamfeature"
)

// XEP-0030 namespaces.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Disco answers disco#info and disco#items queries from what the router
// holds: the features, identities and items every module registered.
type Disco struct {
	r       *router.Router
	rosters storage.Rosters
	caps    caps
}

// Register installs disco#info and disco#items for served domains and
// local accounts. The server identifies as server/im; accounts as
// account/registered.
//
// Queries to an account are answered, as XEP-0030 §8 requires, only to
// the account itself, its server and contacts with a presence subscription
// ("from" or "both"): others get service-unavailable for disco#info and an
// empty disco#items result.
func Register(r *router.Router, rosters storage.Rosters) *Disco {
	d := &Disco{r: r, rosters: rosters}
	r.AddIdentity(router.TargetServer, router.Identity{Category: "server", Type: "im", Name: "parley"})
	r.AddIdentity(router.TargetAccount, router.Identity{Category: "account", Type: "registered"})
	for _, t := range []router.Target{router.TargetServer, router.TargetAccount} {
		r.AddFeature(t, NSInfo)
		r.AddFeature(t, NSItems)
	}
	r.HandleIQ(router.TargetServer, NSInfo, d.serverInfo)
	r.HandleIQ(router.TargetServer, NSItems, d.serverItems)
	r.HandleIQ(router.TargetAccount, NSInfo, d.accountInfo)
	r.HandleIQ(router.TargetAccount, NSItems, d.accountItems)
	return d
}

func (d *Disco) serverInfo(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	// The node of the server's entity capabilities names this same
	// information (XEP-0115 §6.2).
	if node := iq.Payload.Attr("node"); node != "" && node == d.capsNode() {
		return d.info(router.TargetServer).SetAttr("node", node), nil
	}
	if iq.Payload.HasAttr("node") {
		return d.node(ctx, iq, router.TargetServer)
	}
	return d.info(router.TargetServer), nil
}

func (d *Disco) serverItems(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	if iq.Payload.HasAttr("node") {
		return d.node(ctx, iq, router.TargetServer)
	}
	q := stanza.New(NSItems, "query")
	for _, it := range d.r.Items() {
		q.Append(stanza.New(NSItems, "item", "jid", it.JID).SetAttr("name", it.Name))
	}
	return q, nil
}

func (d *Disco) accountInfo(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	ok, err := guard.SeesPresence(ctx, d.rosters, iq.To, iq.From)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stanza.Err("service-unavailable")
	}
	if iq.Payload.HasAttr("node") {
		return d.node(ctx, iq, router.TargetAccount)
	}
	if err := check(iq); err != nil {
		return nil, err
	}
	return d.info(router.TargetAccount), nil
}

// accountItems lists the account's available resources to those allowed
// to see its presence (XEP-0030 §4.1, §8), followed by the items the
// account's node providers list at the top level (personal eventing
// nodes), which decide themselves whom they show them to.
func (d *Disco) accountItems(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	if iq.Payload.HasAttr("node") {
		return d.node(ctx, iq, router.TargetAccount)
	}
	ok, err := guard.SeesPresence(ctx, d.rosters, iq.To, iq.From)
	if err != nil {
		return nil, err
	}
	q := stanza.New(NSItems, "query")
	if ok {
		for _, res := range d.r.Resources(iq.To.String()) {
			if res.Available() {
				q.Append(stanza.New(NSItems, "item", "jid", res.JID.String()))
			}
		}
	}
	for _, p := range d.r.Nodes(router.TargetAccount) {
		more, found, err := p.DiscoItems(ctx, iq, "")
		if err != nil {
			return nil, err
		}
		if found {
			q.Append(more.Children...)
		}
	}
	return q, nil
}

// check validates a disco query: a get of <query/> without a node, since
// parley defines no nodes.
func check(iq *router.IQ) error {
	if err := guard.Get(iq, "query"); err != nil {
		return err
	}
	if iq.Payload.HasAttr("node") {
		return stanza.ErrText("item-not-found", "unknown node")
	}
	return nil
}

// node answers a disco#info or disco#items query (iq.Payload says which)
// to a node of target from the router's node providers: the first that
// knows the node answers; item-not-found if none does.
func (d *Disco) node(ctx context.Context, iq *router.IQ, target router.Target) (*stanza.Element, error) {
	node := iq.Payload.Attr("node")
	for _, p := range d.r.Nodes(target) {
		var (
			q   *stanza.Element
			ok  bool
			err error
		)
		if iq.Payload.Space == NSInfo {
			q, ok, err = p.DiscoInfo(ctx, iq, node)
		} else {
			q, ok, err = p.DiscoItems(ctx, iq, node)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return q.SetAttr("node", node), nil
		}
	}
	return nil, stanza.ErrText("item-not-found", "unknown node")
}

// info builds the disco#info result for target.
func (d *Disco) info(target router.Target) *stanza.Element {
	q := stanza.New(NSInfo, "query")
	for _, id := range d.r.Identities(target) {
		q.Append(stanza.New(NSInfo, "identity", "category", id.Category, "type", id.Type).SetAttr("name", id.Name))
	}
	prev := ""
	for _, f := range d.r.Features(target) { // sorted
		if f != prev {
			q.Append(stanza.New(NSInfo, "feature", "var", f))
		}
		prev = f
	}
	// Extended information (XEP-0128).
	for _, form := range d.r.InfoForms(target) {
		q.Append(form.Copy())
	}
	return q
}

// Spec declares Service Discovery (XEP-0030) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "disco", Setup: func(h *module.Host) (any, error) {
		d := Register(h.Router, h.Store)
		// XEP-0115: the server's own capabilities in stream features,
		// before and after authentication.
		h.Features.AddFunc(streamfeature.Unauthenticated, d.serverCaps)
		h.Features.AddFunc(streamfeature.Authenticated, d.serverCaps)
		h.Router.AddFeature(router.TargetServer, NSCaps)
		return d, nil
	}}
}
