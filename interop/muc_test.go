package interop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
)

// TestSlixmppMUC runs slixmpp/muc.py: two slixmpp clients, through the
// xep_0045 plugin, create and configure a room, join it, exchange
// groupchat messages, change the subject, send a private message and
// leave.
func TestSlixmppMUC(t *testing.T) {
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
	}
	out, err := runScript(t, scenarioTimeout, py, args...)
	if err != nil {
		t.Fatalf("muc.py: %v\n%s", err, failLines(out))
	}
	if !strings.Contains(out, "PASS muc") {
		t.Fatalf("muc.py exited without PASS")
	}
}
