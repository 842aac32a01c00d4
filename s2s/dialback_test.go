package s2s_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/xmlstream"
)

// dialbackPeer opens a TLS stream from `from` to b.test on addr, ready
// for dialback requests.
func dialbackPeer(t *testing.T, addr, from string) *rawPeer {
	t.Helper()
	p := dialRawPeer(t, addr)
	p.open(from, "b.test")
	p.startTLS(nil)
	p.open(from, "b.test")
	return p
}

// verifyRequest plays the authoritative server for domain on the next
// connection parley opens to auth and returns the <db:verify/> it reads.
func verifyRequest(t *testing.T, auth *fakeServer, domain string) (*rawPeer, *stanza.Element) {
	t.Helper()
	v := auth.accept()
	v.serveStream(domain, loadCert(t)(testutil.SelfSigned(t, domain)), dialbackFeature)
	el := v.next()
	if el.Local != "verify" || el.Attr("to") != domain || el.Attr("from") != "b.test" {
		t.Fatalf("expected a verification request for %s, got %s", domain, el)
	}
	return v, el
}

// answerVerify answers a verification request with typ.
func answerVerify(v *rawPeer, req *stanza.Element, typ string) {
	v.write(fmt.Sprintf("<db:verify from='%s' to='%s' id='%s' type='%s'/>", req.Attr("to"), req.Attr("from"), req.Attr("id"), typ))
}

func isDialbackResult(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Space == "jabber:server:dialback" && el.Local == "result" && el.Attr("from") == "b.test" && el.Attr("to") == from && el.Type() == typ
	}
}

// TestDialbackVerificationEndsWithItsStream: when the originating server
// closes its stream while b.test still verifies its key, the verification
// is abandoned, and a late answer does not revive the closed stream as a
// way to send stanzas back (XEP-0288).
func TestDialbackVerificationEndsWithItsStream(t *testing.T) {
	auth := newFakeServer(t)
	b := federate(t, peer{domain: "b.test", hosts: map[string]string{"evil.test": auth.addr()}})[0]
	p := dialbackPeer(t, b.Server.Addr("s2s"), "evil.test")
	p.write("<bidi xmlns='urn:xmpp:bidi'/><db:result from='evil.test' to='b.test'>0123456789abcdef</db:result>")
	v, req := verifyRequest(t, auth, "evil.test")

	p.write("</stream:stream>")
	p.expectClosed(3 * time.Second)
	if _, err := v.nextErr(time.Second); err == nil || isTimeoutErr(err) {
		t.Errorf("the verification connection is still open after its stream closed (%v)", err)
	}
	answerVerify(v, req, "valid") // too late: must change nothing

	// Stanzas for evil.test take an outgoing link, refused here, and are
	// bounced at once.
	auth.close()
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	bob.Send("<message to='eve@evil.test' type='chat' id='m1'><body>hi</body></message>")
	el := bob.Expect(func(el *stanza.Element) bool { return el.ID() == "m1" })
	if testutil.ErrorCondition(el) != "remote-server-not-found" {
		t.Errorf("got %s, want a remote-server-not-found bounce", el)
	}
}

// TestDialbackInvalidKeyClosesTheStream: after telling the originating
// server its key is invalid, the receiving server closes the stream
// (XEP-0220 §2.2.1).
func TestDialbackInvalidKeyClosesTheStream(t *testing.T) {
	auth := newFakeServer(t)
	b := federate(t, peer{domain: "b.test", hosts: map[string]string{"evil.test": auth.addr()}})[0]
	p := dialbackPeer(t, b.Server.Addr("s2s"), "evil.test")
	p.write("<db:result from='evil.test' to='b.test'>0123456789abcdef</db:result>")
	v, req := verifyRequest(t, auth, "evil.test")
	answerVerify(v, req, "invalid")
	if el := p.next(); !isDialbackResult("evil.test", "invalid")(el) {
		t.Fatalf("expected an invalid result, got %s", el)
	}
	if _, err := p.nextErr(3 * time.Second); !errors.Is(err, xmlstream.ErrStreamClosed) {
		t.Errorf("after an invalid result: %v, want the stream closed", err)
	}
	b.WaitLog(time.Second, `"s2s link refused"`, `"remote":"evil.test"`, "invalid")
}

