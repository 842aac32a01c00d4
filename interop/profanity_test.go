package interop_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
)

// terminal is a program running in its own tmux server, read from its
// screen and driven with keystrokes, as a person would use it.
type terminal struct {
	t      *testing.T
	tmux   string
	socket string // path of the tmux server's socket
}

// startTerminal runs command in a detached tmux session of its own
// server (socket), with env added to its environment.
func startTerminal(t *testing.T, env []string, command string) *terminal {
	t.Helper()
	// The socket lives in a temporary directory of the terminal's own:
	// unique across terminals and overlapping test runs, and removed with
	// the directory.
	dir := t.TempDir()
	tm := &terminal{t: t, tmux: testutil.RequireTool(t, "tmux", "tmux"), socket: filepath.Join(dir, "tmux.sock")}
	args := []string{"-S", tm.socket, "new-session", "-d", "-s", "main", "-x", "200", "-y", "50"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	args = append(args, command)
	if out, err := exec.Command(tm.tmux, args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screen at the end:\n%s", tm.screen())
		}
		exec.Command(tm.tmux, "-S", tm.socket, "kill-server").Run()
	})
	return tm
}

// keys types text and Enter.
func (tm *terminal) keys(text string) {
	tm.t.Helper()
	if out, err := exec.Command(tm.tmux, "-S", tm.socket, "send-keys", "-t", "main", text, "Enter").CombinedOutput(); err != nil {
		tm.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// screen returns what the terminal shows, with its scrollback.
func (tm *terminal) screen() string {
	out, _ := exec.Command(tm.tmux, "-S", tm.socket, "capture-pane", "-p", "-t", "main", "-S", "-500").Output()
	return string(out)
}

// waitFor waits until the screen shows text.
func (tm *terminal) waitFor(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tm.screen(), text) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q", text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProfanityCarbons logs Profanity 0.13 in: it enables message carbons
// at every login and reports a server error if that fails. A message the
// user sends from another client then shows in Profanity's chat window
// with the contact, as the user's own.
func TestProfanityCarbons(t *testing.T) {
	profanity := testutil.RequireTool(t, "profanity", "profanity")
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	home := t.TempDir()
	for _, d := range []string{".config", ".local/share"} {
		os.MkdirAll(filepath.Join(home, d), 0o700)
	}
	host, port := splitAddr(t, srv.Addr)
	tm := startTerminal(t, []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
	}, profanity)
	tm.waitFor("Type '/help'")
	tm.keys("/connect alice@" + srv.Domain + " server " + host + " port " + port)
	tm.waitFor("password")
	tm.keys("alice-pw")
	// The generated certificate is self-signed.
	tm.waitFor("/tls allow")
	tm.keys("/tls allow")
	tm.waitFor("logged in successfully")
	// Profanity enables carbons right after logging in: the copy below
	// reaches it only if that worked.
	phone := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "phone")
	if r := phone.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Type() != "result" {
		t.Fatalf("ping: %s", r)
	}
	phone.Sendf("<message to='%s' type='chat'><body>sent from the phone</body></message>", bob)
	// The copy opens the chat window with bob (window 2).
	deadline := time.Now().Add(20 * time.Second)
	for {
		tm.keys("/win 2")
		if strings.Contains(tm.screen(), "me: sent from the phone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Profanity never showed the message sent from the other client")
		}
		time.Sleep(300 * time.Millisecond)
	}
	if s := tm.screen(); strings.Contains(strings.ToLower(s), "carbons") {
		t.Fatalf("Profanity reported a carbons problem:\n%s", s)
	}
}
