package router

import (
	"context"
	"sort"

	"parley/stanza"
)

// Identity is a service discovery identity (XEP-0030) of the server or
// of accounts.
type Identity struct {
	Category, Type, Name string
}

// Item is an entry of the server's service discovery items: a JID, such
// as a component's domain, and an optional human-readable name.
type Item struct {
	JID, Name string
}

// AddIdentity adds an identity reported for target.
func (r *Router) AddIdentity(target Target, id Identity) {
	r.identities[target] = append(r.identities[target], id)
}

// Identities returns the identities of target, in the order added.
func (r *Router) Identities(target Target) []Identity {
	return append([]Identity(nil), r.identities[target]...)
}

// AddItem adds an item to the server's service discovery items.
func (r *Router) AddItem(it Item) { r.items = append(r.items, it) }

// Items returns the server's service discovery items, sorted by JID.
func (r *Router) Items() []Item {
	out := append([]Item(nil), r.items...)
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out
}

// NodeProvider answers service discovery queries to nodes of the server
// or of accounts (XEP-0030 §3.2, §4.2), such as the command list of
// ad-hoc commands (XEP-0050). Each returns the whole <query/> payload of
// the result (the disco module sets its node attribute), or ok false for
// a node it does not know, which the next provider is then asked about.
// What a requester may see is the provider's choice: iq.From is the
// requester. A disco#items query to an account without a node also asks
// each provider of TargetAccount about node "", and lists what those
// that know it return after the account's resources.
type NodeProvider interface {
	DiscoInfo(ctx context.Context, iq *IQ, node string) (q *stanza.Element, ok bool, err error)
	DiscoItems(ctx context.Context, iq *IQ, node string) (q *stanza.Element, ok bool, err error)
}

// AddNodes adds a provider of service discovery nodes of target.
func (r *Router) AddNodes(target Target, p NodeProvider) {
	r.nodes[target] = append(r.nodes[target], p)
}

// Nodes returns the node providers of target, in the order added.
func (r *Router) Nodes(target Target) []NodeProvider {
	return append([]NodeProvider(nil), r.nodes[target]...)
}

// AddInfoForm adds an extended information form (XEP-0128), a
// jabber:x:data form of type result with a FORM_TYPE, to the disco#info
// of target, such as the server's contact addresses (XEP-0157).
func (r *Router) AddInfoForm(target Target, form *stanza.Element) {
	r.infoForms[target] = append(r.infoForms[target], form)
}

// InfoForms returns the extended information forms of target, in the
// order added; callers must not modify them.
func (r *Router) InfoForms(target Target) []*stanza.Element {
	return append([]*stanza.Element(nil), r.infoForms[target]...)
}
