package s2s_test

import (
	"context"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/s2s"
	"parley/stanza"
)

func isStreamErrorEl(el *stanza.Element) bool {
	return el.Space == stanza.NSStream && el.Local == "error"
}

// TestShutdownWhileAuthenticating: a shutdown while an outgoing link waits
// for its dialback result ends the link at once, and the stanza queued
// on it is bounced, not sent.
func TestShutdownWhileAuthenticating(t *testing.T) {
	x := newFakeServer(t)
	svc, r, alice := standalone(t, s2s.Options{
		Resolver:       &s2s.Resolver{Hosts: map[string]string{"x.test": x.addr()}},
		ConnectTimeout: 10 * time.Second,
	})
	r.Deliver(context.Background(), message("alice@a.test/pc", "bob@x.test", "m1", "hello"))
	p := x.accept()
	p.serveStream("x.test", loadCert(t)(testutil.SelfSigned(t, "x.test")), dialbackFeature)
	if el := p.next(); el.Local != "result" {
		t.Fatalf("expected a dialback request, got %s", el)
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	svc.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	el := alice.expect(t, func(el *stanza.Element) bool { return el.ID() == "m1" })
	if el.Type() != "error" || testutil.ErrorCondition(el) != "remote-server-not-found" {
		t.Errorf("got %s, want a remote-server-not-found bounce", el)
	}
	p.write("<db:result from='x.test' to='a.test' type='valid'/>")
	for el := range p.elements() {
		if el.Kind() != "" {
			t.Errorf("stanza sent after shutdown: %s", el)
		}
	}
}

// TestBidiNeedsTheCertificateOfTheStreamThatAuthenticated: a link makes
// stanzas from the peer acceptable (XEP-0288) only when the certificate
// of the very connection it ends up on proves the peer's domain, not the
// certificate of an earlier address that failed.
func TestBidiNeedsTheCertificateOfTheStreamThatAuthenticated(t *testing.T) {
	ca := testutil.NewCA(t)
	first, second := newFakeServer(t), newFakeServer(t)
	dns := fakeSRV{"_xmpp-server._tcp.x.test": {srvRecord(first.addr(), 0), srvRecord(second.addr(), 1)}}
	_, r, alice := standalone(t, s2s.Options{Resolver: &s2s.Resolver{DNS: dns}, Roots: caPool(ca)})
	r.Deliver(context.Background(), message("alice@a.test/pc", "bob@x.test", "m1", "hello"))

	// The first address proves x.test with its certificate, then drops
	// the connection.
	p := first.accept()
	p.serveStream("x.test", loadCert(t)(ca.Issue(t, "x.test")), dialbackFeature+bidiFeature)
	if el := p.next(); el.Local != "bidi" {
		t.Fatalf("expected <bidi/> after a valid certificate, got %s", el)
	}
	p.next() // the dialback request
	p.conn.Close()

	// The second address has a certificate nobody trusts, and accepts
	// dialback.
	q := second.accept()
	q.serveStream("x.test", loadCert(t)(testutil.SelfSigned(t, "x.test")), dialbackFeature+bidiFeature)
	if el := q.next(); el.Local != "result" {
		t.Fatalf("expected a dialback request, got %s", el)
	}
	q.write("<db:result from='x.test' to='a.test' type='valid'/>")
	if el := q.next(); el.ID() != "m1" {
		t.Fatalf("expected the queued message, got %s", el)
	}
	q.write("<message from='eve@x.test' to='alice@a.test/pc' type='chat' id='spoof'><body>spoofed</body></message>")
	alice.expectNone(t, 500*time.Millisecond)
}

// TestDialbackResultMustMatchTheRequest: an answer for another domain pair
// does not authorize the link (XEP-0220 §2.1.1 and §3.1).
func TestDialbackResultMustMatchTheRequest(t *testing.T) {
	x := newFakeServer(t)
	_, r, _ := standalone(t, s2s.Options{Resolver: &s2s.Resolver{Hosts: map[string]string{"x.test": x.addr()}}})
	r.Deliver(context.Background(), message("alice@a.test/pc", "bob@x.test", "m1", "hello"))
	p := x.accept()
	p.serveStream("x.test", loadCert(t)(testutil.SelfSigned(t, "x.test")), dialbackFeature)
	if el := p.next(); el.Local != "result" {
		t.Fatalf("expected a dialback request, got %s", el)
	}
	p.write("<db:result from='other.test' to='a.test' type='valid'/>")
	got := p.elements()
	select {
	case el := <-got:
		t.Fatalf("sent after an answer about another pair: %s", el)
	case <-time.After(500 * time.Millisecond):
	}
	p.write("<db:result from='x.test' to='a.test' type='valid'/>")
	select {
	case el := <-got:
		if el.ID() != "m1" {
			t.Fatalf("expected the queued message, got %s", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued message was not sent after a valid result")
	}
}
