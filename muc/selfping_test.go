package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// pingIQ is a ping (XEP-0199) to an address.
func pingIQ(to string) string {
	return fmt.Sprintf("<iq type='get' to='%s'><ping xmlns='%s'/></iq>", to, muc.NSPing)
}

// isForwardedPing matches a ping the room passed on from an occupant JID.
func isForwardedPing(from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "iq" && el.Type() == "get" && el.From() == from && el.Child(muc.NSPing, "ping") != nil
	}
}

// TestSelfPing checks MUC self-ping (XEP-0410): a ping to one's own
// occupant JID is answered by the room without reaching the client; from
// a session that is not (or no longer) in the room under that nick it
// gets not-acceptable, which makes the client join again, and never
// item-not-found, which would tell it that it still is in; pings to
// other occupants are passed on as before (XEP-0045 §6.7).
func TestSelfPing(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	bobPhone := login(t, srv, "bob", "phone")
	dave := user(t, srv, "dave")
	create(t, alice, "ping", "Alice")
	join(t, bob, "ping", "Bob", "")

	// The room answers, and the client is not asked.
	if r := bob.IQ(pingIQ(occ("ping", "Bob"))); r.Type() != "result" || r.From() != occ("ping", "Bob") || len(r.Children) != 0 {
		t.Fatalf("self-ping: %s", r)
	}
	bob.ExpectNone(isForwardedPing(occ("ping", "Bob")), quiet)

	refused := []struct {
		name string
		c    *testutil.Client
		to   string
	}{
		{"another session of the occupant's account", bobPhone, occ("ping", "Bob")},
		{"a stranger pinging an occupant", dave, occ("ping", "Bob")},
		{"a stranger pinging a nick nobody has", dave, occ("ping", "Nobody")},
		{"a room that does not exist", bob, occ("nowhere", "Bob")},
	}
	for _, tc := range refused {
		if r := tc.c.IQ(pingIQ(tc.to)); testutil.ErrorCondition(r) != "not-acceptable" {
			t.Errorf("%s: %s", tc.name, r)
		}
	}
	bob.ExpectNone(isForwardedPing(occ("ping", "Bob")), quiet)

	// A ping to another occupant is passed on and its answer routed back.
	bob.Sendf("<iq type='get' id='p1' to='%s'><ping xmlns='%s'/></iq>", occ("ping", "Alice"), muc.NSPing)
	fwd := alice.Expect(isForwardedPing(occ("ping", "Bob")))
	alice.Sendf("<iq type='result' id='%s' to='%s'/>", fwd.ID(), fwd.From())
	if ans := bob.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.ID() == "p1" }); ans.Type() != "result" || ans.From() != occ("ping", "Alice") {
		t.Fatalf("answer to a ping of another occupant: %s", ans)
	}

	// The room itself answers pings (XEP-0199), to anyone.
	for _, c := range []*testutil.Client{bob, dave} {
		if r := c.IQ(pingIQ(roomJID("ping"))); r.Type() != "result" {
			t.Fatalf("%s pinging the room: %s", c.JID, r)
		}
	}

	// After a nickname change the old nick is item-not-found (the client
	// is in, under another nick); the new one answers.
	bob.Send(fmt.Sprintf("<presence to='%s'/>", occ("ping", "Robert")))
	bob.Expect(isPresence(occ("ping", "Robert")))
	if r := bob.IQ(pingIQ(occ("ping", "Bob"))); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("self-ping to the nick before the change: %s", r)
	}
	if r := bob.IQ(pingIQ(occ("ping", "Robert"))); r.Type() != "result" {
		t.Fatalf("self-ping after a nickname change: %s", r)
	}

	// Once out of the room, the client is told to join again.
	bob.Send(fmt.Sprintf("<presence type='unavailable' to='%s'/>", occ("ping", "Robert")))
	bob.Expect(isUnavailable(occ("ping", "Robert")))
	if r := bob.IQ(pingIQ(occ("ping", "Robert"))); testutil.ErrorCondition(r) != "not-acceptable" {
		t.Fatalf("self-ping after leaving: %s", r)
	}

	// A room still locked for its creator does not exist for others.
	join(t, alice, "locked", "Alice", "")
	if r := bob.IQ(pingIQ(occ("locked", "Alice"))); testutil.ErrorCondition(r) != "not-acceptable" {
		t.Fatalf("ping into a locked room: %s", r)
	}
	if r := alice.IQ(pingIQ(occ("locked", "Alice"))); r.Type() != "result" {
		t.Fatalf("the creator's self-ping in its locked room: %s", r)
	}
	// Other requests to rooms that do not exist keep item-not-found.
	if r := bob.IQ(discoIQ(occ("nowhere", "Bob"), muc.NSDiscoInfo)); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("disco to a room that does not exist: %s", r)
	}
}

// TestSelfPingAdvertised checks that the service and its rooms advertise
// the self-ping optimization and occupant IDs in service discovery.
func TestSelfPingAdvertised(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	create(t, alice, "adv", "Alice")
	svc := features(alice.IQ(discoIQ(service, muc.NSDiscoInfo)))
	if !svc[muc.NSSelfPing] {
		t.Errorf("the service does not advertise %s: %v", muc.NSSelfPing, svc)
	}
	room := features(alice.IQ(discoIQ(roomJID("adv"), muc.NSDiscoInfo)))
	for _, f := range []string{muc.NSSelfPing, muc.NSOccupantID} {
		if !room[f] {
			t.Errorf("the room does not advertise %s: %v", f, room)
		}
	}
}
