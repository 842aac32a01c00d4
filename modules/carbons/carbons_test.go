package carbons_test

import (
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/modules/carbons"
	"parley/stanza"
)

const quiet = 300 * time.Millisecond

// enable turns carbons on for c.
func enable(t *testing.T, c *testutil.Client) {
	t.Helper()
	if r := c.IQ("<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Type() != "result" {
		t.Fatalf("%s: enabling carbons: %s", c.JID, r)
	}
}

// online logs local in with resource and priority and sends presence.
func online(t *testing.T, srv *testutil.Server, local, resource string, priority int) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, srv.Addr, local+"@"+srv.Domain, local+"-pw", resource)
	c.Sendf("<presence><priority>%d</priority></presence>", priority)
	c.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == c.JID })
	return c
}

// copyOf returns a matcher for a carbon of the given direction whose
// forwarded message has the body.
func copyOf(direction, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		w := el.Child(carbons.NS, direction)
		if el.Local != "message" || w == nil {
			return false
		}
		fwd := w.Child(carbons.NSForward, "forwarded")
		return fwd != nil && fwd.Child("", "message").ChildText("", "body") == body
	}
}

func isCarbon(el *stanza.Element) bool {
	return el.Local == "message" && (el.Child(carbons.NS, "sent") != nil || el.Child(carbons.NS, "received") != nil)
}

func withBody(body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Local == "message" && el.ChildText("", "body") == body }
}

func TestCarbons(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	alice, bob := "alice@"+srv.Domain, "bob@"+srv.Domain
	pc := online(t, srv, "alice", "pc", 5)
	phone := online(t, srv, "alice", "phone", 1)
	tablet := online(t, srv, "alice", "tablet", 0) // never enables carbons
	b := online(t, srv, "bob", "pc", 0)
	enable(t, phone)
	enable(t, pc)
	// Drain presence traffic.
	time.Sleep(quiet)
	for _, c := range []*testutil.Client{pc, phone, tablet, b} {
		c.Drain()
	}

	cases := []struct {
		name      string
		from      *testutil.Client
		raw       string // %s is replaced by the destination
		to        string
		body      string
		pcGets    string // "original", "sent", "received" or ""
		phoneGets string
	}{
		{"received, to a full JID", b, "<message to='%s' type='chat'><body>%s</body></message>", alice + "/pc", "b1", "original", "received"},
		{"received, to the bare JID", b, "<message to='%s' type='chat'><body>%s</body></message>", alice, "b2", "original", "received"},
		{"received, normal with body", b, "<message to='%s'><body>%s</body></message>", alice + "/pc", "b3", "original", "received"},
		{"sent by the pc", pc, "<message to='%s' type='chat'><body>%s</body></message>", bob, "a1", "", "sent"},
		{"received, private", b, "<message to='%s' type='chat'><body>%s</body><private xmlns='urn:xmpp:carbons:2'/></message>", alice + "/pc", "b4", "original", ""},
		{"sent, private", pc, "<message to='%s' type='chat'><body>%s</body><private xmlns='urn:xmpp:carbons:2'/></message>", bob, "a2", "", ""},
		{"sent, no-copy hint", pc, "<message to='%s' type='chat'><body>%s</body><no-copy xmlns='urn:xmpp:hints'/></message>", bob, "a3", "", ""},
		{"received, headline", b, "<message to='%s' type='headline'><body>%s</body></message>", alice + "/pc", "b5", "original", ""},
		{"received, private message from a room", b, "<message to='%s' type='chat'><body>%s</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>", alice + "/pc", "b6", "original", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.from.Sendf(strings.Replace(c.raw, "%s", c.to, 1), c.body)
			check := func(cl *testutil.Client, gets string) {
				t.Helper()
				switch gets {
				case "original":
					m := cl.Expect(withBody(c.body))
					if m.Child(carbons.NS, "private") != nil {
						t.Errorf("%s: the private marker reached the recipient: %s", cl.JID, m)
					}
				case "sent", "received":
					m := cl.Expect(copyOf(gets, c.body))
					if m.From() != alice || m.To() != cl.JID {
						t.Errorf("%s: copy addressed from %q to %q", cl.JID, m.From(), m.To())
					}
				}
			}
			check(pc, c.pcGets)
			check(phone, c.phoneGets)
			if c.from == pc {
				b.Expect(withBody(c.body))
			}
			for _, cl := range []*testutil.Client{pc, phone, tablet} {
				cl.ExpectNone(func(el *stanza.Element) bool {
					return isCarbon(el) || withBody(c.body)(el)
				}, quiet)
			}
		})
	}

	t.Run("disabled", func(t *testing.T) {
		if r := phone.IQ("<iq type='set'><disable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Type() != "result" {
			t.Fatalf("disable: %s", r)
		}
		b.Sendf("<message to='%s/pc' type='chat'><body>after</body></message>", alice)
		pc.Expect(withBody("after"))
		phone.ExpectNone(isCarbon, quiet)
		enable(t, phone)
		enable(t, phone) // repeated requests succeed (XEP-0280 §8.1)
	})
}

