package interop_test

import (
	"strings"
	"testing"

	"parley/internal/testutil"
)

// TestSlixmppComponent runs slixmpp/component.py: an external component
// (XEP-0114) written with slixmpp's ComponentXMPP connects to parley,
// echoes a slixmpp user's message and answers the user's disco#info; a
// component with a wrong secret is refused.
func TestSlixmppComponent(t *testing.T) {
	const (
		echo   = "echo." + testutil.Domain
		secret = "interop-echo-secret-0123456789"
	)
	srv := slixmppServer(t, "[components]\nlisten = \"127.0.0.1:0\"\n[components.secrets]\n\""+echo+"\" = \""+secret+"\"\n")
	for _, scenario := range []string{"echo", "bad-secret"} {
		t.Run(scenario, func(t *testing.T) {
			trackInputs(t)
			py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
			host, port := splitAddr(t, srv.Addr)
			_, compPort := splitAddr(t, srv.Server.Addr("components"))
			out, err := runScript(t, scenarioTimeout, py, "slixmpp/component.py",
				"--host", host, "--port", port, "--component-port", compPort,
				"--domain", srv.Domain, "--component", echo, "--secret", secret,
				"--user", "alice", "--password", "alice-pw", scenario)
			if err != nil {
				t.Fatalf("component.py %s: %v\n%s", scenario, err, failLines(out))
			}
			if !strings.Contains(out, "PASS "+scenario) {
				t.Fatalf("component.py %s exited without PASS", scenario)
			}
		})
	}
}
