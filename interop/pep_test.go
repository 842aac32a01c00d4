package interop_test

import (
	"testing"

	"parley/internal/testutil"
)

// TestSlixmppPEP runs slixmpp/pep.py: nickname (XEP-0172), avatar
// (XEP-0084), OMEMO device lists and bundles in both namespaces,
// bookmarks (XEP-0402) through the XEP-0223 profile, retraction,
// publish-options preconditions, node configuration and access models,
// with slixmpp's XEP-0060, XEP-0163 and XEP-0115 plugins: notifications
// go to the resources whose capabilities ask for them, and a new
// resource gets the last items.
func TestSlixmppPEP(t *testing.T) {
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := slixmppServer(t, "")
	srv.AddUser("carol", "carol-pw")
	alice, bob := "alice@"+srv.Domain, "bob@"+srv.Domain
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	host, port := splitAddr(t, srv.Addr)
	out, err := runScript(t, scenarioTimeout, py, "slixmpp/pep.py",
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw",
		"--stranger", "carol", "--stranger-password", "carol-pw", "pep")
	if err != nil {
		t.Fatalf("slixmpp pep: %v\n%s", err, failLines(out))
	}
}
