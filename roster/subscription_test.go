package roster_test

import (
	"strings"
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// TestSubscriptionApproval runs RFC 6121 §3.1 both ways between two local
// users: request, approval, roster pushes on both sides and the
// approver's presence delivered to the new subscriber.
func TestSubscriptionApproval(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")

	a.Send("<presence to='" + bob + "/r' type='subscribe'><status>it is alice</status></presence>")
	if it := pushItem(a.Expect(isPush(bob, "none"))); it.Attr("ask") != "subscribe" {
		t.Fatalf("pending out item: %s", it)
	}
	req := b.Expect(isPresence(alice, "subscribe"))
	if req.To() != bob || req.ChildText("", "status") != "it is alice" {
		t.Fatalf("request as delivered: %s", req)
	}
	b.ExpectNone(func(el *stanza.Element) bool { return pushItem(el) != nil }, quiet) // a request alone adds no item

	b.Send("<presence to='" + alice + "' type='subscribed'/>")
	if it := pushItem(b.Expect(isPush(alice, "from"))); it.HasAttr("ask") {
		t.Fatalf("approver's item: %s", it)
	}
	a.Expect(isPresence(bob, "subscribed"))
	if it := pushItem(a.Expect(isPush(bob, "to"))); it.HasAttr("ask") {
		t.Fatalf("subscriber's item: %s", it)
	}
	if p := a.Expect(isPresence(b.JID, "")); p.To() != alice {
		t.Fatalf("approver's presence: %s", p)
	}

	b.Send("<presence to='" + alice + "' type='subscribe'/>")
	if it := pushItem(b.Expect(isPush(alice, "from"))); it.Attr("ask") != "subscribe" {
		t.Fatalf("From + Pending Out item: %s", it)
	}
	a.Expect(isPresence(bob, "subscribe"))
	a.Send("<presence to='" + bob + "' type='subscribed'/>")
	a.Expect(isPush(bob, "both"))
	b.Expect(isPresence(alice, "subscribed"))
	b.Expect(isPush(alice, "both"))
	b.Expect(isPresence(a.JID, ""))

	for _, c := range []struct {
		client  *testutil.Client
		contact string
	}{{a, bob}, {b, alice}} {
		it := rosterItems(t, getRoster(t, c.client))[c.contact]
		if it == nil || it.Attr("subscription") != "both" || it.HasAttr("ask") {
			t.Errorf("%s: roster item %v", c.client.JID, it)
		}
	}

	// Both now see each other's presence changes.
	sendPresence(b, "<presence><show>away</show></presence>")
	if p := a.Expect(isPresence(b.JID, "")); p.ChildText("", "show") != "away" {
		t.Fatalf("subsequent presence: %s", p)
	}
}

// TestSubscriptionDenied checks that unsubscribed answering a request
// ends it on both sides (RFC 6121 §3.1.4) and is not re-delivered.
func TestSubscriptionDenied(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")

	a.Send("<presence to='" + bob + "' type='subscribe'/>")
	a.Expect(isPush(bob, "none"))
	b.Expect(isPresence(alice, "subscribe"))
	b.Send("<presence to='" + alice + "' type='unsubscribed'/>")
	a.Expect(isPresence(bob, "unsubscribed"))
	if it := pushItem(a.Expect(isPush(bob, "none"))); it.HasAttr("ask") {
		t.Fatalf("denied item still pending: %s", it)
	}
	if items := rosterItems(t, getRoster(t, b)); len(items) != 0 {
		t.Fatalf("denial added an item: %v", items)
	}
	b2 := login(t, srv, "bob", "r2")
	sendPresence(b2, "<presence/>")
	b2.ExpectNone(isPresence(alice, "subscribe"), quiet)
}

// TestPreApproval checks RFC 6121 §3.4: subscribed without a request
// pre-approves, a later request is approved by the server, and
// unsubscribed cancels a pre-approval.
func TestPreApproval(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	c := online(t, srv, "carol", "r")
	alice, bob, carol := bareOf("alice"), bareOf("bob"), bareOf("carol")

	b.Send("<presence to='" + alice + "' type='subscribed'/>")
	if it := pushItem(b.Expect(isPush(alice, "none"))); it.Attr("approved") != "true" {
		t.Fatalf("pre-approved item: %s", it)
	}
	a.ExpectNone(isPresence(bob, "subscribed"), quiet) // pre-approval is not routed

	a.Send("<presence to='" + bob + "' type='subscribe'/>")
	a.Expect(isPush(bob, "none"))
	a.Expect(isPresence(bob, "subscribed"))
	a.Expect(isPush(bob, "to"))
	a.Expect(isPresence(b.JID, ""))
	if it := pushItem(b.Expect(isPush(alice, "from"))); it.HasAttr("approved") {
		t.Fatalf("pre-approval not consumed: %s", it)
	}
	b.ExpectNone(isPresence(alice, "subscribe"), quiet)

	// Cancelled pre-approval: carol's request reaches bob.
	b.Send("<presence to='" + carol + "' type='subscribed'/>")
	b.Expect(isPush(carol, "none"))
	b.Send("<presence to='" + carol + "' type='unsubscribed'/>")
	if it := pushItem(b.Expect(isPush(carol, "none"))); it.HasAttr("approved") {
		t.Fatalf("pre-approval not cancelled: %s", it)
	}
	c.ExpectNone(isPresence(bob, "unsubscribed"), quiet)
	c.Send("<presence to='" + bob + "' type='subscribe'/>")
	b.Expect(isPresence(carol, "subscribe"))
	c.ExpectNone(isPresence(bob, "subscribed"), quiet)
}

// TestUnsubscribe checks RFC 6121 §3.3: the subscriber unsubscribes, both
// rosters change, and the contact's server tells the subscriber the
// contact is now unavailable and stops sending its presence.
func TestUnsubscribe(t *testing.T) {
	srv := testutil.StartServer(t, "")
	mutual(t, srv, "alice", "bob")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")
	a.Expect(isPresence(b.JID, ""))

	a.Send("<presence to='" + bob + "' type='unsubscribe'/>")
	a.Expect(isPush(bob, "from"))
	b.Expect(isPresence(alice, "unsubscribe"))
	b.Expect(isPush(alice, "to"))
	a.Expect(isPresence(b.JID, "unavailable"))

	sendPresence(b, "<presence><show>dnd</show></presence>")
	a.ExpectNone(isPresence(b.JID, ""), quiet)
	sendPresence(a, "<presence><show>chat</show></presence>")
	b.Expect(isPresence(a.JID, "")) // bob is still subscribed to alice
}

// TestCancelSubscription checks RFC 6121 §3.2: the contact revokes the
// subscriber's subscription with unsubscribed.
func TestCancelSubscription(t *testing.T) {
	srv := testutil.StartServer(t, "")
	mutual(t, srv, "alice", "bob")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")
	a.Expect(isPresence(b.JID, ""))

	b.Send("<presence to='" + alice + "' type='unsubscribed'/>")
	b.Expect(isPush(alice, "to"))
	a.Expect(isPresence(bob, "unsubscribed"))
	a.Expect(isPush(bob, "from"))
	a.Expect(isPresence(b.JID, "unavailable"))

	sendPresence(b, "<presence><show>dnd</show></presence>")
	a.ExpectNone(isPresence(b.JID, ""), quiet)
}

// TestSubscribeWhenSubscribed checks that a request from a contact that
// is already subscribed is answered by the server, not passed to the user
// (RFC 6121 §3.1.3).
func TestSubscribeWhenSubscribed(t *testing.T) {
	srv := testutil.StartServer(t, "")
	mutual(t, srv, "alice", "bob")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")
	a.Expect(isPresence(b.JID, ""))

	a.Send("<presence to='" + bob + "' type='subscribe'/>")
	// Bob's server answers with subscribed and his presence; alice's
	// server, already at To, does not deliver the redundant subscribed
	// (Appendix A.3.3).
	a.Expect(isPresence(b.JID, ""))
	b.ExpectNone(isPresence(alice, "subscribe"), quiet)
	a.ExpectNone(isPresence(bob, "subscribed"), quiet)
	a.ExpectNone(func(el *stanza.Element) bool { return pushItem(el) != nil }, quiet)
}

// TestPendingRequestRedelivered checks that a request to an offline
// contact is kept, delivered at each initial presence until answered,
// and survives a server restart (RFC 6121 §3.1.3).
func TestPendingRequestRedelivered(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.StartServerIn(t, dir, "")
	srv.AddUser("bob", "pw")
	a := online(t, srv, "alice", "r")
	alice, bob := bareOf("alice"), bareOf("bob")

	a.Send("<presence to='" + bob + "' type='subscribe'><status>remember me</status></presence>")
	a.Expect(isPush(bob, "none"))

	b := login(t, srv, "bob", "one")
	b.ExpectNone(isPresence(alice, "subscribe"), quiet) // not before initial presence
	sendPresence(b, "<presence/>")
	if req := b.Expect(isPresence(alice, "subscribe")); req.ChildText("", "status") != "remember me" {
		t.Fatalf("re-delivered request: %s", req)
	}
	a.Close()
	b.Close()
	srv.Stop()

	srv = testutil.StartServerIn(t, dir, "")
	b = login(t, srv, "bob", "two")
	sendPresence(b, "<presence/>")
	b.Expect(isPresence(alice, "subscribe"))
	getRoster(t, b)
	b.Send("<presence to='" + alice + "' type='subscribed'/>")
	b.Expect(isPush(alice, "from"))

	b3 := login(t, srv, "bob", "three")
	sendPresence(b3, "<presence/>")
	b3.ExpectNone(isPresence(alice, "subscribe"), quiet)

	a = login(t, srv, "alice", "r")
	it := rosterItems(t, getRoster(t, a))[bob]
	if it == nil || it.Attr("subscription") != "to" || it.HasAttr("ask") {
		t.Fatalf("alice's item after offline approval: %v", it)
	}
}

// TestRosterRemoveSideEffects checks RFC 6121 §2.5.2: removing an item
// cancels the subscriptions and requests in both directions.
func TestRosterRemoveSideEffects(t *testing.T) {
	tests := []struct {
		name string
		// setup establishes the state between alice and bob, both online.
		setup func(t *testing.T, a, b *testutil.Client)
		// bobGets are the presence types bob receives from alice's bare JID.
		bobGets []string
		// bobItem is bob's subscription to alice afterwards ("" for no item).
		bobItem string
		// unavailable: each learns the other's resource is unavailable.
		unavailable bool
	}{
		{
			name: "both",
			setup: func(t *testing.T, a, b *testutil.Client) {
				subscribe(t, a, b)
				subscribe(t, b, a)
			},
			bobGets:     []string{"unsubscribe", "unsubscribed"},
			bobItem:     "none",
			unavailable: true,
		},
		{
			name: "pending out",
			setup: func(t *testing.T, a, b *testutil.Client) {
				a.Send("<presence to='" + bareOf("bob") + "' type='subscribe'/>")
				b.Expect(isPresence(bareOf("alice"), "subscribe"))
			},
			bobGets: []string{"unsubscribe"},
		},
		{
			name: "pending in",
			setup: func(t *testing.T, a, b *testutil.Client) {
				b.Send("<presence to='" + bareOf("alice") + "' type='subscribe'/>")
				a.Expect(isPresence(bareOf("bob"), "subscribe"))
				a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bareOf("bob") + "'/></query></iq>")
			},
			bobGets: []string{"unsubscribed"},
			bobItem: "none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testutil.StartServer(t, "")
			a := online(t, srv, "alice", "r")
			b := online(t, srv, "bob", "r")
			alice, bob := bareOf("alice"), bareOf("bob")
			tt.setup(t, a, b)

			res := a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' subscription='remove'/></query></iq>")
			if res.Type() != "result" {
				t.Fatalf("remove: %s", res)
			}
			a.Expect(isPush(bob, "remove"))
			for _, typ := range tt.bobGets {
				b.Expect(isPresence(alice, typ))
			}
			if tt.unavailable {
				b.Expect(isPresence(a.JID, "unavailable"))
				a.Expect(isPresence(b.JID, "unavailable"))
			}
			it := rosterItems(t, getRoster(t, b))[alice]
			switch {
			case tt.bobItem == "" && it != nil:
				t.Fatalf("bob's item: %s, want none", it)
			case tt.bobItem != "" && (it == nil || it.Attr("subscription") != tt.bobItem || it.HasAttr("ask")):
				t.Fatalf("bob's item: %v, want subscription %s", it, tt.bobItem)
			}
			if items := rosterItems(t, getRoster(t, a)); len(items) != 0 {
				t.Fatalf("alice's roster: %v", items)
			}
			// Nothing is left pending for either side.
			a2 := login(t, srv, "alice", "r2")
			sendPresence(a2, "<presence/>")
			a2.ExpectNone(isPresence(bob, "subscribe"), quiet)
			b2 := login(t, srv, "bob", "r2")
			sendPresence(b2, "<presence/>")
			b2.ExpectNone(isPresence(alice, "subscribe"), quiet)
		})
	}
}

