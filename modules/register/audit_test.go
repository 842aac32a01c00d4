package register_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"parley/account"
	"parley/audit"
	"parley/internal/testutil"
)

// TestRegistrationIsAudited: an account registered in band, its password
// changed and its removal are in the audit log, each by the account
// itself, with where it came from and whether an invitation was used;
// neither the password nor the token is.
func TestRegistrationIsAudited(t *testing.T) {
	srv := testutil.StartServer(t, enabled)
	tok, inv, err := account.Invite(context.Background(), srv.Store(), srv.Domain, "", time.Hour, time.Now())
	must(t, err)
	const password = "first-password-1"
	s := encrypted(t, srv, "127.0.0.7")
	if got := outcome(iq(s, "set", form("carol", password, tok))); got != "result" {
		t.Fatalf("registration with an invitation: %s", got)
	}
	carol := "carol@" + srv.Domain
	ev := srv.WaitAudit(time.Second, audit.AccountCreated, carol)
	want := "registered in band from 127.0.0.7, with invitation " + account.InvitationID(inv)
	if ev.Actor != carol || ev.Target != carol || ev.Detail != want {
		t.Errorf("registration event %+v, want actor and target %s, detail %q", ev, carol, want)
	}

	c := testutil.Login(t, srv.Addr, "carol", password, "desk")
	if got := outcome(c.IQ(set("", legacy("carol", "second-password-2")))); got != "result" {
		t.Fatalf("password change: %s", got)
	}
	ev = srv.WaitAudit(time.Second, audit.AccountPasswordChanged, carol)
	if ev.Actor != carol || ev.Detail != "changed in band from "+carol+"/desk" {
		t.Errorf("password change event %+v", ev)
	}
	// A refused change is no change.
	if got := outcome(c.IQ(set("", legacy("carol", "x")))); got != "not-acceptable" {
		t.Fatalf("short password: %s", got)
	}

	if got := outcome(c.IQ(set("", remove))); got != "result" {
		t.Fatalf("removal: %s", got)
	}
	ev = srv.WaitAudit(5*time.Second, audit.AccountDeleted, carol)
	if ev.Actor != carol || ev.Detail != "removed in band, with its data and 0 uploaded files; 1 streams ended" {
		t.Errorf("removal event %+v", ev)
	}

	var all []string
	for _, e := range srv.AuditEvents("") {
		all = append(all, e.Action+" "+e.Actor+" "+e.Target+" "+e.Detail)
	}
	if len(all) != 3 {
		t.Errorf("audit log:\n%s\nwant 3 events", strings.Join(all, "\n"))
	}
	for _, secret := range []string{password, "second-password-2", tok} {
		if strings.Contains(strings.Join(all, "\n"), secret) {
			t.Errorf("the audit log holds the secret %q", secret)
		}
	}
}

// TestOpenRegistrationIsAudited: an open registration says it had no
// invitation; a refused one is not recorded.
func TestOpenRegistrationIsAudited(t *testing.T) {
	srv := testutil.StartServer(t, open)
	srv.AddUser("alice", "alice-password")
	s := encrypted(t, srv, "")
	if got := outcome(iq(s, "set", legacy("alice", "another-password"))); got != "conflict" {
		t.Fatalf("registration of a taken name: %s", got)
	}
	if got := outcome(iq(s, "set", legacy("dave", "dave-password"))); got != "result" {
		t.Fatalf("open registration: %s", got)
	}
	ev := srv.WaitAudit(time.Second, audit.AccountCreated, "dave@"+srv.Domain)
	if ev.Detail != "registered in band from 127.0.0.1, without an invitation" {
		t.Errorf("detail %q", ev.Detail)
	}
	if n := len(srv.AuditEvents("")); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}
