package router

import "sort"

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
