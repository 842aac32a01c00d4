package interop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"parley/account"
	"parley/internal/testutil"
)

// runRegister runs one scenario of slixmpp/register.py against srv.
func runRegister(t *testing.T, srv *testutil.Server, scenario string, extra ...string) string {
	t.Helper()
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	host, port := splitAddr(t, srv.Addr)
	args := append([]string{"slixmpp/register.py", "--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw"}, extra...)
	out, err := runScript(t, scenarioTimeout, py, append(args, scenario)...)
	if err != nil {
		t.Fatalf("register.py %s: %v\n%s", scenario, err, failLines(out))
	}
	if !strings.Contains(out, "PASS "+scenario) {
		t.Fatalf("register.py %s exited without PASS", scenario)
	}
	return out
}

// TestSlixmppRegistration has slixmpp's XEP-0077 plugin register an
// account with the legacy fields, change its password and remove it,
// with a second session of the account ending too; a taken username and
// a short password are refused.
func TestSlixmppRegistration(t *testing.T) {
	srv := slixmppServer(t, "[register]\nenabled = true\nopen = true\n")
	runRegister(t, srv, "open")
	// The removed account is deleted once its streams have ended.
	want := "alice@" + srv.Domain + " bob@" + srv.Domain
	var got string
	for deadline := time.Now().Add(testutil.Timeout); got != want && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		users, err := srv.Store().ListAccounts(context.Background(), srv.Domain)
		if err != nil {
			t.Fatal(err)
		}
		got = strings.Join(users, " ")
	}
	if got != want {
		t.Fatalf("accounts after the scenario: %s, want %s", got, want)
	}
}

// TestSlixmppInvitation has slixmpp register with an invitation made as
// "parley invite" makes it, the token in the data form's token field; it
// works once.
func TestSlixmppInvitation(t *testing.T) {
	srv := slixmppServer(t, "[register]\nenabled = true\n")
	tok, _, err := account.Invite(context.Background(), srv.Store(), srv.Domain, "", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := runRegister(t, srv, "invite", "--token", tok)
	_, rest, _ := strings.Cut(out, "registered: ")
	local, _, _ := strings.Cut(rest, "\n")
	if ok, err := srv.Store().AccountExists(context.Background(), local+"@"+srv.Domain); err != nil || !ok {
		t.Fatalf("invited account %q: exists %v, %v", local, ok, err)
	}
}
