package interop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
)

// runMUC runs one scenario of slixmpp/muc.py against a server with the
// group-chat service.
func runMUC(t *testing.T, scenario string) {
	t.Helper()
	const script = "slixmpp/muc.py"
	// go test caches results by the files a test opens; the script is
	// only run by another process.
	if _, err := os.ReadFile(filepath.FromSlash(script)); err != nil {
		t.Fatal(err)
	}
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := slixmppServer(t, "[muc]\ndomain = \"conference."+testutil.Domain+"\"\n")
	host, port := splitAddr(t, srv.Addr)
	args := []string{filepath.FromSlash(script),
		"--host", host, "--port", port,
		"--domain", srv.Domain, "--muc-domain", "conference." + srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw",
		scenario,
	}
	out, err := runScript(t, scenarioTimeout, py, args...)
	if err != nil {
		t.Fatalf("muc.py %s: %v\n%s", scenario, err, failLines(out))
	}
	if !strings.Contains(out, "PASS "+scenario) {
		t.Fatalf("muc.py %s exited without PASS", scenario)
	}
}

// TestSlixmppMUC runs slixmpp/muc.py: two slixmpp clients, through the
// xep_0045 plugin, create and configure a room, join it, exchange
// groupchat messages, change the subject, send a private message and
// leave.
func TestSlixmppMUC(t *testing.T) { runMUC(t, "muc") }

// TestSlixmppMUCSelfPing has slixmpp clients ping their own occupant JID
// (XEP-0410): the service answers without asking the client, passes a
// ping to another occupant on, and says not-acceptable after leaving.
func TestSlixmppMUCSelfPing(t *testing.T) { runMUC(t, "self-ping") }

// TestSlixmppMUCOccupantID has slixmpp's xep_0421 plugin read occupant
// IDs from presence, messages and history: the same for a user across a
// nickname change and a rejoin, different between users, never the one
// a client forged.
func TestSlixmppMUCOccupantID(t *testing.T) { runMUC(t, "occupant-id") }