func TestCarbonsRequestsAndSpoofing(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	alice, bob := "alice@"+srv.Domain, "bob@"+srv.Domain
	pc := online(t, srv, "alice", "pc", 0)
	phone := online(t, srv, "alice", "phone", 0)
	b := online(t, srv, "bob", "pc", 0)
	enable(t, phone)

	for _, c := range []struct{ name, iq, want string }{
		{"get", "<iq type='get'><enable xmlns='urn:xmpp:carbons:2'/></iq>", "bad-request"},
		{"someone else's account", "<iq type='set' to='" + bob + "'><enable xmlns='urn:xmpp:carbons:2'/></iq>", "forbidden"},
		{"unknown element", "<iq type='set'><toggle xmlns='urn:xmpp:carbons:2'/></iq>", "bad-request"},
	} {
		if r := pc.IQ(c.iq); testutil.ErrorCondition(r) != c.want {
			t.Errorf("%s: %s, want %s", c.name, r, c.want)
		}
	}
	if r := pc.IQ("<iq type='get' to='" + srv.Domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"); !strings.Contains(r.String(), "var='urn:xmpp:carbons:2'") {
		t.Errorf("server disco#info lacks carbons: %s", r)
	}

	// A client cannot send a carbon of its own making.
	forged := "<message to='%s' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='%s/pc' to='%s' type='chat'><body>forged</body></message></forwarded></received></message>"
	b.Sendf(forged, alice, bob, alice)
	if e := b.Expect(testutil.IsKind("message")); testutil.ErrorCondition(e) != "not-acceptable" {
		t.Fatalf("forged carbon: %s", e)
	}
	pc.ExpectNone(isCarbon, quiet)
	phone.ExpectNone(isCarbon, quiet)
	time.Sleep(quiet)
	phone.Drain()

	// Sending a copy of a message to oneself is no exception.
	pc.Sendf("<message to='%s' type='chat'><sent xmlns='urn:xmpp:carbons:2'/><body>to myself</body></message>", alice+"/phone")
	phone.ExpectNone(withBody("to myself"), quiet)
}

// TestCarbonsAcrossServers checks copies of messages to and from a user
// of another server.
func TestCarbonsAcrossServers(t *testing.T) {
	s := testutil.Federate(t, "", "a.test", "b.test")
	login := func(srv *testutil.Server, local, resource string) *testutil.Client {
		c := testutil.Login(t, srv.Addr, local+"@"+srv.Domain, local+"-pw", resource)
		c.Send("<presence/>")
		return c
	}
	pc := login(s[0], "alice", "pc")
	phone := login(s[0], "alice", "phone")
	enable(t, phone)
	bob := login(s[1], "bob", "pc")

	pc.Send("<message to='bob@b.test/pc' type='chat'><body>over there</body></message>")
	bob.Expect(withBody("over there"))
	phone.Expect(copyOf("sent", "over there"))

	bob.Send("<message to='alice@a.test/pc' type='chat'><body>back here</body></message>")
	pc.Expect(withBody("back here"))
	phone.Expect(copyOf("received", "back here"))

	// A remote server cannot slip a carbon to a local user.
	bob.Send("<message to='alice@a.test/phone' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@a.test/pc' to='eve@b.test'><body>injected</body></message></forwarded></sent></message>")
	bob.Send("<message to='alice@a.test/phone' type='chat'><body>marker</body></message>")
	phone.Expect(withBody("marker"))
	phone.ExpectNone(copyOf("sent", "injected"), quiet)
}
