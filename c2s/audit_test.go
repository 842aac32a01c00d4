package c2s_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/audit"
	"parley/c2s"
	"parley/internal/testutil"
	"parley/sasl"
)

// TestFailedLoginsAreSummedUpInTheAuditLog: wrong passwords from one
// address, over SASL, SASL2 and FAST, make one auth.failures event once
// they reach the threshold, naming the address, the count and the
// accounts tried, and never a password or token; the attempts after it
// make no event of their own.
func TestFailedLoginsAreSummedUpInTheAuditLog(t *testing.T) {
	srv := fastServer(t) // with alice and bob
	const wrong = "correct-horse-battery-staple"

	legacy := func(mech msasl.Mechanism, user string) {
		t.Helper()
		s := testutil.DialStream(t, srv.Addr, srv.Domain)
		s.StartTLS(srv.Domain)
		if el := s.Authenticate(mech, user, wrong); el.Local != "failure" {
			t.Fatalf("%s login with a wrong password: %s", mech.Name, el)
		}
	}
	legacy(msasl.ScramSha256, "alice")
	legacy(msasl.Plain, "mallory")
	if n := len(srv.AuditEvents(audit.AuthFailures)); n != 0 {
		t.Fatalf("%d auth.failures events after two failed logins", n)
	}
	s := sasl2Stream(t, srv)
	if r := scram2(t, s, msasl.ScramSha1, "alice@"+srv.Domain, wrong, ""); r.el.Local != "failure" {
		t.Fatalf("SASL2 login with a wrong password: %s", r.el)
	}
	ev := srv.WaitAudit(time.Second, audit.AuthFailures, "127.0.0.1")
	if ev.Actor != audit.ServerActor || ev.Target != "127.0.0.1" {
		t.Errorf("event %+v: want actor server, target 127.0.0.1", ev)
	}
	want := "3 failed logins from 127.0.0.1 within 5m0s; accounts tried: alice@" + srv.Domain + ", mallory@" + srv.Domain
	if ev.Detail != want {
		t.Errorf("detail %q, want %q", ev.Detail, want)
	}

	// More failures, a wrong FAST token among them, within the window:
	// no event of their own.
	s = sasl2Stream(t, srv)
	if el := fastLogin(t, s, sasl.MechHTExporter, "alice", wrong, ""); el.Local != "failure" {
		t.Fatalf("FAST login with a wrong token: %s", el)
	}
	for range 4 {
		legacy(msasl.ScramSha1, "bob@"+srv.Domain)
	}
	if evs := srv.AuditEvents(audit.AuthFailures); len(evs) != 1 {
		t.Fatalf("%d auth.failures events, want 1", len(evs))
	}
	// A correct login is no failure.
	testutil.Login(t, srv.Addr, "alice", "alice-pw", "pc").Close()

	// At shutdown the failures since the event are summed up.
	srv.Stop()
	evs := srv.AuditEvents(audit.AuthFailures)
	if len(evs) != 2 || !strings.HasPrefix(evs[1].Detail, "5 more failed logins from 127.0.0.1 since ") ||
		!strings.HasSuffix(evs[1].Detail, "; accounts tried: alice@"+srv.Domain+", bob@"+srv.Domain) {
		t.Fatalf("events after shutdown: %+v", evs)
	}
	files, _ := filepath.Glob(filepath.Join(srv.AuditDir(), "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), wrong) {
			t.Fatalf("%s holds the password tried", f)
		}
	}
	if strings.Contains(srv.Log(), wrong) {
		t.Fatal("the server log holds the password tried")
	}
}

// TestProtocolFailuresAreNotCounted: a client falling back from a
// channel-binding type the server lacks is not guessing passwords.
func TestProtocolFailuresAreNotCounted(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "alice-pw")
	for range c2s.AuthFailureThreshold + 1 {
		s := testutil.DialStream(t, srv.Addr, srv.Domain)
		s.StartTLS(srv.Domain)
		s.Write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='NOPE'>=</auth>")
		if el := s.Next(); el.Local != "failure" {
			t.Fatalf("unknown mechanism: %s", el)
		}
	}
	srv.Stop()
	if evs := srv.AuditEvents(audit.AuthFailures); len(evs) != 0 {
		t.Fatalf("protocol failures made auth.failures events: %+v", evs)
	}
}

// TestFailedLoginsOverHTTPAreCounted: failures over WebSocket and BOSH
// count with those over TCP, per address.
func TestFailedLoginsOverHTTPAreCounted(t *testing.T) {
	srv, ws, _ := wsServer(t, "")
	bosh := "http://" + srv.Server.Addr("http") + "/http-bind"
	for _, s := range []*testutil.Stream{
		testutil.DialWebSocket(t, ws, srv.Domain),
		testutil.DialBOSH(t, bosh, srv.Domain, 5),
	} {
		if el := s.Authenticate(msasl.ScramSha256, "alice", "not-her-password"); el.Local != "failure" {
			t.Fatalf("wrong password: %s", el)
		}
	}
	if n := len(srv.AuditEvents(audit.AuthFailures)); n != 0 {
		t.Fatalf("%d events after two failures", n)
	}
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	if el := s.Authenticate(msasl.ScramSha256, "bob", "not-his-password"); el.Local != "failure" {
		t.Fatalf("wrong password: %s", el)
	}
	ev := srv.WaitAudit(time.Second, audit.AuthFailures, "127.0.0.1")
	if want := "3 failed logins from 127.0.0.1 within 5m0s; accounts tried: alice@" + srv.Domain + ", bob@" + srv.Domain; ev.Detail != want {
		t.Errorf("detail %q, want %q", ev.Detail, want)
	}
}
