package roster_test

import (
	"strconv"
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// TestInitialPresence checks RFC 6121 §4.2: initial presence is broadcast
// to subscribers and the user's own resources, and the probes it causes
// bring back each subscribed contact's presence, show, status and priority
// included, addressed to the new resource.
func TestInitialPresence(t *testing.T) {
	tests := []struct {
		name, show, status string
		priority           int
	}{
		{"away with status", "away", "at lunch", 5},
		{"plain available", "", "", 0},
		{"negative priority", "dnd", "busy", -1},
	}
	srv := testutil.StartServer(t, "")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alice, bob := "alice"+strconv.Itoa(i), "bob"+strconv.Itoa(i)
			mutual(t, srv, alice, bob)
			b := online(t, srv, bob, "r")
			raw := "<presence>"
			if tt.show != "" {
				raw += "<show>" + tt.show + "</show>"
			}
			if tt.status != "" {
				raw += "<status>" + tt.status + "</status>"
			}
			raw += "<priority>" + strconv.Itoa(tt.priority) + "</priority></presence>"
			sendPresence(b, raw)

			a := login(t, srv, alice, "r")
			getRoster(t, a)
			a.Send("<presence><status>hello</status></presence>")
			p := a.Expect(isPresence(b.JID, ""))
			if p.To() != a.JID {
				t.Errorf("probe answer addressed to %q, want the new resource %q", p.To(), a.JID)
			}
			if p.ChildText("", "show") != tt.show || p.ChildText("", "status") != tt.status || p.ChildText("", "priority") != strconv.Itoa(tt.priority) {
				t.Errorf("probe answer %s", p)
			}
			if p := b.Expect(isPresence(a.JID, "")); p.ChildText("", "status") != "hello" || p.To() != bareOf(bob) {
				t.Errorf("broadcast to subscriber: %s", p)
			}
			if p := a.Expect(isPresence(a.JID, "")); p.To() != a.JID {
				t.Errorf("own echo: %s", p)
			}
		})
	}
}

// TestOwnResources checks that a new resource learns the presence of the
// user's other available resources and that they learn its presence.
func TestOwnResources(t *testing.T) {
	srv := testutil.StartServer(t, "")
	r1 := online(t, srv, "alice", "one")
	sendPresence(r1, "<presence><status>first</status></presence>")
	r2 := login(t, srv, "alice", "two")
	r3 := login(t, srv, "alice", "three") // connected, not available
	r2.Send("<presence><status>second</status></presence>")
	if p := r2.Expect(isPresence(r1.JID, "")); p.ChildText("", "status") != "first" || p.To() != r2.JID {
		t.Errorf("new resource sees %s", p)
	}
	if p := r1.Expect(isPresence(r2.JID, "")); p.ChildText("", "status") != "second" {
		t.Errorf("first resource sees %s", p)
	}
	r3.ExpectNone(isPresence(r2.JID, ""), quiet)

	// Presence to the user's own bare JID reaches the available resources.
	r1.Send("<presence to='" + bareOf("alice") + "'><status>note to self</status></presence>")
	if p := r2.Expect(isPresence(r1.JID, "")); p.ChildText("", "status") != "note to self" {
		t.Errorf("presence to own bare JID: %s", p)
	}
	r3.ExpectNone(isPresence(r1.JID, ""), quiet)

	r2.Send("<presence type='unavailable'><status>gone</status></presence>")
	if p := r1.Expect(isPresence(r2.JID, "unavailable")); p.ChildText("", "status") != "gone" {
		t.Errorf("unavailable as seen by the other resource: %s", p)
	}
}

// TestSubsequentPresence checks RFC 6121 §4.4: later presence goes to
// subscribers only, not to contacts the user is merely subscribed to.
func TestSubsequentPresence(t *testing.T) {
	srv := testutil.StartServer(t, "")
	mutual(t, srv, "alice", "bob")
	srv.AddUser("carol", "pw")
	putItem(t, srv, "alice", "carol", "to")
	putItem(t, srv, "carol", "alice", "from")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	c := online(t, srv, "carol", "r")
	b.Expect(isPresence(a.JID, ""))

	sendPresence(a, "<presence><show>xa</show><status>away for long</status></presence>")
	if p := b.Expect(isPresence(a.JID, "")); p.ChildText("", "show") != "xa" {
		t.Errorf("subscriber got %s", p)
	}
	c.ExpectNone(isPresence(a.JID, ""), quiet)
}

