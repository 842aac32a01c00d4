package interop_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
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
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s %s:\n%s", py, strings.Join(args, " "), out.String())
	if ctx.Err() != nil {
		t.Fatalf("muc.py killed after %s", scenarioTimeout)
	}
	if err != nil {
		t.Fatalf("muc.py: %v\n%s", err, failLine(out.String()))
	}
	if !strings.Contains(out.String(), "PASS: muc") {
		t.Fatalf("muc.py exited without PASS")
	}
}
