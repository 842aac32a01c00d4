// Package version implements Software Version (XEP-0092) for the server.
package version

import (
	"context"
	"runtime/debug"

	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
)

// NS is the XEP-0092 namespace.
const NS = "jabber:iq:version"

// Name is the software name the server reports.
const Name = "parley"

// fallback is reported when the binary carries no module version.
const fallback = "dev"

// Register answers jabber:iq:version queries to served domains with the
// server's name and version and advertises the feature. The operating
// system is not disclosed (XEP-0092 §4 leaves it optional and asks that
// administrators can withhold it).
func Register(r *router.Router) {
	v := buildVersion()
	r.HandleIQ(router.TargetServer, NS, func(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
		if err := guard.Get(iq, "query"); err != nil {
			return nil, err
		}
		return stanza.New(NS, "query").Append(
			stanza.New(NS, "name").AppendText(Name),
			stanza.New(NS, "version").AppendText(v),
		), nil
	})
	r.AddFeature(router.TargetServer, NS)
}

// buildVersion returns the main module's version from the build info.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return fallback
	}
	return bi.Main.Version
}

// Spec declares Software Version (XEP-0092) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "version", Setup: func(h *module.Host) (any, error) {
		Register(h.Router)
		return nil, nil
	}}
}
