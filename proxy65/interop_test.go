package proxy65_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
)

// TestSlixmppTransfer has two slixmpp clients transfer a file through the
// proxy with slixmpp's own XEP-0065 plugin: discovery from the server's
// items, the offer, both SOCKS5 connections, activation and the bytes
// both ways (testdata/s5b.py). It needs Debian's python3-slixmpp; without
// it the test is skipped, except in CI.
func TestSlixmppTransfer(t *testing.T) {
	const script = "testdata/s5b.py"
	// Read here so that go test's cache notices changes to the script.
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv, _, _ := start(t)
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, "--host", host, "--port", port, "--domain", srv.Domain,
		"--proxy", proxyDomain, "--user", "alice", "--password", "alice-pw", "--peer", "bob", "--peer-password", "bob-pw")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("%s:\n%s", strings.Join(cmd.Args, " "), out.String())
	if err != nil || !strings.Contains(out.String(), "\nPASS\n") {
		t.Fatalf("the transfer failed (%v)", err)
	}
	// 3 MiB one way, a SHA-256 in hex the other.
	srv.WaitLog(testutil.Timeout, `"message":"bytestream ended"`, `"bytes":3145792`, `"initiator":"alice@`+srv.Domain+`/desk"`)
}