// subscribe makes from subscribed to to's presence through the protocol.
func subscribe(t *testing.T, from, to *testutil.Client) {
	t.Helper()
	fromBare, toBare := bare(from), bare(to)
	from.Send("<presence to='" + toBare + "' type='subscribe'/>")
	to.Expect(isPresence(fromBare, "subscribe"))
	to.Send("<presence to='" + fromBare + "' type='subscribed'/>")
	from.Expect(isPresence(toBare, "subscribed"))
	from.Expect(isPresence(to.JID, ""))
}

func bare(c *testutil.Client) string {
	b, _, _ := strings.Cut(c.JID, "/")
	return b
}

// TestRequestFromContactIsNotPushed: a subscription request from a
// contact already in the roster leaves the item as the client sees it
// unchanged (a pending inbound request is not an item attribute), so it
// is delivered without a roster push (RFC 6121 §3.1.3); the approval is
// pushed.
func TestRequestFromContactIsNotPushed(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	putItem(t, srv, "alice", "bob", "to")
	putItem(t, srv, "bob", "alice", "from")
	a := online(t, srv, "alice", "r")
	b := online(t, srv, "bob", "r")
	alice, bob := bareOf("alice"), bareOf("bob")

	b.Send("<presence to='" + alice + "' type='subscribe'/>")
	if it := pushItem(b.Expect(isPush(alice, "from"))); it.Attr("ask") != "subscribe" {
		t.Fatalf("requester's item: %s", it)
	}
	a.Expect(isPresence(bob, "subscribe"))
	a.ExpectNone(func(el *stanza.Element) bool { return pushItem(el) != nil }, quiet)

	a.Send("<presence to='" + bob + "' type='subscribed'/>")
	a.Expect(isPush(bob, "both"))
	b.Expect(isPush(alice, "both"))
}
