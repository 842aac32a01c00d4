package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestMalformedStanzas sends the service and a room stanzas they do not
// expect: each gets the right error (or none, for stanzas that expect no
// answer), and the room keeps working.
func TestMalformedStanzas(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	dave := user(t, srv, "dave")
	create(t, alice, "odd", "Alice")
	join(t, bob, "odd", "Bob", "")
	alice.Expect(isPresence(occ("odd", "Bob")))

	iqs := []struct {
		name string
		c    *testutil.Client
		raw  string
		want string
	}{
		{"unknown namespace to a room", bob, fmt.Sprintf("<iq type='get' to='%s'><query xmlns='jabber:iq:version'/></iq>", roomJID("odd")), "service-unavailable"},
		{"unknown namespace set to a room", bob, fmt.Sprintf("<iq type='set' to='%s'><command xmlns='urn:example:nothing'/></iq>", roomJID("odd")), "service-unavailable"},
		{"no payload to a room", bob, fmt.Sprintf("<iq type='get' to='%s'/>", roomJID("odd")), "bad-request"},
		{"two payloads to a room", bob, fmt.Sprintf("<iq type='get' to='%s'><query xmlns='%s'/><query xmlns='%s'/></iq>", roomJID("odd"), muc.NSDiscoInfo, muc.NSDiscoItems), "bad-request"},
		{"unknown namespace to the service", dave, fmt.Sprintf("<iq type='set' to='%s'><query xmlns='jabber:iq:register'/></iq>", service), "service-unavailable"},
		{"no payload to the service", dave, fmt.Sprintf("<iq type='get' to='%s'/>", service), "bad-request"},
		{"disco set to the service", dave, fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s'/></iq>", service, muc.NSDiscoInfo), "bad-request"}, // as disco set to the server
		{"admin query without items", alice, fmt.Sprintf("<iq type='get' to='%s'><query xmlns='%s'/></iq>", roomJID("odd"), muc.NSAdmin), "bad-request"},
		{"owner set without a form", alice, fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s'/></iq>", roomJID("odd"), muc.NSOwner), "bad-request"},
		{"unknown room", dave, fmt.Sprintf("<iq type='get' to='%s'><query xmlns='jabber:iq:version'/></iq>", roomJID("void")), "item-not-found"},
	}
	for _, c := range iqs {
		t.Run(c.name, func(t *testing.T) {
			if r := c.c.IQ(c.raw); testutil.ErrorCondition(r) != c.want {
				t.Fatalf("got %s, want %s", r, c.want)
			}
		})
	}

	msgs := []struct {
		name string
		c    *testutil.Client
		raw  string
		from string
		want string
	}{
		{"message without a type from an occupant", bob, fmt.Sprintf("<message to='%s'><body>hi</body></message>", roomJID("odd")), roomJID("odd"), "bad-request"},
		{"message without a type from a stranger", dave, fmt.Sprintf("<message to='%s'><body>hi</body></message>", roomJID("odd")), roomJID("odd"), "not-acceptable"},
		{"message to the service", dave, fmt.Sprintf("<message to='%s' type='chat'><body>hi</body></message>", service), service, "service-unavailable"},
		{"invitation without an address", alice, fmt.Sprintf("<message to='%s'><x xmlns='%s'><invite/></x></message>", roomJID("odd"), muc.NSUser), roomJID("odd"), "jid-malformed"},
	}
	for _, c := range msgs {
		t.Run(c.name, func(t *testing.T) {
			c.c.Send(c.raw)
			if e := c.c.Expect(isError("message", c.from)); testutil.ErrorCondition(e) != c.want {
				t.Fatalf("got %s, want %s", e, c.want)
			}
		})
	}

	t.Run("stanzas that expect no answer", func(t *testing.T) {
		bob.Drain()
		dave.Drain()
		bob.Sendf("<presence to='%s'/>", roomJID("odd")) // an occupant's presence without a nick
		bob.Sendf("<presence type='probe' to='%s'/>", occ("odd", "Alice"))
		bob.Sendf("<presence type='subscribe' to='%s'/>", roomJID("odd"))
		bob.Sendf("<iq type='result' id='nothing' to='%s'/>", roomJID("odd"))
		bob.Sendf("<iq type='error' id='nothing' to='%s'/>", occ("odd", "Alice"))
		dave.Sendf("<message type='error' to='%s'/>", roomJID("odd"))
		dave.Sendf("<presence type='unavailable' to='%s'/>", occ("void", "Dave"))
		dave.Sendf("<presence to='%s'/>", service)
		bob.ExpectNone(anyFrom("odd"), quiet)
		dave.ExpectNone(func(el *stanza.Element) bool { return el.Type() == "error" }, quiet)
		alice.ExpectNone(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == occ("odd", "Bob") }, 0)
	})
	// The room still works.
	sendGroupchat(bob, "odd", "still fine")
	alice.Expect(isGroupchat(occ("odd", "Bob"), "still fine"))
}
