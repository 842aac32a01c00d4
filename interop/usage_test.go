package interop_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
	"parley/modules/usage"
)

// TestSlixmppUsage has slixmpp clients log in and chat, with typing
// notifications and receipts, then reads the usage accounting with the
// parley binary while the server runs: logins and messages with a body
// are counted, once per account, and nothing else.
func TestSlixmppUsage(t *testing.T) {
	trackInputs(t)
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	srv := slixmppServer(t, "")
	host, port := splitAddr(t, srv.Addr)
	out, err := runScript(t, scenarioTimeout, py, "slixmpp/usage.py",
		"--host", host, "--port", port, "--domain", srv.Domain,
		"--user", "alice", "--password", "alice-pw",
		"--peer", "bob", "--peer-password", "bob-pw", "chat")
	if err != nil {
		t.Fatalf("slixmpp usage scenario: %v\n%s", err, failLines(out))
	}
	// The server stores its counts every few seconds; store them now.
	if err := srv.Module("usage").(*usage.Module).Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := testutil.RunParley(t, parleyBin, "", "usage", "-config", filepath.Join(srv.Dir, "config.toml"), "-domain", srv.Domain)
	t.Logf("parley usage: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("parley usage: exit %d: %s", r.Code, r.Stderr)
	}
	type row struct {
		Row              string  `json:"row"`
		User             string  `json:"user"`
		Logins           int64   `json:"logins"`
		OneToOneSent     int64   `json:"one_to_one_sent"`
		OneToOneReceived int64   `json:"one_to_one_received"`
		GroupReceived    int64   `json:"group_received"`
		FederatedSent    int64   `json:"federated_sent"`
		ActiveUsers      *int64  `json:"active_users"`
		LastSeen         *string `json:"last_seen"`
	}
	got := make(map[string]row)
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var x row
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got[x.Row+" "+x.User] = x
	}
	two := int64(2)
	want := map[string]row{
		"user alice@" + srv.Domain: {Row: "user", User: "alice@" + srv.Domain, Logins: 2, OneToOneSent: 3, OneToOneReceived: 2},
		"user bob@" + srv.Domain:   {Row: "user", User: "bob@" + srv.Domain, Logins: 1, OneToOneSent: 2, OneToOneReceived: 3},
		"domain ":                  {Row: "domain", Logins: 3, OneToOneSent: 5, OneToOneReceived: 5, ActiveUsers: &two},
	}
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || g.LastSeen == nil {
			t.Errorf("%s: missing, or never seen: %+v", k, g)
			continue
		}
		g.LastSeen = nil
		if (g.ActiveUsers == nil) != (w.ActiveUsers == nil) || (g.ActiveUsers != nil && *g.ActiveUsers != *w.ActiveUsers) {
			t.Errorf("%s: active users %v, want %v", k, g.ActiveUsers, w.ActiveUsers)
		}
		g.ActiveUsers, w.ActiveUsers = nil, nil
		if g != w {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
		}
	}
}
