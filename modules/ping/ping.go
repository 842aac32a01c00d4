// Package ping implements XMPP Ping (XEP-0199) for the server and for
// local accounts, which the server answers on the account's behalf.
package ping

import (
	"context"

	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
)

// NS is the XEP-0199 namespace.
const NS = "urn:xmpp:ping"

// Register answers pings to served domains and to local bare JIDs with an
// empty result and advertises urn:xmpp:ping on both.
func Register(r *router.Router) {
	for _, t := range []router.Target{router.TargetServer, router.TargetAccount} {
		r.HandleIQ(t, NS, handle)
		r.AddFeature(t, NS)
	}
}

func handle(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	return nil, guard.Get(iq, "ping")
}

// Spec declares XMPP Ping (XEP-0199) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "ping", Setup: func(h *module.Host) (any, error) {
		Register(h.Router)
		return nil, nil
	}}
}
