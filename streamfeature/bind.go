package streamfeature

import (
	"context"

	"parley/router"
	"parley/stanza"
)

// BindInline is a feature a client may enable inline, in the Bind 2
// request of its SASL2 authentication (XEP-0386), instead of with a
// request of its own once bound: Message Carbons, say. Stream Management
// and Client State Indication belong to the client stream itself and
// need no entry.
type BindInline struct {
	// Var is the feature's namespace, advertised in the Bind 2 feature
	// and matched against the elements of the client's <bind/>.
	Var string
	// Enable applies req, an element of namespace Var from the client's
	// <bind/>, to the resource just bound, before the client hears of
	// it. It returns what goes into the <bound/> answer, or nil.
	Enable func(ctx context.Context, res *router.Resource, req *stanza.Element) *stanza.Element
}

// AddBindInline offers f inline in Bind 2 requests.
func (r *Registry) AddBindInline(f BindInline) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inline = append(r.inline, f)
}

// BindInlines returns the inline features, in the order added.
func (r *Registry) BindInlines() []BindInline {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]BindInline(nil), r.inline...)
}
