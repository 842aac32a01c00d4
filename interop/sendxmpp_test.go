package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// sendxmpp runs go-sendxmpp with args and body on stdin, with a fresh
// HOME so that no configuration of the machine's user is read. It returns
// the combined output and the error from running it.
func sendxmpp(t *testing.T, bin string, body string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(body + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("go-sendxmpp %s:\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

// expectBody waits until c receives a message from alice with body.
func expectBody(t *testing.T, c *testutil.Client, from, body string) {
	t.Helper()
	got := c.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && strings.TrimSpace(el.ChildText("", "body")) == body
	})
	if !strings.HasPrefix(got.From(), from+"/") {
		t.Fatalf("message from %q, want %s/...", got.From(), from)
	}
	if typ := got.Type(); typ == "error" {
		t.Fatalf("got an error message: %s", got)
	}
}

// TestGoSendxmpp sends messages with the go-sendxmpp command to a client
// that is logged in, over STARTTLS and direct TLS, with credentials given
// as flags and in its configuration file.
func TestGoSendxmpp(t *testing.T) {
	bin := testutil.RequireTool(t, "go-sendxmpp", "go-sendxmpp")
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")

	t.Run("STARTTLS with flags", func(t *testing.T) {
		bob := testutil.Login(t, srv.Addr, "bob", "bob-pw", "flags")
		body := "deploy finished (flags)"
		if _, err := sendxmpp(t, bin, body, "--no-tls-verify", "--jserver", srv.Addr,
			"--username", alice, "--password", "alice-pw", bob.JID); err != nil {
			t.Fatalf("go-sendxmpp: %v", err)
		}
		expectBody(t, bob, alice, body)
	})

	t.Run("direct TLS with config file", func(t *testing.T) {
		bob := testutil.Login(t, srv.Addr, "bob", "bob-pw", "file")
		host, port := splitAddr(t, srv.DirectAddr)
		rc := filepath.Join(t.TempDir(), "sendxmpprc")
		conf := fmt.Sprintf("username: %s\njserver: %s\nport: %s\npassword: %s\n", alice, host, port, "alice-pw")
		if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		body := "deploy finished (config file)"
		if _, err := sendxmpp(t, bin, body, "--tls", "--no-tls-verify", "--file", rc, bob.JID); err != nil {
			t.Fatalf("go-sendxmpp: %v", err)
		}
		expectBody(t, bob, alice, body)
	})

	t.Run("to a bare JID", func(t *testing.T) {
		bob := testutil.Login(t, srv.Addr, "bob", "bob-pw", "bare")
		bob.Send("<presence/>")
		body := "deploy finished (bare JID)"
		if _, err := sendxmpp(t, bin, body, "--no-tls-verify", "--jserver", srv.Addr,
			"--username", alice, "--password", "alice-pw", "bob@"+srv.Domain); err != nil {
			t.Fatalf("go-sendxmpp: %v", err)
		}
		expectBody(t, bob, alice, body)
	})

	t.Run("wrong password", func(t *testing.T) {
		out, err := sendxmpp(t, bin, "never sent", "--no-tls-verify", "--jserver", srv.Addr,
			"--username", alice, "--password", "wrong", "bob@"+srv.Domain)
		if err == nil {
			t.Fatalf("go-sendxmpp succeeded with a wrong password")
		}
		if !strings.Contains(out, "not-authorized") {
			t.Fatalf("go-sendxmpp output lacks the not-authorized failure")
		}
	})
}
