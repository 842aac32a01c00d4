package s2s_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/xmlstream"
)

// tlsKeys renders [tls] keys for a certificate from ca (nil: self-signed).
func tlsKeys(t *testing.T, ca *testutil.CA, domain string) string {
	t.Helper()
	var cert, key string
	if ca != nil {
		cert, key = ca.Issue(t, domain)
		return fmt.Sprintf("cert = %q\nkey = %q\nca = %q\n", cert, key, ca.File)
	}
	cert, key = testutil.SelfSigned(t, domain)
	return fmt.Sprintf("cert = %q\nkey = %q\n", cert, key)
}

func TestAuthenticationMethods(t *testing.T) {
	cases := []struct {
		name         string
		ca           bool   // certificates from a CA both trust
		secureA      bool   // a.test has secure_auth
		secureB      bool   // b.test has secure_auth
		wantAuth     string // method logged for both links; "" means no link
		wantBounceIn string // when no link: text the bounce carries
	}{
		{name: "CA certificates use SASL EXTERNAL", ca: true, wantAuth: "EXTERNAL"},
		{name: "CA certificates with secure_auth", ca: true, secureA: true, secureB: true, wantAuth: "EXTERNAL"},
		{name: "self-signed certificates use dialback", wantAuth: "dialback"},
		{name: "secure_auth refuses a peer it cannot verify", secureA: true, wantBounceIn: "secure_auth"},
		{name: "a secure_auth peer refuses our dialback", secureB: true, wantBounceIn: "secure_auth"},
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
			bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
			alice.Send("<message to='bob@b.test/pc' type='chat' id='m1'><body>hello</body></message>")
			if c.wantAuth == "" {
				el := alice.Expect(isErrorFrom("message", "bob@b.test/pc"))
				if testutil.ErrorCondition(el) != "remote-server-not-found" || !strings.Contains(el.String(), c.wantBounceIn) {
					t.Fatalf("bounce %s, want remote-server-not-found mentioning %q", el, c.wantBounceIn)
				}
				bob.ExpectNone(testutil.IsKind("message"), 300*time.Millisecond)
				return
			}
			bob.Expect(isMessageFrom(alice.JID, "hello"))
			bob.Send("<message to='" + alice.JID + "' type='chat'><body>hi</body></message>")
			alice.Expect(isMessageFrom(bob.JID, "hi"))
			if c.ca {
				// Certificates prove both domains, so a.test makes its link
				// bidirectional (XEP-0288) and b.test answers over it: one
				// connection in all.
				a.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"out"`, `"bidi":true`, `"auth":"`+c.wantAuth+`"`)
				b.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"in"`, `"bidi":true`, `"auth":"`+c.wantAuth+`"`)
				for _, srv := range []*testutil.Server{a, b} {
					if n := len(srv.LogLines(`"s2s link established"`)); n != 1 {
						t.Errorf("%s established %d links, want 1", srv.Domain, n)
					}
				}
				return
			}
			for _, srv := range []*testutil.Server{a, b} {
				for _, dir := range []string{"in", "out"} {
					line := srv.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"`+dir+`"`, `"auth":"`+c.wantAuth+`"`)
					if strings.Contains(line, "bidi") {
						t.Errorf("bidirectional link without a verified certificate: %s", line)
					}
				}
			}
		})
	}
}

// rawPeer is a hand-driven server stream into a parley server, for
// protocol-level tests.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	rd   *xmlstream.Reader
	br   *bufio.Reader
}

func dialRawPeer(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, conn: nc, br: bufio.NewReader(nc)}
}

func (p *rawPeer) write(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// open sends a stream header and returns the features.
func (p *rawPeer) open(from, to string) *stanza.Element {
	p.t.Helper()
	p.write(fmt.Sprintf("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='%s' to='%s' version='1.0'>", from, to))
	p.rd = xmlstream.NewReader(p.br, 1<<20)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.rd.ReadHeader(); err != nil {
		p.t.Fatalf("read header: %v", err)
	}
	return p.next()
}

func (p *rawPeer) next() *stanza.Element {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	el, err := p.rd.Next()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

// startTLS upgrades the stream, presenting cert as client certificate.
func (p *rawPeer) startTLS(cert *tls.Certificate) {
	p.t.Helper()
	p.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := p.next(); el.Local != "proceed" {
		p.t.Fatalf("starttls: %s", el)
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(p.conn, cfg)
	if err := tc.Handshake(); err != nil {
		p.t.Fatalf("TLS: %v", err)
	}
	p.conn, p.br = tc, bufio.NewReader(tc)
}

// streamError reads until the stream error and returns its condition.
func (p *rawPeer) streamError() string {
	p.t.Helper()
	for {
		el := p.next()
		if el.Space == stanza.NSStream && el.Local == "error" {
			return el.FirstElement().Local
		}
	}
}

// loadCert returns a function loading the key pair that certificate
// helpers such as CA.Issue return.
func loadCert(t *testing.T) func(certFile, keyFile string) tls.Certificate {
	return func(certFile, keyFile string) tls.Certificate {
		t.Helper()
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
}

func hasMechanism(features *stanza.Element, mech string) bool {
	return strings.Contains(features.String(), "<mechanism>"+mech+"</mechanism>")
}

// externalPeer authenticates a raw stream as domain with a certificate
// from ca and returns it ready for stanzas.
func externalPeer(t *testing.T, addr, domain, to string, ca *testutil.CA) *rawPeer {
	t.Helper()
	cert := loadCert(t)(ca.Issue(t, domain))
	p := dialRawPeer(t, addr)
	p.open(domain, to)
	p.startTLS(&cert)
	f := p.open(domain, to)
	if !hasMechanism(f, "EXTERNAL") {
		t.Fatalf("EXTERNAL not offered to a peer with a valid certificate: %s", f)
	}
	p.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(domain)) + "</auth>")
	if el := p.next(); el.Local != "success" {
		t.Fatalf("EXTERNAL: %s", el)
	}
	p.open(domain, to)
	return p
}

func TestIncomingStanzasAreChecked(t *testing.T) {
	ca := testutil.NewCA(t)
	s := federate(t, peer{domain: "b.test", tls: tlsKeys(t, ca, "b.test"), s2s: "max_stanza_size = 10000"})
	b := s[0]
	addr := b.Server.Addr("s2s")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")

	t.Run("authenticated peer delivers", func(t *testing.T) {
		p := externalPeer(t, addr, "evil.test", "b.test", ca)
		p.write("<message from='mallory@evil.test/x' to='bob@b.test/pc' type='chat'><body>legit</body></message>")
		bob.Expect(isMessageFrom("mallory@evil.test/x", "legit"))
	})
	cases := []struct {
		name, stanza, condition string
	}{
		{"spoofed from", "<message from='alice@a.test' to='bob@b.test/pc' type='chat'><body>spoof</body></message>", "invalid-from"},
		{"spoofed local from", "<message from='alice@b.test' to='bob@b.test/pc' type='chat'><body>spoof</body></message>", "invalid-from"},
		{"to a domain not served", "<message from='mallory@evil.test' to='bob@other.test' type='chat'><body>x</body></message>", "host-unknown"},
		{"no from", "<message to='bob@b.test/pc' type='chat'><body>x</body></message>", "improper-addressing"},
		{"malformed from", "<message from='@@evil.test' to='bob@b.test/pc'><body>x</body></message>", "invalid-from"},
		{"malformed XML", "<message from='mallory@evil.test' to='bob@b.test/pc'><body>x</message>", "not-well-formed"},
		{"oversized stanza", "<message from='mallory@evil.test' to='bob@b.test/pc'><body>" + strings.Repeat("x", 200000) + "</body></message>", "policy-violation"},
		{"unknown element", "<frobnicate xmlns='urn:example:unknown'/>", "unsupported-stanza-type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := externalPeer(t, addr, "evil.test", "b.test", ca)
			p.write(c.stanza)
			if got := p.streamError(); got != c.condition {
				t.Errorf("stream error %q, want %q", got, c.condition)
			}
			testutil.ExpectOrderlyClose(t, p.conn, p.br)
		})
	}
	bob.ExpectNone(testutil.IsKind("message"), 200*time.Millisecond)

	t.Run("stanza before authentication", func(t *testing.T) {
		p := dialRawPeer(t, addr)
		p.open("evil.test", "b.test")
		p.startTLS(nil)
		p.open("evil.test", "b.test")
		p.write("<message from='mallory@evil.test' to='bob@b.test/pc' type='chat'><body>early</body></message>")
		if got := p.streamError(); got != "invalid-from" {
			t.Errorf("stream error %q, want invalid-from", got)
		}
	})
	t.Run("untrusted certificate gets no EXTERNAL", func(t *testing.T) {
		cert := loadCert(t)(testutil.SelfSigned(t, "evil.test"))
		p := dialRawPeer(t, addr)
		p.open("evil.test", "b.test")
		p.startTLS(&cert)
		f := p.open("evil.test", "b.test")
		if hasMechanism(f, "EXTERNAL") {
			t.Fatalf("EXTERNAL offered for an untrusted certificate: %s", f)
		}
		p.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
		if el := p.next(); el.Local != "failure" || el.FirstElement().Local != "not-authorized" {
			t.Fatalf("EXTERNAL with an untrusted certificate: %s", el)
		}
	})
	t.Run("certificate for another domain", func(t *testing.T) {
		cert := loadCert(t)(ca.Issue(t, "other.test"))
		p := dialRawPeer(t, addr)
		p.open("evil.test", "b.test")
		p.startTLS(&cert)
		if f := p.open("evil.test", "b.test"); hasMechanism(f, "EXTERNAL") {
			t.Fatalf("EXTERNAL offered to evil.test with a certificate for other.test: %s", f)
		}
	})
	t.Run("TLS is required", func(t *testing.T) {
		p := dialRawPeer(t, addr)
		f := p.open("evil.test", "b.test")
		if !strings.Contains(f.String(), "<required/>") {
			t.Fatalf("STARTTLS not required: %s", f)
		}
		p.write("<db:result from='evil.test' to='b.test'>abc</db:result>")
		if got := p.streamError(); got != "policy-violation" {
			t.Errorf("dialback before TLS: stream error %q, want policy-violation", got)
		}
	})
	t.Run("unknown host", func(t *testing.T) {
		p := dialRawPeer(t, addr)
		p.write("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='evil.test' to='nothere.test' version='1.0'>")
		p.rd = xmlstream.NewReader(p.br, 1<<20)
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := p.rd.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if got := p.streamError(); got != "host-unknown" {
			t.Errorf("stream error %q, want host-unknown", got)
		}
	})
	t.Run("forged dialback key", func(t *testing.T) {
		// b.test asks a.test's authoritative server (here: nobody knows
		// a.test, so verification cannot succeed) and must not accept.
		p := dialRawPeer(t, addr)
		p.open("a.test", "b.test")
		p.startTLS(nil)
		p.open("a.test", "b.test")
		p.write("<db:result from='a.test' to='b.test'>0123456789abcdef</db:result>")
		el := p.next()
		if el.Local != "result" || el.Type() == "valid" {
			t.Fatalf("forged key: %s", el)
		}
		p.write("<message from='alice@a.test' to='bob@b.test/pc' type='chat'><body>forged</body></message>")
		if got := p.streamError(); got != "invalid-from" {
			t.Errorf("stream error %q, want invalid-from", got)
		}
	})
}

func TestBidirectionalLinkEndsAndPeerOpensItsOwn(t *testing.T) {
	ca := testutil.NewCA(t)
	s := federate(t,
		peer{domain: "a.test", tls: tlsKeys(t, ca, "a.test"), s2s: `idle_timeout = "300ms"`},
		peer{domain: "b.test", tls: tlsKeys(t, ca, "b.test")},
	)
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>one</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "one"))
	bob.Send("<message to='" + alice.JID + "' type='chat'><body>back over the same link</body></message>")
	alice.Expect(isMessageFrom(bob.JID, "back over the same link"))
	b.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"in"`, `"bidi":true`)

	// a.test closes its idle link; b.test must not lose its way back.
	b.WaitLog(3*time.Second, `"s2s link closed"`, `"direction":"in"`, `"remote":"a.test"`)
	bob.Send("<message to='" + alice.JID + "' type='chat'><body>over b's own link</body></message>")
	alice.Expect(isMessageFrom(bob.JID, "over b's own link"))
	b.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"out"`, `"remote":"a.test"`, `"auth":"EXTERNAL"`)
}
