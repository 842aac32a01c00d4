package interop_test

import (
	"testing"

	"parley/internal/testutil"
)

// runModern runs one scenario of slixmpp/modern.py against srv, whose
// accounts alice and bob slixmppServer created.
func runModern(t *testing.T, srv *testutil.Server, scenario string) string {
	t.Helper()
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	host, port := splitAddr(t, srv.Addr)
	out, err := runScript(t, scenarioTimeout, py, "slixmpp/modern.py",
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw", scenario)
	if err != nil {
		t.Fatalf("slixmpp scenario %s: %v\n%s", scenario, err, failLines(out))
	}
	return out
}

// TestSlixmppCarbons drives two resources of one account and a contact
// with slixmpp's XEP-0280 plugin: received and sent carbons, private
// messages, disabling.
func TestSlixmppCarbons(t *testing.T) {
	runModern(t, slixmppServer(t, ""), "carbons")
}

// TestSlixmppMAM has a contact read the archive in pages with slixmpp's
// XEP-0313 and XEP-0059 plugins, forwards and backwards, and a new device
// of the sender catch up: every message exactly once, in order, under the
// stanza ID it was delivered with.
func TestSlixmppMAM(t *testing.T) {
	runModern(t, slixmppServer(t, "[mam]\nenabled = true\n"), "mam")
}

// TestSlixmppCSI has slixmpp's XEP-0352 plugin mark a phone inactive: a
// contact's presence changes wait, collapsed to the latest, and a message
// arrives at once, after them.
func TestSlixmppCSI(t *testing.T) {
	srv := slixmppServer(t, "")
	srv.SetSubscription("alice@"+srv.Domain, "bob@"+srv.Domain, "both")
	srv.SetSubscription("bob@"+srv.Domain, "alice@"+srv.Domain, "both")
	runModern(t, srv, "csi")
}

// TestSlixmppBlocking blocks and unblocks a contact with slixmpp's
// XEP-0191 plugin.
func TestSlixmppBlocking(t *testing.T) {
	runModern(t, slixmppServer(t, ""), "blocking")
}

// TestSlixmppStreamManagement cuts a slixmpp client's connection in the
// middle of a conversation; its XEP-0198 plugin resumes the session and
// gets exactly the messages sent meanwhile.
func TestSlixmppStreamManagement(t *testing.T) {
	runModern(t, slixmppServer(t, ""), "sm")
}

// TestSlixmppUpload has slixmpp's XEP-0363 plugin find the upload service
// and upload a file, which a contact downloads from the link sent to him.
func TestSlixmppUpload(t *testing.T) {
	testutil.RequirePythonModule(t, "aiohttp", "python3-aiohttp")
	runModern(t, slixmppServer(t, "[http]\nlisten = \"127.0.0.1:0\"\n[upload]\ndomain = \"upload.parley.test\"\nmax_file_size = 1000000\n"), "upload")
}