// TestDialbackMultiplexesSenderDomains authenticates two sender domains
// on one stream (XEP-0220 §4.1) while the stream keeps carrying other
// dialback traffic; stanzas flow only for the pairs that verified.
func TestDialbackMultiplexesSenderDomains(t *testing.T) {
	auth := newFakeServer(t)
	b := federate(t, peer{domain: "b.test", more: []string{"b2.test"},
		hosts: map[string]string{"evil.test": auth.addr(), "evil2.test": auth.addr()}})[0]
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	p := dialbackPeer(t, b.Server.Addr("s2s"), "evil.test")

	p.write("<db:result from='evil.test' to='b.test'>0123456789abcdef</db:result>")
	v1, req1 := verifyRequest(t, auth, "evil.test")
	// While that verification is under way, the stream carries a
	// verification request of its own.
	p.write("<db:verify from='evil.test' to='b.test' id='abc'>0123</db:verify>")
	if el := p.next(); el.Local != "verify" || el.Type() != "invalid" {
		t.Fatalf("expected an invalid verify answer, got %s", el)
	}
	answerVerify(v1, req1, "valid")
	const more = 200 // read while the verification completes
	p.write(strings.Repeat("<db:verify from='evil.test' to='b.test' id='abc'>0123</db:verify>", more))
	valid := false
	for verifies := 0; verifies < more || !valid; {
		switch el := p.next(); {
		case el.Local == "verify":
			verifies++
		case isDialbackResult("evil.test", "valid")(el):
			valid = true
		default:
			t.Fatalf("expected a valid result for evil.test, got %s", el)
		}
	}
	p.write("<message from='eve@evil.test' to='bob@b.test/pc' type='chat'><body>one</body></message>")
	bob.Expect(isMessageFrom("eve@evil.test", "one"))

	p.write("<db:result from='evil2.test' to='b.test'>fedcba9876543210</db:result>")
	v2, req2 := verifyRequest(t, auth, "evil2.test")
	answerVerify(v2, req2, "valid")
	if el := p.next(); !isDialbackResult("evil2.test", "valid")(el) {
		t.Fatalf("expected a valid result for evil2.test, got %s", el)
	}
	p.write("<message from='eve@evil2.test' to='bob@b.test/pc' type='chat'><body>two</body></message>")
	bob.Expect(isMessageFrom("eve@evil2.test", "two"))

	// evil.test authenticated towards b.test only, not b2.test.
	p.write("<message from='eve@evil.test' to='carol@b2.test' type='chat'><body>three</body></message>")
	if got := p.streamError(); got != "invalid-from" {
		t.Errorf("stanza for a pair that did not authenticate: stream error %q, want invalid-from", got)
	}
}

// TestOwnDomainsCannotBeClaimed: a peer claiming a domain served here, in
// its stream header or in a dialback request, is refused at once.
func TestOwnDomainsCannotBeClaimed(t *testing.T) {
	b := federate(t, peer{domain: "b.test", more: []string{"b2.test"}})[0]
	addr := b.Server.Addr("s2s")
	t.Run("stream header", func(t *testing.T) {
		p := dialRawPeer(t, addr)
		if el := p.open("b2.test", "b.test"); el.Local != "error" || el.FirstElement().Local != "invalid-from" {
			t.Errorf("header from b2.test: got %s, want an invalid-from stream error", el)
		}
	})
	t.Run("dialback request", func(t *testing.T) {
		p := dialbackPeer(t, addr, "evil.test")
		p.write("<db:result from='b2.test' to='b.test'>0123456789abcdef</db:result>")
		el := p.next()
		if el.Local != "result" || el.Type() != "error" || !strings.Contains(el.String(), "not-allowed") {
			t.Errorf("dialback request from b2.test: got %s, want a not-allowed error", el)
		}
		b.WaitLog(time.Second, `"s2s link refused"`, `"remote":"b2.test"`, "claims a domain served here")
	})
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
