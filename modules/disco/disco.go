// Package disco implements Service Discovery (XEP-0030) for the server and,
// on their behalf, for local accounts. Features come from the router, where
// every module registers its own; identities and server items can be added
// by other modules through the value Register returns.
package disco

import (
	"context"
	"sync"

	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// XEP-0030 namespaces.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Identity is a disco#info identity.
type Identity struct {
	Category, Type, Name string
}

// Item is a disco#items entry of the server: a JID (a component such as a
// group chat service) and an optional human-readable name.
type Item struct {
	JID, Name string
}

// Disco answers disco#info and disco#items queries. It is safe for
// concurrent use; identities and items may be added at any time.
type Disco struct {
	r       *router.Router
	rosters storage.Rosters

	mu         sync.RWMutex
	identities map[router.Target][]Identity
	items      []Item
}

// Register installs disco#info and disco#items for served domains and
// local accounts and returns the Disco so other modules can add items and
// identities. The server identifies as server/im; accounts as
// account/registered.
//
// Queries to an account are answered, as XEP-0030 §8 requires, only to
// the account itself, its server and contacts with a presence subscription
// ("from" or "both"): others get service-unavailable for disco#info and an
// empty disco#items result.
func Register(r *router.Router, rosters storage.Rosters) *Disco {
	d := &Disco{
		r:       r,
		rosters: rosters,
		identities: map[router.Target][]Identity{
			router.TargetServer:  {{Category: "server", Type: "im", Name: "parley"}},
			router.TargetAccount: {{Category: "account", Type: "registered"}},
		},
	}
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

// AddIdentity adds an identity reported for target (for example
// pubsub/pep on accounts).
func (d *Disco) AddIdentity(target router.Target, id Identity) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.identities[target] = append(d.identities[target], id)
}

// AddItem adds an item to the server's disco#items list.
func (d *Disco) AddItem(jid, name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = append(d.items, Item{JID: jid, Name: name})
}

func (d *Disco) serverInfo(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := check(iq); err != nil {
		return nil, err
	}
	return d.info(router.TargetServer), nil
}

func (d *Disco) serverItems(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := check(iq); err != nil {
		return nil, err
	}
	q := stanza.New(NSItems, "query")
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, it := range d.items {
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
	if err := check(iq); err != nil {
		return nil, err
	}
	return d.info(router.TargetAccount), nil
}

// accountItems lists the account's available resources to those allowed
// to see its presence (XEP-0030 §4.1, §8).
func (d *Disco) accountItems(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	ok, err := guard.SeesPresence(ctx, d.rosters, iq.To, iq.From)
	if err != nil {
		return nil, err
	}
	q := stanza.New(NSItems, "query")
	if !ok {
		return q, nil
	}
	if err := check(iq); err != nil {
		return nil, err
	}
	for _, res := range d.r.Resources(iq.To.String()) {
		if res.Available() {
			q.Append(stanza.New(NSItems, "item", "jid", res.JID.String()))
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

// info builds the disco#info result for target.
func (d *Disco) info(target router.Target) *stanza.Element {
	q := stanza.New(NSInfo, "query")
	d.mu.RLock()
	for _, id := range d.identities[target] {
		q.Append(stanza.New(NSInfo, "identity", "category", id.Category, "type", id.Type).SetAttr("name", id.Name))
	}
	d.mu.RUnlock()
	prev := ""
	for _, f := range d.r.Features(target) { // sorted
		if f != prev {
			q.Append(stanza.New(NSInfo, "feature", "var", f))
		}
		prev = f
	}
	return q
}
