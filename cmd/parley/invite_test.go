package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"parley/account"
)

// invitation is what "parley invite" printed.
type invitation struct{ token, uri string }

func parseInvite(t *testing.T, r result) invitation {
	t.Helper()
	var inv invitation
	for _, line := range strings.Split(r.stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			inv.token = v
		}
		if v, ok := strings.CutPrefix(line, "uri: "); ok {
			inv.uri = v
		}
	}
	if len(inv.token) < 20 || inv.uri == "" {
		t.Fatalf("no token or URI in %q", r.stdout)
	}
	return inv
}

func TestInvite(t *testing.T) {
	cfg := setup(t)
	st := openStore(t, cfg)
	if r := parley(t, "", "invite", "-h"); r.code != 0 || !strings.HasPrefix(r.stdout, "usage: parley invite") {
		t.Errorf("invite -h: %+v", r)
	}

	// Registration is off in the configuration: the invitation is made,
	// with a warning.
	r := parley(t, "", "invite", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: in-band registration is off") {
		t.Fatalf("invite with registration off: %+v", r)
	}
	inv := parseInvite(t, r)
	if want := "xmpp:a.test?register;preauth=" + inv.token; inv.uri != want {
		t.Errorf("uri %q, want %q", inv.uri, want)
	}
	stored, err := st.Invitation(t.Context(), account.HashToken(inv.token))
	if err != nil {
		t.Fatalf("invitation not stored under the hash of its token: %v", err)
	}
	if stored.Domain != "a.test" || stored.Localpart != "" || time.Until(stored.Expires) < 7*24*time.Hour-time.Minute || time.Until(stored.Expires) > 7*24*time.Hour {
		t.Errorf("stored %+v, want any user of a.test for 7 days", stored)
	}
	if _, err := st.Invitation(t.Context(), inv.token); err == nil {
		t.Error("the token itself is stored")
	}

	// With registration on, no warning.
	on := cfg + ".on"
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(on, append(data, "[register]\nenabled = true\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	r = parley(t, "", "invite", "-config", on, "-user", "Juliet", "-domain", "B.test", "-expire", "12h").wantOK(t)
	inv = parseInvite(t, r)
	if want := "xmpp:juliet@b.test?register;preauth=" + inv.token; inv.uri != want {
		t.Errorf("uri %q, want %q", inv.uri, want)
	}
	stored, err = st.Invitation(t.Context(), account.HashToken(inv.token))
	if err != nil || stored.Domain != "b.test" || stored.Localpart != "juliet" || time.Until(stored.Expires) > 12*time.Hour {
		t.Errorf("stored %+v, %v; want juliet@b.test for 12 hours", stored, err)
	}
	if !strings.Contains(r.stdout, "juliet@b.test") {
		t.Errorf("stdout %q does not name the account", r.stdout)
	}

	parley(t, "pw\n", "adduser", "-config", cfg, "romeo@a.test").wantOK(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-expire", "soon"}, 2, "-expire: invalid duration"},
		{[]string{"-expire", "0s"}, 2, "-expire: 0s is not between"},
		{[]string{"-expire", "400d"}, 2, "-expire"},
		{[]string{"extra"}, 2, "usage: parley invite"},
		{[]string{"-user", "ro meo"}, 1, "-user: the username \"ro meo\""},
		{[]string{"-user", "a@b"}, 1, "-user: "},
		{[]string{"-user", "Romeo"}, 1, "romeo@a.test: account already exists"},
		{[]string{"-domain", "example.org"}, 1, "domain example.org is not served"},
	} {
		parley(t, "", append([]string{"invite", "-config", on}, c.args...)...).wantFail(t, c.code, "parley: invite: ", c.want)
	}
}
