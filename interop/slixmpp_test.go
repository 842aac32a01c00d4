package interop_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
)

// scenarioTimeout bounds one run of the slixmpp scenario script.
const scenarioTimeout = 60 * time.Second

// slixmppServer starts an in-process server with accounts alice and bob
// for the slixmpp scenarios. extraTOML is passed to testutil.StartServer.
func slixmppServer(t *testing.T, extraTOML string) *testutil.Server {
	t.Helper()
	srv := testutil.StartServer(t, extraTOML)
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	return srv
}

// runScenario runs one scenario of slixmpp/scenarios.py against srv and
// returns its output. The output always goes to the test log; a failed
// scenario fails the test with the script's FAIL line.
func runScenario(t *testing.T, srv *testutil.Server, scenario string, extra ...string) string {
	t.Helper()
	out, err := scenarioOutput(t, srv, scenario, extra...)
	if err != nil {
		t.Fatalf("slixmpp scenario %s: %v\n%s", scenario, err, failLines(out))
	}
	return out
}

// scenarioOutput runs a scenario and returns its output and the error
// from running it (an *exec.ExitError when the scenario failed).
func scenarioOutput(t *testing.T, srv *testutil.Server, scenario string, extra ...string) (string, error) {
	t.Helper()
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	host, port := splitAddr(t, srv.Addr)
	_, directPort := splitAddr(t, srv.DirectAddr)
	args := []string{"slixmpp/scenarios.py",
		"--host", host, "--port", port, "--direct-port", directPort,
		"--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw",
	}
	args = append(args, extra...)
	args = append(args, scenario)
	return runScript(t, scenarioTimeout, py, args...)
}

// runScript runs a Python script with args, bounded by timeout, and
// returns its combined output, which always goes to the test log. The
// error is an *exec.ExitError when the script failed.
func runScript(t *testing.T, timeout time.Duration, py string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s %s:\n%s", py, strings.Join(args, " "), out.String())
	if ctx.Err() != nil {
		return out.String(), errors.New("killed after " + timeout.String())
	}
	return out.String(), err
}

func splitAddr(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return host, port
}

// TestSlixmppLogin logs in with slixmpp over STARTTLS and direct TLS, with
// the mechanism slixmpp chooses and with each one forced.
func TestSlixmppLogin(t *testing.T) {
	// Logged at info: each login's mechanism is checked in the log too.
	srv := testutil.Start(t, testutil.Options{LogLevel: "info"})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	cases := []struct {
		name string
		args []string
		want string // in the output
	}{
		// slixmpp knows only the tls-unique channel binding, which
		// parley does not offer: after its -PLUS attempt is refused, its
		// SCRAM retry with the "y" flag is accepted (no downgrade: it
		// cannot bind with parley's types), so it never falls back to
		// PLAIN.
		{"default", nil, "SASL SCRAM-SHA-256)"},
		{"direct TLS", []string{"--direct-tls"}, "(direct TLS, SASL SCRAM-SHA-256)"},
		// As a client without channel binding it uses plain SCRAM.
		{"SCRAM-SHA-256", []string{"--mech", "SCRAM-SHA-256", "--no-channel-binding"}, "SASL SCRAM-SHA-256)"},
		{"SCRAM-SHA-1", []string{"--mech", "SCRAM-SHA-1", "--no-channel-binding"}, "SASL SCRAM-SHA-1)"},
		{"strongest without channel binding", []string{"--no-channel-binding"}, "SASL SCRAM-SHA-256)"},
		{"PLAIN", []string{"--mech", "PLAIN"}, "SASL PLAIN)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := runScenario(t, srv, "login", c.args...)
			if !strings.Contains(out, c.want) {
				t.Fatalf("output lacks %q", c.want)
			}
			mech := c.want[strings.Index(c.want, "SASL ")+5 : len(c.want)-1]
			logins := srv.LogLines(`"message":"authenticated"`)
			if len(logins) == 0 || !strings.Contains(logins[len(logins)-1], `"mechanism":"`+mech+`"`) {
				t.Fatalf("the server logged no %s login last: %q", mech, logins)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		runScenario(t, srv, "bad-password", "--no-channel-binding")
	})
}

// TestSlixmppLoginNotThrottled checks that slixmpp's own choice of
// mechanism logs in promptly with the default failed-login delays.
// slixmpp first tries SCRAM-*-PLUS with tls-unique, which parley does not
// offer, then plain SCRAM claiming channel binding support, which parley
// accepts after that attempt. The refusal is not a password guess, so it
// must not be slowed down like a failed login.
func TestSlixmppLoginNotThrottled(t *testing.T) {
	srv := slixmppServer(t, `[c2s]
login_failure_delay = "1s"
login_failure_max_delay = "30s"
`)
	start := time.Now()
	runScenario(t, srv, "login")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("slixmpp took %v to log in with its default mechanism choice; the failed-login delay slowed down its channel-binding fallbacks", d.Round(100*time.Millisecond))
	}
}

// TestSlixmppRoster gets the roster, adds a contact and subscribes to its
// presence; the contact's client approves.
func TestSlixmppRoster(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "roster")
}

// TestSlixmppChat has two slixmpp clients send presence and exchange chat
// messages addressed to bare JIDs.
func TestSlixmppChat(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "chat")
}

// TestSlixmppPing pings the server (XEP-0199).
func TestSlixmppPing(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "ping")
}

// TestSlixmppDisco queries the server's disco#info (XEP-0030).
func TestSlixmppDisco(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "disco")
}

// TestSlixmppVersion queries the server's software version (XEP-0092).
func TestSlixmppVersion(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "version")
}

// TestSlixmppOffline has alice write to bob while he is offline; bob gets
// the message when he comes online, with a XEP-0203 delay stamp.
func TestSlixmppOffline(t *testing.T) {
	runScenario(t, slixmppServer(t, ""), "offline")
}
