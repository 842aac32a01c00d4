package component_test

import (
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/xmlstream"
)

func TestHandshake(t *testing.T) {
	srv := startServer(t)
	if srv.Components().Connected(gw) {
		t.Fatal("connected before any component connected")
	}
	c := dialComponent(t, srv, gw)
	if c.header.Namespace != nsAccept || c.header.From != gw || len(c.header.ID) < 16 {
		t.Fatalf("server stream header %+v, want namespace %s, from %s and an id", c.header, nsAccept, gw)
	}
	c.handshake(gwSecret)
	if el := c.Next(); !isHandshakeOK(el) {
		t.Fatalf("handshake answered with %s, want an empty <handshake/>", el)
	}
	if !srv.Components().Connected(gw) {
		t.Fatal("not connected after the handshake")
	}
	if lines := logLines(srv, "component connected", gw); len(lines) != 1 || !strings.Contains(lines[0], c.Conn.LocalAddr().String()) {
		t.Fatalf("log lines for the connection: %q, want one naming the remote address", lines)
	}
	c.close()
	if srv.Components().Connected(gw) {
		t.Fatal("still connected after the stream closed")
	}
	if lines := logLines(srv, "component disconnected", gw); !hasReason(lines, "the component closed the stream") {
		t.Fatalf("log lines for the disconnection: %q", lines)
	}
	// Each stream has an id of its own, so a handshake cannot be replayed.
	if again := dialComponent(t, srv, gw); again.header.ID == c.header.ID {
		t.Fatalf("two streams with the id %s", c.header.ID)
	}
}

// TestHandshakeDigestCase: the digest is compared without regard to the
// case of its hex digits.
func TestHandshakeDigestCase(t *testing.T) {
	srv := startServer(t)
	c := dialComponent(t, srv, gw)
	c.Write("<handshake> " + strings.ToUpper(digest(c.header.ID, gwSecret)) + "\n</handshake>")
	if el := c.Next(); !isHandshakeOK(el) {
		t.Fatalf("handshake answered with %s", el)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	srv := startServer(t)
	cases := []struct {
		name      string
		domain    string
		run       func(c *compConn)
		condition string
		logged    string // in the reason of the log line
	}{
		{"wrong secret", gw, func(c *compConn) { c.handshake("not-the-secret-at-all") }, "not-authorized", "does not match"},
		{"other component's secret", gw, func(c *compConn) { c.handshake("idle-secret-0123456789") }, "not-authorized", "does not match"},
		{"empty handshake", gw, func(c *compConn) { c.Write("<handshake/>") }, "not-authorized", "does not match"},
		{"stanza before the handshake", gw, func(c *compConn) {
			c.Write("<message from='bot@" + gw + "' to='alice@" + testutil.Domain + "'><body>early</body></message>")
		}, "not-authorized", "handshake first"},
		{"handshake in another namespace", gw, func(c *compConn) {
			c.Write("<handshake xmlns='jabber:client'>" + digest(c.header.ID, gwSecret) + "</handshake>")
		}, "not-authorized", "handshake first"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialComponent(t, srv, tc.domain)
			tc.run(c)
			if got := c.ExpectStreamError(); got != tc.condition {
				t.Fatalf("stream error %q, want %q", got, tc.condition)
			}
			c.ExpectOrderlyClose()
			if srv.Components().Connected(tc.domain) {
				t.Fatal("connected")
			}
			if lines := logLines(srv, "component authentication failed", tc.domain); !hasReason(lines, tc.logged) {
				t.Fatalf("no log line with a reason containing %q: %q", tc.logged, lines)
			}
		})
	}
}

