package pubsub

import (
	"context"
	"slices"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/stanza"
)

// Features returns the pubsub features the service has (XEP-0060 §10),
// advertised on accounts' service discovery.
func Features() []string {
	return []string{
		NS,
		NS + "#access-open",
		NS + "#access-presence",
		NS + "#access-roster",
		NS + "#access-whitelist",
		NS + "#auto-create",
		NS + "#config-node",
		NS + "#create-nodes",
		NS + "#delete-items",
		NS + "#delete-nodes",
		NS + "#filtered-notifications",
		NS + "#item-ids",
		NS + "#last-published",
		NS + "#member-affiliation",
		NS + "#modify-affiliations",
		NS + "#persistent-items",
		NS + "#presence-notifications",
		NS + "#publish",
		NS + "#publish-options",
		NS + "#purge-nodes",
		NS + "#retract-items",
		NS + "#retrieve-affiliations",
		NS + "#retrieve-items",
		NS + "#multi-items",
	}
}

// Register installs the service with the router: the pubsub and
// pubsub#owner handlers of accounts, the pubsub/pep identity and the
// features of accounts, the hooks that follow presence and entity
// capabilities, and the node provider of accounts' service discovery.
func (s *Service) Register(r *router.Router) {
	r.HandleIQ(router.TargetAccount, NS, s.handle)
	r.HandleIQ(router.TargetAccount, NSOwner, s.handleOwner)
	r.AddIdentity(router.TargetAccount, router.Identity{Category: "pubsub", Type: "pep"})
	for _, f := range Features() {
		r.AddFeature(router.TargetAccount, f)
	}
	r.AddNodes(router.TargetAccount, discoNodes{s})

	// Presence of local resources: caps and last items.
	r.Hook(router.PresenceObserved, 0, func(ctx context.Context, ev *router.Event) router.Verdict {
		if ev.Session == nil {
			return router.Continue
		}
		if ev.Stanza.Type() == "subscribed" && ev.To.Localpart() != "" {
			// The owner approved a subscription: a new subscriber.
			s.subscribed(ctx, ev.Session.JID.Bare(), ev.To.Bare())
			return router.Continue
		}
		if ev.To.Domainpart() != "" {
			return router.Continue
		}
		switch ev.Stanza.Type() {
		case "":
			s.localAvailable(ctx, ev.Session, ev.Stanza)
		case "unavailable":
			s.localGone(ev.Session)
		}
		return router.Continue
	})
	r.OnUnbind(func(_ context.Context, res *router.Resource) { s.localGone(res) })
	// Presence from federated contacts' resources, before the router
	// drops what no local resource would see.
	r.Hook(router.FromRemote, 0, func(ctx context.Context, ev *router.Event) router.Verdict {
		if ev.Stanza.Kind() != "presence" || ev.To.Localpart() == "" || !r.Serves(ev.To.Domainpart()) {
			return router.Continue
		}
		from, err := r.ParseJID(ev.Stanza.From())
		if err != nil || from.Resourcepart() == "" || r.Serves(from.Domainpart()) {
			return router.Continue
		}
		switch ev.Stanza.Type() {
		case "":
			s.remoteAvailable(ctx, ev.To.Bare(), from, ev.Stanza)
		case "unavailable":
			s.remoteGone(ev.To.Bare(), from)
		}
		return router.Continue
	})
	// Answers to the capabilities queries, sent from accounts.
	r.Hook(router.ToAccount, 100, func(ctx context.Context, ev *router.Event) router.Verdict {
		if ev.Stanza.Kind() == "iq" && s.caps.Response(ctx, ev.Stanza) {
			return router.Handled
		}
		return router.Continue
	})
	r.OnAccountDeleted(func(_ context.Context, bare jid.JID) { s.accountDeleted(bare) })
}

// discoNodes answers service discovery of accounts' nodes: disco#items
// without a node lists the nodes the requester may retrieve items of
// (XEP-0060 §5.2), and a node's disco#info says it is a leaf node.
type discoNodes struct{ s *Service }

// DiscoInfo describes a node the requester may see.
func (d discoNodes) DiscoInfo(ctx context.Context, iq *router.IQ, name string) (*stanza.Element, bool, error) {
	if name == "" {
		return nil, false, nil
	}
	n, err := d.s.loadNode(ctx, iq.To, name)
	if err != nil || d.s.mayRetrieve(ctx, iq.To, n.cfg, iq.From) != nil {
		return nil, false, nil
	}
	q := stanza.New(NSDiscoInfo, "query")
	q.Append(stanza.New(NSDiscoInfo, "identity", "category", "pubsub", "type", "leaf"))
	q.Append(stanza.New(NSDiscoInfo, "feature", "var", NS))
	return q, true, nil
}

// DiscoItems lists the nodes the requester may see (node "") or the
// items of one.
func (d discoNodes) DiscoItems(ctx context.Context, iq *router.IQ, name string) (*stanza.Element, bool, error) {
	q := stanza.New(NSDiscoItems, "query")
	if name == "" {
		nodes, err := d.s.VisibleNodes(ctx, iq.To, iq.From)
		if err != nil {
			return nil, false, err
		}
		for _, n := range nodes {
			q.Append(stanza.New(NSDiscoItems, "item", "jid", iq.To.String(), "node", n))
		}
		return q, true, nil
	}
	n, err := d.s.loadNode(ctx, iq.To, name)
	if err != nil || d.s.mayRetrieve(ctx, iq.To, n.cfg, iq.From) != nil {
		return nil, false, nil
	}
	items, err := d.s.store.PubSubItems(ctx, iq.To.String(), name, nil, 0)
	if err != nil {
		return nil, false, err
	}
	for _, it := range items {
		q.Append(stanza.New(NSDiscoItems, "item", "jid", iq.To.String(), "name", it.ID))
	}
	return q, true, nil
}

// Service discovery namespaces.
const (
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
)

// VisibleNodes returns the names of owner's nodes whose items requester
// may retrieve, sorted.
func (s *Service) VisibleNodes(ctx context.Context, owner, requester jid.JID) ([]string, error) {
	nodes, err := s.store.PubSubNodes(ctx, owner.Bare().String())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes {
		cfg, err := decodeConfig(n.Config)
		if err != nil {
			continue
		}
		if s.mayRetrieve(ctx, owner.Bare(), cfg, requester) == nil {
			out = append(out, n.Node)
		}
	}
	slices.Sort(out)
	return out, nil
}
