package s2s_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"parley/audit"
	"parley/internal/testutil"
)

// TestAuditRecordsLinksEstablished: each server's audit log holds the
// links it established, with the direction and how they authenticated.
func TestAuditRecordsLinksEstablished(t *testing.T) {
	s := federate(t, peer{domain: "a.test"}, peer{domain: "b.test"})
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>hi</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "hi"))
	bob.Send("<message to='" + alice.JID + "' type='chat'><body>hello</body></message>")
	alice.Expect(isMessageFrom(bob.JID, "hello"))

	for _, c := range []struct {
		srv    *testutil.Server
		target string
		detail string
	}{
		{a, "b.test", "outbound link from a.test to b.test established, authenticated by dialback"},
		{a, "b.test", "inbound link from b.test to a.test established, authenticated by dialback"},
		{b, "a.test", "outbound link from b.test to a.test established, authenticated by dialback"},
		{b, "a.test", "inbound link from a.test to b.test established, authenticated by dialback"},
	} {
		ev := c.srv.WaitAudit(5*time.Second, audit.FederationEstablished, c.detail)
		if ev.Target != c.target || ev.Actor != audit.ServerActor || ev.Detail != c.detail {
			t.Errorf("event %+v, want target %s, detail %q", ev, c.target, c.detail)
		}
	}
	if n := len(a.AuditEvents(audit.FederationRefused)); n != 0 {
		t.Errorf("%d federation.refused events on a.test", n)
	}
}

// TestAuditSummarisesRefusals: a link refused by s2s.allow is recorded
// once with its reason, on both sides; repeated refusals within the
// window make no event of their own, and are summed up at shutdown.
func TestAuditSummarisesRefusals(t *testing.T) {
	s := federate(t,
		peer{domain: "a.test", s2s: `allow = ["c.test"]`},
		peer{domain: "b.test"},
	)
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	const tries = 5
	for range tries {
		// b.test's links to a.test are refused at the stream.
		bob.Send("<message to='alice@a.test' type='chat'><body>hi</body></message>")
		bob.Expect(isErrorFrom("message", "alice@a.test"))
		// a.test sends nothing to b.test.
		alice.Send("<message to='bob@b.test' type='chat'><body>hi</body></message>")
		alice.Expect(isErrorFrom("message", "bob@b.test"))
	}

	in := a.WaitAudit(5*time.Second, audit.FederationRefused, "inbound link from b.test to a.test refused", `"b.test" is not in s2s.allow`)
	out := a.WaitAudit(5*time.Second, audit.FederationRefused, "outbound link from a.test to b.test refused", `"b.test" is not in s2s.allow`)
	failed := b.WaitAudit(5*time.Second, audit.FederationRefused, "outbound link from b.test to a.test failed", "policy-violation")
	for _, ev := range []audit.Entry{in, out, failed} {
		if ev.Target != "b.test" && ev.Target != "a.test" {
			t.Errorf("event %+v: target is not the remote domain", ev)
		}
	}
	if evs := a.AuditEvents(audit.FederationRefused); len(evs) != 2 {
		t.Fatalf("a.test recorded %d refusals for %d refused links each way, want 2 events: %+v", len(evs), tries, evs)
	}
	if evs := b.AuditEvents(audit.FederationRefused); len(evs) != 1 {
		t.Fatalf("b.test recorded %d failures for %d failed links, want 1 event: %+v", len(evs), tries, evs)
	}

	// b.test may try a link more than once per message: the counts
	// are at least one less than the tries.
	a.Stop()
	evs := a.AuditEvents(audit.FederationRefused, " more times since ")
	if len(evs) != 2 {
		t.Fatalf("after shutdown, a.test summed up the repeats in %d events, want 2: %+v", len(evs), a.AuditEvents(audit.FederationRefused))
	}
	for _, ev := range evs {
		var n int
		if _, err := fmt.Sscanf(ev.Detail, "repeated %d more times", &n); err != nil || n < tries-1 {
			t.Errorf("summary %q: want at least %d more times", ev.Detail, tries-1)
		}
		if !strings.Contains(ev.Detail, "not in s2s.allow") {
			t.Errorf("summary %q does not name the reason", ev.Detail)
		}
	}
}

