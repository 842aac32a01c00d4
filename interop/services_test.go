package interop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
)

// servicesConfig is what slixmpp/services.py expects of the server.
const servicesConfig = `
[contact]
abuse = ["mailto:abuse@parley.test", "xmpp:abuse@parley.test"]
admin = ["xmpp:bob@parley.test"]
security = ["https://parley.test/security"]

[[external_services]]
type = "stun"
host = "stun.parley.test"

[[external_services]]
type = "turn"
host = "turn.parley.test"
secret = "turn-shared-secret"
ttl = "1h"
`

// runServices runs one scenario of slixmpp/services.py against a server
// whose admin is bob.
func runServices(t *testing.T, scenario string) {
	t.Helper()
	const script = "slixmpp/services.py"
	// go test caches results by the files a test opens; the script is
	// only run by another process.
	if _, err := os.ReadFile(filepath.FromSlash(script)); err != nil {
		t.Fatal(err)
	}
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := testutil.Start(t, testutil.Options{Admins: []string{"bob@" + testutil.Domain}, Extra: servicesConfig})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	host, port := splitAddr(t, srv.Addr)
	out, err := runScript(t, scenarioTimeout, py, filepath.FromSlash(script),
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw", scenario)
	if err != nil {
		t.Fatalf("services.py %s: %v\n%s", scenario, err, failLines(out))
	}
	if !strings.Contains(out, "PASS "+scenario) {
		t.Fatalf("services.py %s exited without PASS", scenario)
	}
}

// TestSlixmppCommands lists and runs ad-hoc commands with slixmpp's
// XEP-0050 plugin: a user's and an admin's command lists, uptime, the
// admin's two-stage online-users forward, back and to completion,
// cancel, an ended and a made-up session, and a command forbidden to a
// user.
func TestSlixmppCommands(t *testing.T) {
	runServices(t, "commands")
}

// TestSlixmppServerInfo reads the contact addresses (XEP-0157) from the
// server's disco#info with slixmpp's XEP-0030 and XEP-0128 plugins.
func TestSlixmppServerInfo(t *testing.T) {
	runServices(t, "serverinfo")
}

// TestSlixmppExternalServices asks for STUN and TURN services (XEP-0215)
// from slixmpp and checks the TURN credentials as coturn would.
func TestSlixmppExternalServices(t *testing.T) {
	runServices(t, "extdisco")
}
