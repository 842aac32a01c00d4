package interop_test

import (
	"testing"

	"parley/internal/testutil"
)

// TestSlixmppConversion runs slixmpp/conversion.py: a XEP-0402 bookmark
// read back with slixmpp's XEP-0048 plugin from private storage and
// private bookmarks read as XEP-0402 items (XEP-0411); a XEP-0084 avatar
// read from the vCard with the XEP-0054 plugin (XEP-0398); and the
// avatar's hash in presence as a contact's XEP-0153 plugin sees it.
func TestSlixmppConversion(t *testing.T) {
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := slixmppServer(t, "")
	alice, bob := "alice@"+srv.Domain, "bob@"+srv.Domain
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	host, port := splitAddr(t, srv.Addr)
	out, err := runScript(t, scenarioTimeout, py, "slixmpp/conversion.py",
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw", "conversion")
	if err != nil {
		t.Fatalf("slixmpp conversion: %v\n%s", err, failLines(out))
	}
}
