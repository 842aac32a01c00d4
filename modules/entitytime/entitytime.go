// Package entitytime implements Entity Time (XEP-0202) for the server.
package entitytime

import (
	"context"
	"time"

	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
)

// NS is the XEP-0202 namespace.
const NS = "urn:xmpp:time"

// Register answers urn:xmpp:time queries to served domains with the
// current UTC time (the server reports offset +00:00) and advertises the
// feature.
func Register(r *router.Router) {
	r.HandleIQ(router.TargetServer, NS, func(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
		if err := guard.Get(iq, "time"); err != nil {
			return nil, err
		}
		return stanza.New(NS, "time").Append(
			stanza.New(NS, "tzo").AppendText("+00:00"),
			stanza.New(NS, "utc").AppendText(time.Now().UTC().Format(stanza.StampLayout)),
		), nil
	})
	r.AddFeature(router.TargetServer, NS)
}

// Spec declares Entity Time (XEP-0202) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "time", Setup: func(h *module.Host) (any, error) {
		Register(h.Router)
		return nil, nil
	}}
}
