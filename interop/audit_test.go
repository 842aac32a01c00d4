package interop_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"parley/audit"
	"parley/internal/testutil"
)

// TestSlixmppWrongPasswordsAudited has slixmpp clients fail to log in
// several times with wrong passwords: the audit log, read with the parley
// command while the server runs, holds one auth.failures event naming
// the address, the count and the account tried, and no password.
func TestSlixmppWrongPasswordsAudited(t *testing.T) {
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := slixmppServer(t, "")
	host, port := splitAddr(t, srv.Addr)
	const attempts = 4
	out, err := runScript(t, scenarioTimeout, py, "slixmpp/audit.py",
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw", "--attempts", strconv.Itoa(attempts), "wrong-passwords")
	if err != nil {
		t.Fatalf("slixmpp: %v\n%s", err, failLines(out))
	}
	if n := strings.Count(out, " refused ("); n != attempts {
		t.Fatalf("%d refused logins in the output, want %d", n, attempts)
	}

	cmd := exec.Command(parleyBin, "audit", "-config", filepath.Join(srv.Dir, "config.toml"))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("parley audit: %v", err)
	}
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("parley audit printed %q: %v", line, err)
		}
		if ev["action"] == audit.AuthFailures {
			events = append(events, ev)
		}
	}
	if len(events) != 1 {
		t.Fatalf("%d auth.failures events for %d failed slixmpp logins, want 1:\n%s", len(events), attempts, b)
	}
	ev := events[0]
	detail, _ := ev["detail"].(string)
	if ev["actor"] != "server" || ev["target"] != "127.0.0.1" ||
		!strings.HasPrefix(detail, "3 failed logins from 127.0.0.1 within 5m0s; accounts tried: alice@"+srv.Domain) {
		t.Errorf("event %v", ev)
	}
	files, _ := filepath.Glob(filepath.Join(srv.AuditDir(), "*"))
	for _, f := range append(files, "") {
		data := b
		if f != "" {
			if data, err = os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Contains(string(data), "alice-pw-wrong") {
			t.Fatalf("%s holds a password tried", f)
		}
	}
}