// TestUnavailable checks RFC 6121 §4.5 for each way a resource goes away:
// subscribers, the user's other resources and directed-presence targets
// all get unavailable from the resource's full JID.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		leave  func(c *testutil.Client)
		status string
	}{
		{"explicit", func(c *testutil.Client) {
			c.Send("<presence type='unavailable'><status>bye</status></presence>")
		}, "bye"},
		{"stream closed", func(c *testutil.Client) { c.Close() }, ""},
		{"connection dropped", func(c *testutil.Client) { c.Conn.Close() }, ""},
	}
	srv := testutil.StartServer(t, "")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := strconv.Itoa(i)
			mutual(t, srv, "alice"+n, "bob"+n)
			b := online(t, srv, "bob"+n, "r")
			c := online(t, srv, "carol"+n, "r")
			a := online(t, srv, "alice"+n, "one")
			a2 := online(t, srv, "alice"+n, "two")
			a.Send("<presence to='" + c.JID + "'/>")
			c.Expect(isPresence(a.JID, ""))
			b.Expect(isPresence(a.JID, ""))

			tt.leave(a)
			for _, who := range []*testutil.Client{b, c, a2} {
				p := who.Expect(isPresence(a.JID, "unavailable"))
				if p.ChildText("", "status") != tt.status {
					t.Errorf("%s got %s", who.JID, p)
				}
			}
			c.ExpectNone(isPresence(a.JID, "unavailable"), quiet)
		})
	}
}

// TestDirectedPresence checks RFC 6121 §4.6: directed presence is
// delivered and tracked, directed unavailable ends the tracking, and
// presence directed to a subscriber is not tracked twice.
func TestDirectedPresence(t *testing.T) {
	srv := testutil.StartServer(t, "")
	mutual(t, srv, "alice", "bob")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	c := online(t, srv, "carol", "r")
	b.Expect(isPresence(a.JID, ""))
	carol := bareOf("carol")

	a.Send("<presence to='" + carol + "'><status>psst</status></presence>")
	if p := c.Expect(isPresence(a.JID, "")); p.ChildText("", "status") != "psst" || p.To() != carol {
		t.Fatalf("directed presence: %s", p)
	}
	a.Send("<presence to='" + carol + "' type='unavailable'/>")
	c.Expect(isPresence(a.JID, "unavailable"))

	a.Send("<presence to='" + bareOf("bob") + "'><show>chat</show></presence>")
	b.Expect(isPresence(a.JID, ""))

	a.Send("<presence type='unavailable'/>")
	b.Expect(isPresence(a.JID, "unavailable"))
	b.ExpectNone(isPresence(a.JID, "unavailable"), quiet)
	c.ExpectNone(isPresence(a.JID, "unavailable"), quiet)

	// A connected resource that never sent initial presence still tells
	// its directed-presence targets when it goes.
	a2 := login(t, srv, "alice", "quiet")
	a2.Send("<presence to='" + c.JID + "'/>")
	c.Expect(isPresence(a2.JID, ""))
	a2.Conn.Close()
	c.Expect(isPresence(a2.JID, "unavailable"))
	b.ExpectNone(isPresence(a2.JID, "unavailable"), quiet)
}

// TestPresenceToUnknownUser checks that presence of every kind to a local
// account that does not exist is silently dropped (RFC 6121 §8.5.1).
func TestPresenceToUnknownUser(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := online(t, srv, "alice", "r")
	nobody := bareOf("nobody")
	for _, typ := range []string{"", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe"} {
		attr := ""
		if typ != "" {
			attr = " type='" + typ + "'"
		}
		a.Send("<presence to='" + nobody + "'" + attr + "/>")
		a.Send("<presence to='" + nobody + "/x'" + attr + "/>")
	}
	a.ExpectNone(func(el *stanza.Element) bool { return el.Local == "presence" && el.Type() == "error" }, quiet)
	getRoster(t, a) // the stream is fine
}

// TestProbe checks RFC 6121 §4.3.2 for probes a client sends itself:
// a subscriber gets the presence of every available resource; anyone else
// gets unsubscribed, which corrects a roster that wrongly claims a
// subscription.
func TestProbe(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	srv.AddUser("carol", "pw")
	putItem(t, srv, "bob", "alice", "to")
	putItem(t, srv, "alice", "bob", "from")
	putItem(t, srv, "carol", "alice", "to") // alice never approved carol
	a1 := online(t, srv, "alice", "one")
	a2 := online(t, srv, "alice", "two")
	b := online(t, srv, "bob", "r")
	c := online(t, srv, "carol", "r")
	alice := bareOf("alice")

	b.Send("<presence to='" + alice + "' type='probe'/>")
	for _, r := range []*testutil.Client{a1, a2} {
		if p := b.Expect(isPresence(r.JID, "")); p.To() != b.JID {
			t.Errorf("probe answer: %s", p)
		}
	}
	c.Expect(isPresence(alice, "unsubscribed")) // answer to carol's login probe
	c.Expect(isPush(alice, "none"))
	c.Send("<presence to='" + alice + "' type='probe'/>")
	c.ExpectNone(isPresence(a1.JID, ""), quiet)
}

// TestUnknownPresenceType checks that presence of an undefined type is
// refused with bad-request.
func TestUnknownPresenceType(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := online(t, srv, "alice", "r")
	a.Send("<presence type='invisible'/>")
	p := a.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.Type() == "error" })
	if c := testutil.ErrorCondition(p); c != "bad-request" {
		t.Fatalf("got %s", p)
	}
}