func TestStreamHeaderErrors(t *testing.T) {
	srv := startServer(t)
	cases := []struct {
		name, header, condition string
	}{
		{"unknown domain", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='nope." + testutil.Domain + "'>", "host-unknown"},
		{"served domain", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='" + testutil.Domain + "'>", "host-unknown"},
		{"no to", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>", "host-unknown"},
		{"JID with a localpart", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='bot@" + gw + "'>", "host-unknown"},
		{"client namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + gw + "'>", "invalid-namespace"},
		{"not a stream", "<stream xmlns='jabber:component:accept' to='" + gw + "'>", "invalid-namespace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.DialRaw(t, srv.Server.Addr("components"))
			s.Write(tc.header)
			if got := s.ExpectHeaderThenError(); got != tc.condition {
				t.Fatalf("stream error %q, want %q", got, tc.condition)
			}
			s.ExpectOrderlyClose()
		})
	}
	// The header answering an unknown domain does not claim it.
	c := dialComponent(t, srv, "nope."+testutil.Domain)
	if c.header.From != "" {
		t.Errorf("header answering an unknown domain is from %q", c.header.From)
	}
	if got := c.ExpectStreamError(); got != "host-unknown" {
		t.Errorf("stream error %q, want host-unknown", got)
	}
	if lines := logLines(srv, "component authentication failed", "nope."+testutil.Domain); !hasReason(lines, "host-unknown") {
		t.Errorf("no log line for the unknown domain: %q", lines)
	}
}

// TestDomainCaseInHeader: the stream header's to is normalized, and the
// server answers from the domain as configured.
func TestDomainCaseInHeader(t *testing.T) {
	srv := startServer(t)
	c := dialComponent(t, srv, strings.ToUpper(gw))
	if c.header.From != gw {
		t.Fatalf("header from %q, want %q", c.header.From, gw)
	}
	c.handshake(gwSecret)
	if el := c.Next(); !isHandshakeOK(el) {
		t.Fatalf("handshake answered with %s", el)
	}
}

// TestSecondConnection: a second component authenticating for a domain
// that is connected gets a conflict stream error, and the first keeps the
// domain; once the first has gone, a new connection succeeds.
func TestSecondConnection(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	first := connect(t, srv)

	second := dialComponent(t, srv, gw)
	second.handshake(gwSecret)
	if got := second.ExpectStreamError(); got != "conflict" {
		t.Fatalf("second connection: stream error %q, want conflict", got)
	}
	second.ExpectOrderlyClose()
	if lines := logLines(srv, "component authentication failed", gw); !hasReason(lines, "already connected") {
		t.Fatalf("no log line for the refused connection: %q", lines)
	}

	alice.Send("<message to='bot@" + gw + "' type='chat'><body>still you?</body></message>")
	if el := first.expectStanza("message"); el.ChildText(nsAccept, "body") != "still you?" {
		t.Fatalf("first component got %s", el)
	}

	first.close()
	third := connect(t, srv)
	alice.Send("<message to='bot@" + gw + "' type='chat'><body>new one</body></message>")
	if el := third.expectStanza("message"); el.ChildText(nsAccept, "body") != "new one" {
		t.Fatalf("new component got %s", el)
	}
}

// TestMessagesBothWays: a local user's message to a JID at the component's
// domain arrives at the component with its addresses and unknown payloads
// untouched, and the component's reply reaches the user likewise.
func TestMessagesBothWays(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	c := connect(t, srv)
	bot := "bot@" + gw

	alice.Send("<message to='" + bot + "' type='chat' id='m1'><body>ping &amp; more</body>" +
		"<x xmlns='urn:example:custom' a='1'><y>text</y><z xmlns='urn:example:other'/></x></message>")
	el := c.expectStanza("message")
	if el.From() != alice.JID || el.To() != bot || el.ID() != "m1" || el.Type() != "chat" {
		t.Fatalf("component got %s", el)
	}
	if el.ChildText(nsAccept, "body") != "ping & more" {
		t.Fatalf("body of %s", el)
	}
	x := el.Child("urn:example:custom", "x")
	if x == nil || x.Attr("a") != "1" || x.ChildText("urn:example:custom", "y") != "text" || x.Child("urn:example:other", "z") == nil {
		t.Fatalf("unknown payload not passed through: %s", el)
	}

	c.Write("<message from='" + bot + "/r' to='" + alice.JID + "' type='chat' id='r1'><body>pong</body>" +
		"<x xmlns='urn:example:custom' b='2'><y>back</y></x></message>")
	reply := alice.Expect(testutil.IsFrom("message", bot+"/r"))
	if reply.ID() != "r1" || reply.ChildText("", "body") != "pong" {
		t.Fatalf("alice got %s", reply)
	}
	if x := reply.Child("urn:example:custom", "x"); x == nil || x.Attr("b") != "2" || x.ChildText("urn:example:custom", "y") != "back" {
		t.Fatalf("unknown payload not passed through: %s", reply)
	}

	// From the bare domain too, and to the user's bare JID, which
	// reaches her available resources.
	alice.Send("<presence/>")
	alice.IQ("<iq type='get' to='" + testutil.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>") // the presence is handled
	c.Write("<message from='" + gw + "' to='alice@" + testutil.Domain + "' type='chat'><body>from the gateway</body></message>")
	if m := alice.Expect(testutil.IsFrom("message", gw)); m.ChildText("", "body") != "from the gateway" {
		t.Fatalf("alice got %s", m)
	}
}

// TestIQBothWays: iq requests cross in both directions and their answers
// come back.
func TestIQBothWays(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	c := connect(t, srv)

	alice.Send("<iq type='get' id='q1' to='" + gw + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	req := c.expectStanza("iq")
	if req.From() != alice.JID || req.ID() != "q1" || req.Child("http://jabber.org/protocol/disco#info", "query") == nil {
		t.Fatalf("component got %s", req)
	}
	c.Write("<iq type='result' id='q1' from='" + gw + "' to='" + alice.JID + "'><query xmlns='http://jabber.org/protocol/disco#info'>" +
		"<identity category='gateway' type='irc' name='IRC'/></query></iq>")
	res := alice.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.ID() == "q1" })
	q := res.Child("http://jabber.org/protocol/disco#info", "query")
	if res.Type() != "result" || res.From() != gw || q == nil || q.Child("http://jabber.org/protocol/disco#info", "identity").Attr("type") != "irc" {
		t.Fatalf("alice got %s", res)
	}

	// The component asks the server, which answers it.
	c.Write("<iq type='get' id='p1' from='" + gw + "' to='" + testutil.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if pong := c.expectStanza("iq"); pong.Type() != "result" || pong.ID() != "p1" || pong.To() != gw {
		t.Fatalf("server answered the component's ping with %s", pong)
	}

	// An iq without an id is refused with a stanza error, and the
	// stream goes on.
	c.Write("<iq type='get' from='" + gw + "' to='" + testutil.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if e := c.expectStanza("iq"); e.Type() != "error" || e.Child(nsAccept, "error").Child(stanza.NSStanzas, "bad-request") == nil {
		t.Fatalf("iq without id answered with %s", e)
	}
	c.Write("<iq type='get' id='p2' from='" + gw + "' to='" + testutil.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if pong := c.expectStanza("iq"); pong.Type() != "result" || pong.ID() != "p2" {
		t.Fatalf("after the refused iq: %s", pong)
	}

	// So is a malformed recipient.
	c.Write("<message id='m1' from='bot@" + gw + "' to='a@@b'><body>x</body></message>")
	if e := c.expectStanza("message"); e.Type() != "error" || e.ID() != "m1" || e.Child(nsAccept, "error").Child(stanza.NSStanzas, "jid-malformed") == nil {
		t.Fatalf("message to a malformed JID answered with %s", e)
	}
}

// TestPresenceToAndFromComponent: directed presence reaches the
// component, and the component's presence reaches the user.
func TestPresenceToAndFromComponent(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	c := connect(t, srv)
	alice.Send("<presence/>")
	alice.Send("<presence to='bot@" + gw + "'><status>here</status></presence>")
	p := c.expectStanza("presence")
	if p.From() != alice.JID || p.To() != "bot@"+gw || p.ChildText(nsAccept, "status") != "here" {
		t.Fatalf("component got %s", p)
	}
	c.Write("<presence from='bot@" + gw + "/r' to='" + alice.JID + "'><show>chat</show></presence>")
	if got := alice.Expect(testutil.IsFrom("presence", "bot@"+gw+"/r")); got.ChildText("", "show") != "chat" {
		t.Fatalf("alice got %s", got)
	}
}

// TestDisconnectedComponentBounces: stanzas for a component that is not
// connected bounce with service-unavailable, before it ever connected and
// after it left.
func TestDisconnectedComponentBounces(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	check := func(domain string) {
		t.Helper()
		r := alice.IQ("<iq type='get' to='" + domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
		if r.From() != domain || testutil.ErrorCondition(r) != "service-unavailable" {
			t.Fatalf("iq to disconnected %s answered with %s", domain, r)
		}
		alice.Send("<message to='bot@" + domain + "' id='lost' type='chat'><body>anyone?</body></message>")
		m := alice.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ID() == "lost" })
		if m.From() != "bot@"+domain || testutil.ErrorCondition(m) != "service-unavailable" {
			t.Fatalf("message to disconnected %s answered with %s", domain, m)
		}
	}
	check(idle)
	check(gw)
	c := connect(t, srv)
	c.close()
	check(gw)
}

// TestStreamErrors: what a component sends after its handshake that is
// not an acceptable stanza ends its stream with the matching stream
// error, which the component can still read, and nothing is delivered.
func TestStreamErrors(t *testing.T) {
	srv := startServer(t)
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	to := " to='" + alice.JID + "'"
	cases := []struct {
		name, xml, condition string
	}{
		{"spoofed from a local user", "<message from='bob@" + testutil.Domain + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"spoofed from the server", "<message from='" + testutil.Domain + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"spoofed from another component", "<message from='bot@" + idle + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"from a subdomain", "<message from='bot@x." + gw + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"from a domain ending like it", "<message from='bot@x" + gw + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"no from", "<message" + to + "><body>x</body></message>", "invalid-from"},
		{"malformed from", "<message from='@@" + gw + "'" + to + "><body>x</body></message>", "invalid-from"},
		{"no to", "<message from='bot@" + gw + "'><body>x</body></message>", "improper-addressing"},
		{"not well-formed", "<message from='bot@" + gw + "'" + to + "><body>x</message>", "not-well-formed"},
		{"restricted XML", "<!-- a comment -->", "restricted-xml"},
		{"oversized stanza", "<message from='bot@" + gw + "'" + to + "><body>" + strings.Repeat("x", 30000) + "</body></message>", "policy-violation"},
		{"unknown element", "<frobnicate xmlns='urn:example:unknown'/>", "unsupported-stanza-type"},
		{"second handshake", "<handshake>00</handshake>", "unsupported-stanza-type"},
		{"stanza in another namespace", "<message xmlns='urn:example:unknown' from='bot@" + gw + "'" + to + "/>", "unsupported-stanza-type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, srv)
			c.Write(tc.xml)
			if got := c.ExpectStreamError(); got != tc.condition {
				t.Fatalf("stream error %q, want %q", got, tc.condition)
			}
			c.ExpectOrderlyClose()
			if lines := logLines(srv, "component disconnected", gw); !hasReason(lines, tc.condition) {
				t.Fatalf("no log line naming %s: %q", tc.condition, lines)
			}
		})
	}
	alice.ExpectNone(testutil.IsKind("message"), 200*time.Millisecond)
}

// TestShutdown: the server's shutdown ends component streams with
// system-shutdown.
func TestShutdown(t *testing.T) {
	srv := startServer(t)
	c := connect(t, srv)
	pending := dialComponent(t, srv, gw) // not authenticated yet
	srv.Stop()
	for _, s := range []*compConn{c, pending} {
		if got := s.ExpectStreamError(); got != "system-shutdown" {
			t.Fatalf("stream error %q, want system-shutdown", got)
		}
		if _, err := s.NextErr(); err != xmlstream.ErrStreamClosed {
			t.Fatalf("after the stream error: %v, want the closing tag", err)
		}
	}
}

// TestSecretsNotLogged: neither a secret nor a handshake digest appears
// in the log, whether the handshake succeeds or fails.
func TestSecretsNotLogged(t *testing.T) {
	srv := startServer(t)
	ok := connect(t, srv)
	bad := dialComponent(t, srv, gw)
	bad.handshake("idle-secret-0123456789")
	if got := bad.ExpectStreamError(); got != "not-authorized" {
		t.Fatalf("stream error %q, want not-authorized", got)
	}
	ok.close()
	log := srv.Log()
	if !strings.Contains(log, "component authentication failed") {
		t.Fatalf("the failed handshake was not logged:\n%s", log)
	}
	for _, secret := range []string{gwSecret, "idle-secret-0123456789", digest(ok.header.ID, gwSecret), digest(bad.header.ID, "idle-secret-0123456789")} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q:\n%s", secret, log)
		}
	}
}