// TestAuditFloodOfRefusedStreams: a flood of streams refused before they
// authenticate makes one event, not one per stream.
func TestAuditFloodOfRefusedStreams(t *testing.T) {
	f := newFederation(t, peer{domain: "a.test"})
	a := f.servers[0]
	const streams = 50
	for range streams {
		nc, err := net.DialTimeout("tcp", f.addrs[0], testutil.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(nc, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='evil.test' to='nowhere.test' version='1.0'>")
		nc.SetReadDeadline(time.Now().Add(testutil.Timeout))
		io.Copy(io.Discard, nc) // until the server closes the stream
		nc.Close()
	}
	ev := a.WaitAudit(5*time.Second, audit.FederationRefused, "inbound link from evil.test to nowhere.test refused", "host-unknown")
	if ev.Target != "evil.test" {
		t.Errorf("target %q, want evil.test", ev.Target)
	}
	if evs := a.AuditEvents(audit.FederationRefused); len(evs) != 1 {
		t.Fatalf("%d refused streams made %d events, want 1", streams, len(evs))
	}
	a.Stop()
	evs := a.AuditEvents(audit.FederationRefused)
	if len(evs) != 2 || !strings.HasPrefix(evs[1].Detail, fmt.Sprintf("repeated %d more times since ", streams-1)) {
		t.Fatalf("after shutdown: %+v", evs)
	}
}

// TestAuditAuthentication: links authenticated by certificate say so,
// and links secure_auth refuses are recorded with the reason, on the side
// that refused and on the side that failed.
func TestAuditAuthentication(t *testing.T) {
	cases := []struct {
		name             string
		ca               bool
		secureA, secureB bool
		onA, onB         []string // in an event's detail on each side
		action           string
	}{
		{name: "certificates", ca: true, action: audit.FederationEstablished,
			onA: []string{"outbound link from a.test to b.test established, authenticated by certificate (SASL EXTERNAL), bidirectional"},
			onB: []string{"inbound link from a.test to b.test established, authenticated by certificate (SASL EXTERNAL), bidirectional"}},
		{name: "secure_auth refuses a peer it cannot verify", secureA: true, action: audit.FederationRefused,
			onA: []string{"outbound link from a.test to b.test failed: ", "secure_auth: certificate not valid for b.test"}},
		{name: "a secure_auth peer refuses our dialback", secureB: true, action: audit.FederationRefused,
			onA: []string{"outbound link from a.test to b.test failed: ", "dialback refused: policy-violation"},
			onB: []string{"inbound link from a.test to b.test refused: secure_auth requires a valid certificate, and dialback is disabled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ca *testutil.CA
			if c.ca {
				ca = testutil.NewCA(t)
			}
			secure := func(on bool) string { return fmt.Sprintf("secure_auth = %v", on) }
			s := federate(t,
				peer{domain: "a.test", tls: tlsKeys(t, ca, "a.test"), s2s: secure(c.secureA)},
				peer{domain: "b.test", tls: tlsKeys(t, ca, "b.test"), s2s: secure(c.secureB)},
			)
			a, b := s[0], s[1]
			alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
			alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hello</body></message>")
			if c.onA != nil {
				ev := a.WaitAudit(5*time.Second, c.action, c.onA...)
				if ev.Target != "b.test" {
					t.Errorf("a.test: target %q", ev.Target)
				}
			}
			if c.onB != nil {
				ev := b.WaitAudit(5*time.Second, c.action, c.onB...)
				if ev.Target != "a.test" {
					t.Errorf("b.test: target %q", ev.Target)
				}
			}
		})
	}
}
