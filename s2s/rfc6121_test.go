package s2s_test

// End-to-end tests of RFC 6121 (rosters, subscriptions, presence and
// message delivery) between two federated parley servers: alice@a.test
// and bob@b.test, each on her own server, linked over real s2s streams.

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/storage"
)

// Namespaces the tests speak.
const (
	rosterNS    = "jabber:iq:roster"
	pingNS      = "urn:xmpp:ping"
	discoInfoNS = "http://jabber.org/protocol/disco#info"
	versionNS   = "jabber:iq:version"
	vcardNS     = "vcard-temp"
)

// quietPeriod is how long negative checks wait for a stanza that must
// not come.
const quietPeriod = 300 * time.Millisecond

// imPair starts a.test and b.test, federated.
func imPair(t *testing.T) (a, b *testutil.Server) {
	t.Helper()
	s := federate(t, peer{domain: "a.test"}, peer{domain: "b.test"})
	return s[0], s[1]
}

// imLogin logs user (alice or bob) in to srv with resource pc.
func imLogin(t *testing.T, srv *testutil.Server, user string) *testutil.Client {
	t.Helper()
	return imLoginAs(t, srv, user, "pc")
}

// imLoginAs logs user in to srv with a resource; the password is the
// user's name followed by -pw.
func imLoginAs(t *testing.T, srv *testutil.Server, user, resource string) *testutil.Client {
	t.Helper()
	return testutil.Login(t, srv.Addr, user+"@"+srv.Domain, user+"-pw", resource)
}

// imOnline logs user in with resource pc, requests the roster (so roster
// pushes arrive) and sends initial presence with status (none if empty).
func imOnline(t *testing.T, srv *testutil.Server, user, status string) *testutil.Client {
	t.Helper()
	return imOnlineAs(t, srv, user, "pc", status)
}

// imOnlineAs is imOnline with a resource.
func imOnlineAs(t *testing.T, srv *testutil.Server, user, resource, status string) *testutil.Client {
	t.Helper()
	c := imLoginAs(t, srv, user, resource)
	imRoster(c)
	if status == "" {
		c.Send("<presence/>")
	} else {
		c.Sendf("<presence><status>%s</status></presence>", status)
	}
	// The server reflects initial presence to the resource itself.
	c.Expect(presenceFrom(c.JID, ""))
	return c
}

// imRoster fetches c's roster and returns its items by JID.
func imRoster(c *testutil.Client) map[string]*stanza.Element {
	c.T.Helper()
	res := c.IQ("<iq type='get'><query xmlns='" + rosterNS + "'/></iq>")
	if res.Type() != "result" {
		c.T.Fatalf("%s: roster get: %s", c.JID, res)
	}
	items := make(map[string]*stanza.Element)
	if q := res.Child(rosterNS, "query"); q != nil {
		for _, it := range q.ChildrenNamed(rosterNS, "item") {
			items[it.Attr("jid")] = it
		}
	}
	return items
}

// presenceFrom matches presence from "from" of type typ ("" for available).
func presenceFrom(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Kind() == "presence" && el.From() == from && el.Type() == typ
	}
}

// presenceWithStatus matches available presence from "from" with a
// status text.
func presenceWithStatus(from, status string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return presenceFrom(from, "")(el) && el.ChildText("", "status") == status
	}
}

// presenceOfType matches presence of type typ from anyone.
func presenceOfType(typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Kind() == "presence" && el.Type() == typ }
}

// rosterPush matches a roster push for contact.
func rosterPush(contact string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Kind() != "iq" || el.Type() != "set" {
			return false
		}
		q := el.Child(rosterNS, "query")
		if q == nil {
			return false
		}
		it := q.Child(rosterNS, "item")
		return it != nil && it.Attr("jid") == contact
	}
}

// expectRosterPush waits for a roster push for contact, checks its
// subscription and ask attributes, and acknowledges it.
func expectRosterPush(c *testutil.Client, contact, subscription, ask string) {
	c.T.Helper()
	push := c.Expect(rosterPush(contact))
	if push.From() != "" && push.From() != bareJID(c.JID) {
		c.T.Errorf("%s: roster push from %q", c.JID, push.From())
	}
	checkRosterItem(c.T, c.JID+" push", push.Child(rosterNS, "query").Child(rosterNS, "item"), subscription, ask)
	c.Sendf("<iq type='result' id='%s'/>", push.ID())
}

// checkRosterItem checks a roster item's subscription and ask attributes.
func checkRosterItem(t testing.TB, what string, it *stanza.Element, subscription, ask string) {
	t.Helper()
	if it == nil {
		t.Errorf("%s: no item, want subscription=%s ask=%q", what, subscription, ask)
		return
	}
	if got := it.Attr("subscription"); got != subscription {
		t.Errorf("%s: subscription=%q, want %q (%s)", what, got, subscription, it)
	}
	if got := it.Attr("ask"); got != ask {
		t.Errorf("%s: ask=%q, want %q (%s)", what, got, ask, it)
	}
}

// storedSubscription returns user's stored subscription to contact
// ("absent" when there is no item).
func storedSubscription(t *testing.T, srv *testutil.Server, user, contact string) string {
	t.Helper()
	it, err := srv.Store().RosterItem(context.Background(), user, contact)
	if errors.Is(err, storage.ErrNotFound) {
		return "absent"
	}
	if err != nil {
		t.Fatalf("roster item %s -> %s: %v", user, contact, err)
	}
	if it.Ask {
		return it.Subscription + "+ask"
	}
	return it.Subscription
}

func bareJID(full string) string {
	if i := strings.IndexByte(full, '/'); i >= 0 {
		return full[:i]
	}
	return full
}

// mutualSubscription gives alice and bob a mutual subscription directly in
// storage (before either logs in).
func mutualSubscription(a, b *testutil.Server) {
	a.SetSubscription("alice@a.test", "bob@b.test", "both")
	b.SetSubscription("bob@b.test", "alice@a.test", "both")
}

// TestSubscriptionBothWays runs the whole subscription handshake across
// the link, first alice to bob and then back (RFC 6121 §3.1).
func TestSubscriptionBothWays(t *testing.T) {
	a, b := imPair(t)
	alice := imOnline(t, a, "alice", "")
	bob := imOnline(t, b, "bob", "reviewing")

	// §3.1.2: alice's server records the pending request and pushes it.
	alice.Send("<presence to='bob@b.test' type='subscribe'/>")
	expectRosterPush(alice, "bob@b.test", "none", "subscribe")
	// §3.1.3: bob receives the request from alice's bare JID.
	req := bob.Expect(presenceFrom("alice@a.test", "subscribe"))
	if req.To() != "bob@b.test" {
		t.Errorf("subscribe to %q, want bob@b.test", req.To())
	}

	// §3.1.5: bob approves; his roster gains alice with subscription from.
	bob.Send("<presence to='alice@a.test' type='subscribed'/>")
	expectRosterPush(bob, "alice@a.test", "from", "")
	// §3.1.6: alice's server pushes "to", delivers the approval, and
	// alice receives bob's current presence.
	expectRosterPush(alice, "bob@b.test", "to", "")
	alice.Expect(presenceFrom("bob@b.test", "subscribed"))
	p := alice.Expect(presenceFrom(bob.JID, ""))
	if got := p.ChildText("", "status"); got != "reviewing" {
		t.Errorf("bob's presence after approval has status %q, want reviewing", got)
	}
	// Alice is not subscribed-from yet: bob does not see her presence.
	bob.ExpectNone(presenceFrom(alice.JID, ""), quietPeriod)

	// And back: bob subscribes to alice.
	bob.Send("<presence to='alice@a.test' type='subscribe'/>")
	expectRosterPush(bob, "alice@a.test", "from", "subscribe")
	alice.Expect(presenceFrom("bob@b.test", "subscribe"))
	alice.Send("<presence to='bob@b.test' type='subscribed'/>")
	expectRosterPush(alice, "bob@b.test", "both", "")
	expectRosterPush(bob, "alice@a.test", "both", "")
	bob.Expect(presenceFrom("alice@a.test", "subscribed"))
	bob.Expect(presenceFrom(alice.JID, ""))

	// The rosters, as the clients and storage see them.
	checkRosterItem(t, "alice's roster", imRoster(alice)["bob@b.test"], "both", "")
	checkRosterItem(t, "bob's roster", imRoster(bob)["alice@a.test"], "both", "")
	if got := storedSubscription(t, a, "alice@a.test", "bob@b.test"); got != "both" {
		t.Errorf("a.test stores alice -> bob as %s, want both", got)
	}
	if got := storedSubscription(t, b, "bob@b.test", "alice@a.test"); got != "both" {
		t.Errorf("b.test stores bob -> alice as %s, want both", got)
	}

	// Presence now flows both ways.
	alice.Send("<presence><status>lunch</status></presence>")
	bob.Expect(presenceWithStatus(alice.JID, "lunch"))
}

// TestSubscriptionRequestWhileOffline checks that a request reaching b.test
// while bob is offline is kept and delivered at his next login (§3.1.3).
func TestSubscriptionRequestWhileOffline(t *testing.T) {
	a, b := imPair(t)
	alice := imOnline(t, a, "alice", "")
	alice.Send("<presence to='bob@b.test' type='subscribe'><status>it's alice from a.test</status></presence>")
	expectRosterPush(alice, "bob@b.test", "none", "subscribe")
	waitUntil(t, "the request to be stored on b.test", func() bool {
		reqs, err := b.Store().PendingSubscriptions(context.Background(), "bob@b.test")
		return err == nil && len(reqs) == 1
	})

	bob := imLogin(t, b, "bob")
	bob.Send("<presence/>")
	req := bob.Expect(presenceFrom("alice@a.test", "subscribe"))
	if got := req.ChildText("", "status"); got != "it's alice from a.test" {
		t.Errorf("stored request has status %q", got)
	}
	bob.Send("<presence to='alice@a.test' type='subscribed'/>")
	alice.Expect(presenceFrom("bob@b.test", "subscribed"))
	expectRosterPush(alice, "bob@b.test", "to", "")
	alice.Expect(presenceFrom(bob.JID, ""))
}

// TestSubscriptionRefused checks that a contact's refusal reaches the user
// and leaves no subscription on either side (§3.1.5, §3.1.6).
func TestSubscriptionRefused(t *testing.T) {
	a, b := imPair(t)
	alice := imOnline(t, a, "alice", "")
	bob := imOnline(t, b, "bob", "")

	alice.Send("<presence to='bob@b.test' type='subscribe'/>")
	expectRosterPush(alice, "bob@b.test", "none", "subscribe")
	bob.Expect(presenceFrom("alice@a.test", "subscribe"))

	bob.Send("<presence to='alice@a.test' type='unsubscribed'/>")
	alice.Expect(presenceFrom("bob@b.test", "unsubscribed"))
	expectRosterPush(alice, "bob@b.test", "none", "")
	alice.ExpectNone(presenceFrom(bob.JID, ""), quietPeriod)

	if got := storedSubscription(t, a, "alice@a.test", "bob@b.test"); got != "none" {
		t.Errorf("a.test stores alice -> bob as %s, want none", got)
	}
	if got := storedSubscription(t, b, "bob@b.test", "alice@a.test"); got != "absent" {
		t.Errorf("b.test stores bob -> alice as %s, want no item", got)
	}
	reqs, err := b.Store().PendingSubscriptions(context.Background(), "bob@b.test")
	if err != nil || len(reqs) != 0 {
		t.Errorf("b.test still holds requests for bob: %v %v", reqs, err)
	}
}

// TestSubscriptionCancelled cancels one half of a mutual subscription, in
// each direction and by each party (RFC 6121 §3.2, §3.3, §2.5.2).
func TestSubscriptionCancelled(t *testing.T) {
	cases := []struct {
		name string
		// actor sends the stanza to the other party (alice or bob).
		actor string
		send  string // presence type, or "remove" for a roster remove
		// After it, the subscription each keeps to the other.
		actorSub, otherSub string
		// otherGets are the presence types the other party receives from
		// the actor's bare JID, and otherPushes the subscriptions of the
		// roster pushes that follow on his side, in order.
		otherGets, otherPushes []string
		// Whose presence stops: the party that receives unavailable from
		// the other's resource.
		unavailableTo string
	}{
		{name: "bob cancels alice's subscription", actor: "bob", send: "unsubscribed",
			actorSub: "to", otherSub: "from", otherGets: []string{"unsubscribed"}, otherPushes: []string{"from"}, unavailableTo: "alice"},
		{name: "alice unsubscribes from bob", actor: "alice", send: "unsubscribe",
			actorSub: "from", otherSub: "to", otherGets: []string{"unsubscribe"}, otherPushes: []string{"to"}, unavailableTo: "alice"},
		{name: "alice cancels bob's subscription", actor: "alice", send: "unsubscribed",
			actorSub: "to", otherSub: "from", otherGets: []string{"unsubscribed"}, otherPushes: []string{"from"}, unavailableTo: "bob"},
		{name: "bob unsubscribes from alice", actor: "bob", send: "unsubscribe",
			actorSub: "from", otherSub: "to", otherGets: []string{"unsubscribe"}, otherPushes: []string{"to"}, unavailableTo: "bob"},
		{name: "alice removes bob from her roster", actor: "alice", send: "remove",
			actorSub: "remove", otherSub: "none", otherGets: []string{"unsubscribe", "unsubscribed"}, otherPushes: []string{"to", "none"}, unavailableTo: "both"},
	}
	// The cases share two servers; each has its own pair of users.
	a, b := imPair(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			names := map[string]string{"alice": "alice" + strconv.Itoa(i), "bob": "bob" + strconv.Itoa(i)}
			bares := map[string]string{"alice": a.AddUser(names["alice"], names["alice"]+"-pw"), "bob": b.AddUser(names["bob"], names["bob"]+"-pw")}
			a.SetSubscription(bares["alice"], bares["bob"], "both")
			b.SetSubscription(bares["bob"], bares["alice"], "both")
			alice := imOnline(t, a, names["alice"], "")
			bob := imOnline(t, b, names["bob"], "")
			// Each sees the other once both are online.
			alice.Expect(presenceFrom(bob.JID, ""))
			bob.Expect(presenceFrom(alice.JID, ""))

			clients := map[string]*testutil.Client{"alice": alice, "bob": bob}
			other := "bob"
			if tc.actor == "bob" {
				other = "alice"
			}
			actor, peerC := clients[tc.actor], clients[other]
			if tc.send == "remove" {
				res := actor.IQ("<iq type='set'><query xmlns='" + rosterNS + "'><item jid='" + bares[other] + "' subscription='remove'/></query></iq>")
				if res.Type() != "result" {
					t.Fatalf("roster remove: %s", res)
				}
			} else {
				actor.Sendf("<presence to='%s' type='%s'/>", bares[other], tc.send)
			}
			expectRosterPush(actor, bares[other], tc.actorSub, "")
			for _, typ := range tc.otherGets {
				p := peerC.Expect(presenceFrom(bares[tc.actor], typ))
				if p.To() != bares[other] {
					t.Errorf("%s addressed to %q, want %s", typ, p.To(), bares[other])
				}
			}
			for _, sub := range tc.otherPushes {
				expectRosterPush(peerC, bares[tc.actor], sub, "")
			}
			for name, c := range clients {
				if tc.unavailableTo == name || tc.unavailableTo == "both" {
					o := "bob"
					if name == "bob" {
						o = "alice"
					}
					c.Expect(presenceFrom(clients[o].JID, "unavailable"))
				}
			}

			// Presence that is no longer subscribed to stops flowing.
			alice.Send("<presence><status>still here</status></presence>")
			bob.Send("<presence><status>me too</status></presence>")
			if tc.unavailableTo == "bob" || tc.unavailableTo == "both" {
				bob.ExpectNone(presenceWithStatus(alice.JID, "still here"), quietPeriod)
			} else {
				bob.Expect(presenceWithStatus(alice.JID, "still here"))
			}
			if tc.unavailableTo == "alice" || tc.unavailableTo == "both" {
				alice.ExpectNone(presenceWithStatus(bob.JID, "me too"), quietPeriod)
			} else {
				alice.Expect(presenceWithStatus(bob.JID, "me too"))
			}

			want := map[string]string{tc.actor: tc.actorSub, other: tc.otherSub}
			if want[tc.actor] == "remove" {
				want[tc.actor] = "absent"
			}
			if got := storedSubscription(t, a, bares["alice"], bares["bob"]); got != want["alice"] {
				t.Errorf("a.test stores alice -> bob as %s, want %s", got, want["alice"])
			}
			if got := storedSubscription(t, b, bares["bob"], bares["alice"]); got != want["bob"] {
				t.Errorf("b.test stores bob -> alice as %s, want %s", got, want["bob"])
			}
		})
	}
}

// TestSubscriptionPreApproved checks pre-approval (RFC 6121 §3.4): bob
// approves alice before she asks, so her later request is answered by
// b.test without reaching bob.
func TestSubscriptionPreApproved(t *testing.T) {
	a, b := imPair(t)
	alice := imOnline(t, a, "alice", "")
	bob := imOnline(t, b, "bob", "around")

	bob.Send("<presence to='alice@a.test' type='subscribed'/>")
	push := bob.Expect(rosterPush("alice@a.test"))
	it := push.Child(rosterNS, "query").Child(rosterNS, "item")
	if it.Attr("subscription") != "none" || it.Attr("approved") != "true" {
		t.Errorf("pre-approval push: %s", it)
	}
	// A pre-approval is not routed.
	alice.ExpectNone(presenceFrom("bob@b.test", "subscribed"), quietPeriod)

	alice.Send("<presence to='bob@b.test' type='subscribe'/>")
	expectRosterPush(alice, "bob@b.test", "none", "subscribe")
	alice.Expect(presenceFrom("bob@b.test", "subscribed"))
	expectRosterPush(alice, "bob@b.test", "to", "")
	if got := alice.Expect(presenceFrom(bob.JID, "")).ChildText("", "status"); got != "around" {
		t.Errorf("bob's presence has status %q, want around", got)
	}
	expectRosterPush(bob, "alice@a.test", "from", "")
	bob.ExpectNone(presenceFrom("alice@a.test", "subscribe"), quietPeriod)
	if got := storedSubscription(t, b, "bob@b.test", "alice@a.test"); got != "from" {
		t.Errorf("b.test stores bob -> alice as %s, want from", got)
	}
}

// TestPresenceBroadcast checks that a subscribed contact on the other
// server sees presence changes (RFC 6121 §4.4).
func TestPresenceBroadcast(t *testing.T) {
	a, b := imPair(t)
	mutualSubscription(a, b)
	bob := imOnline(t, b, "bob", "")
	alice := imOnline(t, a, "alice", "")
	bob.Expect(presenceFrom(alice.JID, ""))
	alice.Expect(presenceFrom(bob.JID, ""))

	alice.Send("<presence><show>away</show><status>in a meeting</status><priority>5</priority></presence>")
	p := bob.Expect(presenceWithStatus(alice.JID, "in a meeting"))
	if p.ChildText("", "show") != "away" || p.ChildText("", "priority") != "5" {
		t.Errorf("bob sees %s", p)
	}
	if p.To() != "bob@b.test" {
		t.Errorf("broadcast addressed to %q, want bob@b.test", p.To())
	}
}

// TestPresenceProbeAtLogin checks that a user logging in learns the
// current presence of a contact on the other server through a probe
// (RFC 6121 §4.3), in both directions, and that an offline contact is
// reported unavailable.
func TestPresenceProbeAtLogin(t *testing.T) {
	a, b := imPair(t)
	mutualSubscription(a, b)

	// alice probes bob, who is offline: b.test answers for him with
	// unavailable presence from his bare JID (§4.3.2).
	alice := imOnline(t, a, "alice", "alice is in")
	alice.Expect(presenceFrom("bob@b.test", "unavailable"))

	// bob probes alice, who is available: a.test answers with her
	// presence, and his own initial presence reaches her.
	bob := imOnline(t, b, "bob", "bob is in")
	bob.Expect(presenceWithStatus(alice.JID, "alice is in"))
	alice.Expect(presenceWithStatus(bob.JID, "bob is in"))
	bob.ExpectNone(presenceFrom("alice@a.test", "unavailable"), quietPeriod)

	// alice probes bob, who is available: a second resource of hers
	// logging in receives his presence.
	phone := imOnlineAs(t, a, "alice", "phone", "")
	phone.Expect(presenceWithStatus(bob.JID, "bob is in"))

	// bob probes alice, who is offline again.
	alice.Close()
	phone.Close()
	bob.Expect(presenceFrom(alice.JID, "unavailable"))
	bob.Expect(presenceFrom(phone.JID, "unavailable"))
	bob.Close()
	laptop := imOnlineAs(t, b, "bob", "laptop", "")
	laptop.Expect(presenceFrom("alice@a.test", "unavailable"))
	laptop.ExpectNone(presenceOfType(""), quietPeriod)
}

// TestProbeRepairsRoster checks that a probe the contact's server cannot
// honour, because the contact never approved the user or does not exist,
// is answered with unsubscribed, which cancels the stale subscription in
// the user's roster (RFC 6121 §4.3.2, §3.2).
func TestProbeRepairsRoster(t *testing.T) {
	a, _ := imPair(t)
	contacts := []string{"bob@b.test", "ghost@b.test"}
	for _, c := range contacts {
		a.SetSubscription("alice@a.test", c, "to")
	}
	alice := imOnline(t, a, "alice", "")
	for _, c := range contacts {
		alice.Expect(presenceFrom(c, "unsubscribed"))
		expectRosterPush(alice, c, "none", "")
		if got := storedSubscription(t, a, "alice@a.test", c); got != "none" {
			t.Errorf("a.test stores alice -> %s as %s, want none", c, got)
		}
	}
}

// TestPresenceUnavailableOnLogoff checks that contacts on the other server
// learn that a user went offline, whether she said so, her client closed
// the stream or the TCP connection just dropped (RFC 6121 §4.5).
func TestPresenceUnavailableOnLogoff(t *testing.T) {
	cases := []struct {
		name   string
		logoff func(*testutil.Client)
		status string // status of the unavailable presence bob sees
	}{
		{name: "explicit unavailable", status: "gone home", logoff: func(c *testutil.Client) {
			c.Send("<presence type='unavailable'><status>gone home</status></presence>")
		}},
		{name: "stream close", logoff: func(c *testutil.Client) { c.Close() }},
		{name: "TCP close", logoff: func(c *testutil.Client) { c.Conn.Close() }},
	}
	a, b := imPair(t)
	mutualSubscription(a, b)
	bob := imOnline(t, b, "bob", "")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alice := imOnlineAs(t, a, "alice", "r"+strconv.Itoa(i), "")
			bob.Expect(presenceFrom(alice.JID, ""))

			tc.logoff(alice)
			p := bob.Expect(presenceFrom(alice.JID, "unavailable"))
			if got := p.ChildText("", "status"); got != tc.status {
				t.Errorf("unavailable status %q, want %q", got, tc.status)
			}
			if p.To() != "bob@b.test" {
				t.Errorf("unavailable addressed to %q, want bob@b.test", p.To())
			}
		})
	}
	// Each logoff was reported once.
	bob.ExpectNone(func(el *stanza.Element) bool {
		return presenceOfType("unavailable")(el) && strings.HasPrefix(el.From(), "alice@a.test/")
	}, quietPeriod)
}

// TestDirectedPresence checks directed presence to a full JID on the other
// server without any subscription, and the unavailable presence that
// follows when the sender goes offline unless she already sent directed
// unavailable presence (RFC 6121 §4.6).
func TestDirectedPresence(t *testing.T) {
	cases := []struct {
		name    string
		revoked bool // directed unavailable presence before logoff
		logoff  func(*testutil.Client)
	}{
		{name: "stream close", logoff: func(c *testutil.Client) { c.Close() }},
		{name: "TCP close", logoff: func(c *testutil.Client) { c.Conn.Close() }},
		{name: "broadcast unavailable", logoff: func(c *testutil.Client) { c.Send("<presence type='unavailable'/>") }},
		{name: "revoked before logoff", revoked: true, logoff: func(c *testutil.Client) { c.Close() }},
	}
	a, b := imPair(t)
	bob := imOnline(t, b, "bob", "")
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alice := imOnlineAs(t, a, "alice", "r"+strconv.Itoa(i), "")
			alice.Send("<presence to='bob@b.test/pc'><status>ping me</status></presence>")
			p := bob.Expect(presenceFrom(alice.JID, ""))
			if p.To() != bob.JID || p.ChildText("", "status") != "ping me" {
				t.Errorf("bob got %s", p)
			}
			if tc.revoked {
				alice.Send("<presence to='bob@b.test/pc' type='unavailable'/>")
				bob.Expect(presenceFrom(alice.JID, "unavailable"))
				tc.logoff(alice)
				bob.ExpectNone(presenceFrom(alice.JID, "unavailable"), quietPeriod)
				return
			}
			tc.logoff(alice)
			u := bob.Expect(presenceFrom(alice.JID, "unavailable"))
			if u.To() != bob.JID {
				t.Errorf("unavailable addressed to %q, want %s", u.To(), bob.JID)
			}
		})
	}
}

// TestMessageDelivery checks chat to a full and a bare JID on the other
// server (RFC 6121 §8.5.2, §8.5.3), and to the full JID of a resource
// that is not connected, which §8.5.3.2.1 lets the server treat as the
// bare JID.
func TestMessageDelivery(t *testing.T) {
	a, b := imPair(t)
	alice := imLogin(t, a, "alice")
	bob := imOnline(t, b, "bob", "")

	alice.Send("<message to='bob@b.test/pc' type='chat' id='full1'><body>to your desk</body><thread>t1</thread></message>")
	m := bob.Expect(isMessageFrom(alice.JID, "to your desk"))
	if m.To() != bob.JID || m.ID() != "full1" || m.Type() != "chat" || m.ChildText("", "thread") != "t1" {
		t.Errorf("full JID message arrived as %s", m)
	}
	alice.Send("<message to='bob@b.test' type='chat' id='bare1'><body>to you anywhere</body></message>")
	m = bob.Expect(isMessageFrom(alice.JID, "to you anywhere"))
	if m.To() != "bob@b.test" || m.ID() != "bare1" {
		t.Errorf("bare JID message arrived as %s", m)
	}
	// A normal message (no type) to the bare JID as well.
	alice.Send("<message to='bob@b.test'><subject>hi</subject><body>plain</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "plain"))
	alice.Send("<message to='bob@b.test/phone' type='chat'><body>which device?</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "which device?"))
	alice.ExpectNone(testutil.IsKind("message"), quietPeriod)
}

// TestOfflineMessageFromRemote checks that a message for an offline user
// arriving from the other server is stored and delivered at login with a
// XEP-0203 delay stamped by the receiving server (RFC 6121 §8.5.2.1.1,
// XEP-0160).
func TestOfflineMessageFromRemote(t *testing.T) {
	a, b := imPair(t)
	alice := imLogin(t, a, "alice")
	before := time.Now().UTC().Add(-time.Second)
	alice.Send("<message to='bob@b.test' type='chat' id='off1'><body>read this when you are back</body></message>")
	waitUntil(t, "the message to be stored on b.test", func() bool {
		n, err := b.Store().CountOffline(context.Background(), "bob@b.test")
		return err == nil && n == 1
	})
	alice.ExpectNone(testutil.IsKind("message"), quietPeriod)

	bob := imLogin(t, b, "bob")
	bob.Send("<presence/>")
	m := bob.Expect(isMessageFrom(alice.JID, "read this when you are back"))
	d := m.Child(stanza.NSDelay, "delay")
	if d == nil {
		t.Fatalf("offline message without delay: %s", m)
	}
	if d.Attr("from") != "b.test" {
		t.Errorf("delay from %q, want b.test", d.Attr("from"))
	}
	stamp, err := time.Parse(time.RFC3339, d.Attr("stamp"))
	if err != nil || stamp.Before(before) || stamp.After(time.Now().Add(time.Second)) {
		t.Errorf("delay stamp %q (%v)", d.Attr("stamp"), err)
	}
	if m.ID() != "off1" || m.Type() != "chat" {
		t.Errorf("offline message %s", m)
	}
	waitUntil(t, "the delivered message to be deleted", func() bool {
		n, err := b.Store().CountOffline(context.Background(), "bob@b.test")
		return err == nil && n == 0
	})
}

// TestMessageToNoSuchUser checks that messages to an account that does not
// exist get the same answer from the other server as from the sender's
// own (RFC 6121 §8.5.1, §8.5.2.2.1), with from and to swapped.
func TestMessageToNoSuchUser(t *testing.T) {
	cases := []struct {
		typ  string
		cond string // expected error condition; "" for none
	}{
		{typ: "chat", cond: "service-unavailable"},
		{typ: "normal", cond: "service-unavailable"},
		{typ: "groupchat", cond: "service-unavailable"},
		{typ: "headline"},
	}
	a, _ := imPair(t)
	alice := imLogin(t, a, "alice")
	for _, tc := range cases {
		for _, to := range []string{"nobody@a.test", "nobody@b.test", "nobody@b.test/pc"} {
			t.Run(tc.typ+" to "+to, func(t *testing.T) {
				id := alice.NewID()
				alice.Sendf("<message to='%s' type='%s' id='%s'><body>anyone?</body></message>", to, tc.typ, id)
				isReply := func(el *stanza.Element) bool { return el.Kind() == "message" && el.ID() == id }
				if tc.cond == "" {
					alice.ExpectNone(isReply, quietPeriod)
					return
				}
				e := alice.Expect(isReply)
				if got := testutil.ErrorCondition(e); got != tc.cond {
					t.Errorf("error %q, want %q: %s", got, tc.cond, e)
				}
				if e.From() != to || e.To() != alice.JID {
					t.Errorf("error from %q to %q, want from %s to %s", e.From(), e.To(), to, alice.JID)
				}
				if e.ChildText("", "body") != "anyone?" {
					t.Errorf("error does not carry the original message: %s", e)
				}
			})
		}
	}
	// One error each: nothing else is left or arrives.
	alice.ExpectNone(testutil.IsKind("message"), quietPeriod)
}

// TestErrorMessagesNotBounced checks that message errors cross the link
// and are never answered with another error (RFC 6120 §8.3.1), so two
// servers cannot bounce one back and forth.
func TestErrorMessagesNotBounced(t *testing.T) {
	a, b := imPair(t)
	alice := imLogin(t, a, "alice")
	bob := imLogin(t, b, "bob")

	// An error reply crosses the link to its addressee.
	bob.Sendf("<message to='%s' type='error' id='e1'><body>x</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", alice.JID)
	e := alice.Expect(func(el *stanza.Element) bool { return el.Kind() == "message" && el.ID() == "e1" })
	if e.From() != bob.JID || testutil.ErrorCondition(e) != "item-not-found" {
		t.Errorf("error message arrived as %s", e)
	}

	// Errors to addresses that cannot take them are dropped, not bounced:
	// b.test routes each once and sends nothing back.
	targets := []string{"nobody@b.test", "nobody@b.test/pc", "bob@b.test/gone", "b.test"}
	for _, to := range targets {
		startA, startB := a.Router().Routed(), b.Router().Routed()
		alice.Sendf("<message to='%s' type='error' id='loop'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", to)
		// The link keeps order: once this marker arrives, b.test has
		// handled the error.
		marker := alice.NewID()
		alice.Sendf("<message to='%s' type='chat'><body>%s</body></message>", bob.JID, marker)
		bob.Expect(isMessageFrom(alice.JID, marker))
		alice.ExpectNone(func(el *stanza.Element) bool { return el.ID() == "loop" }, quietPeriod)
		if n := b.Router().Routed() - startB; n != 2 {
			t.Errorf("error to %s: b.test routed %d stanzas, want 2 (the error and the marker)", to, n)
		}
		if n := a.Router().Routed() - startA; n != 2 {
			t.Errorf("error to %s: a.test routed %d stanzas, want 2 (the error and the marker)", to, n)
		}
	}
	bob.ExpectNone(testutil.IsKind("message"), quietPeriod)
}

// TestIQAcrossServers checks IQ routing to the other server and to a user
// there (RFC 6120 §8.2.3, RFC 6121 §8.5).
func TestIQAcrossServers(t *testing.T) {
	a, b := imPair(t)
	alice := imLogin(t, a, "alice")
	bob := imLogin(t, b, "bob")

	t.Run("ping server", func(t *testing.T) {
		res := alice.IQ("<iq type='get' to='b.test'><ping xmlns='" + pingNS + "'/></iq>")
		if res.Type() != "result" || res.From() != "b.test" || res.To() != alice.JID {
			t.Errorf("ping b.test: %s", res)
		}
	})
	t.Run("ping bare JID", func(t *testing.T) {
		res := alice.IQ("<iq type='get' to='bob@b.test'><ping xmlns='" + pingNS + "'/></iq>")
		if res.Type() != "result" || res.From() != "bob@b.test" {
			t.Errorf("ping bob@b.test: %s", res)
		}
	})
	t.Run("ping full JID", func(t *testing.T) {
		id := alice.NewID()
		alice.Sendf("<iq type='get' to='%s' id='%s'><ping xmlns='%s'/></iq>", bob.JID, id, pingNS)
		req := bob.Expect(func(el *stanza.Element) bool { return el.Kind() == "iq" && el.ID() == id })
		if req.From() != alice.JID || req.To() != bob.JID || req.Type() != "get" || req.Child(pingNS, "ping") == nil {
			t.Fatalf("bob got %s", req)
		}
		bob.Sendf("<iq type='result' to='%s' id='%s'/>", req.From(), id)
		res := alice.Expect(func(el *stanza.Element) bool { return el.Kind() == "iq" && el.ID() == id })
		if res.Type() != "result" || res.From() != bob.JID || res.To() != alice.JID {
			t.Errorf("alice got %s", res)
		}
	})
	t.Run("error reply from full JID", func(t *testing.T) {
		id := alice.NewID()
		alice.Sendf("<iq type='get' to='%s' id='%s'><query xmlns='jabber:iq:last'/></iq>", bob.JID, id)
		bob.Expect(func(el *stanza.Element) bool { return el.Kind() == "iq" && el.ID() == id })
		bob.Sendf("<iq type='error' to='%s' id='%s'><query xmlns='jabber:iq:last'/><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", alice.JID, id)
		res := alice.Expect(func(el *stanza.Element) bool { return el.Kind() == "iq" && el.ID() == id })
		if testutil.ErrorCondition(res) != "feature-not-implemented" || res.From() != bob.JID {
			t.Errorf("alice got %s", res)
		}
	})
	for _, to := range []string{"bob@b.test/nothere", "nobody@b.test", "nobody@b.test/pc"} {
		t.Run("ping "+to, func(t *testing.T) {
			res := alice.IQ("<iq type='get' to='" + to + "'><ping xmlns='" + pingNS + "'/></iq>")
			if testutil.ErrorCondition(res) != "service-unavailable" || res.From() != to || res.To() != alice.JID {
				t.Errorf("ping %s: %s", to, res)
			}
		})
	}
	t.Run("disco#info server", func(t *testing.T) {
		res := alice.IQ("<iq type='get' to='b.test'><query xmlns='" + discoInfoNS + "'/></iq>")
		q := res.Child(discoInfoNS, "query")
		if res.Type() != "result" || q == nil {
			t.Fatalf("disco#info b.test: %s", res)
		}
		id := q.Child(discoInfoNS, "identity")
		if id == nil || id.Attr("category") != "server" || id.Attr("type") != "im" {
			t.Errorf("identity: %s", res)
		}
		features := map[string]bool{}
		for _, f := range q.ChildrenNamed(discoInfoNS, "feature") {
			features[f.Attr("var")] = true
		}
		for _, f := range []string{discoInfoNS, pingNS, versionNS, vcardNS} {
			if !features[f] {
				t.Errorf("b.test does not advertise %s: %s", f, res)
			}
		}
	})
	t.Run("disco#info account", func(t *testing.T) {
		// XEP-0030 §8: only entities subscribed to bob's presence learn
		// about his account.
		q := "<iq type='get' to='bob@b.test'><query xmlns='" + discoInfoNS + "'/></iq>"
		if res := alice.IQ(q); testutil.ErrorCondition(res) != "service-unavailable" {
			t.Errorf("disco#info bob@b.test without subscription: %s", res)
		}
		b.SetSubscription("bob@b.test", "alice@a.test", "from")
		res := alice.IQ(q)
		id := res.Child(discoInfoNS, "query")
		if id != nil {
			id = id.Child(discoInfoNS, "identity")
		}
		if res.Type() != "result" || id == nil || id.Attr("category") != "account" {
			t.Errorf("disco#info bob@b.test as a subscriber: %s", res)
		}
	})
	t.Run("version server", func(t *testing.T) {
		res := alice.IQ("<iq type='get' to='b.test'><query xmlns='" + versionNS + "'/></iq>")
		q := res.Child(versionNS, "query")
		if res.Type() != "result" || q == nil || q.ChildText(versionNS, "name") != "parley" || q.ChildText(versionNS, "version") == "" {
			t.Errorf("version b.test: %s", res)
		}
	})
	for _, typ := range []string{"get", "set"} {
		t.Run("roster "+typ+" to another user", func(t *testing.T) {
			item := ""
			if typ == "set" {
				item = "<item jid='mallory@a.test'/>"
			}
			res := alice.IQ("<iq type='" + typ + "' to='bob@b.test'><query xmlns='" + rosterNS + "'>" + item + "</query></iq>")
			if c := testutil.ErrorCondition(res); c != "forbidden" && c != "service-unavailable" {
				t.Errorf("roster %s to bob@b.test: %s", typ, res)
			}
			// An error to a get echoes the empty query: no item may leak.
			if q := res.Child(rosterNS, "query"); typ == "get" && q != nil && q.Child(rosterNS, "item") != nil {
				t.Errorf("roster get leaked items: %s", res)
			}
		})
	}
	if got := storedSubscription(t, b, "bob@b.test", "mallory@a.test"); got != "absent" {
		t.Errorf("alice's roster set changed bob's roster: %s", got)
	}
	t.Run("vcard", func(t *testing.T) {
		res := alice.IQ("<iq type='get' to='bob@b.test'><vCard xmlns='" + vcardNS + "'/></iq>")
		if testutil.ErrorCondition(res) != "item-not-found" {
			t.Errorf("vcard of bob before he set one: %s", res)
		}
		res = bob.IQ("<iq type='set'><vCard xmlns='" + vcardNS + "'><FN>Bob Builder</FN></vCard></iq>")
		if res.Type() != "result" {
			t.Fatalf("bob sets his vcard: %s", res)
		}
		res = alice.IQ("<iq type='get' to='bob@b.test'><vCard xmlns='" + vcardNS + "'/></iq>")
		card := res.Child(vcardNS, "vCard")
		if res.Type() != "result" || res.From() != "bob@b.test" || card == nil || card.ChildText(vcardNS, "FN") != "Bob Builder" {
			t.Errorf("vcard of bob: %s", res)
		}
		res = alice.IQ("<iq type='set' to='bob@b.test'><vCard xmlns='" + vcardNS + "'><FN>Mallory</FN></vCard></iq>")
		if testutil.ErrorCondition(res) != "forbidden" {
			t.Errorf("alice replaces bob's vcard: %s", res)
		}
	})
}

// TestSpoofedFromIsRefused checks that a local client cannot send a stanza
// out under another address: the stream stamps its full JID, and a
// different from is a stream error (RFC 6120 §4.9.3.9, §8.1.2.1).
func TestSpoofedFromIsRefused(t *testing.T) {
	a, b := imPair(t)
	bob := imLogin(t, b, "bob")

	alice := imLogin(t, a, "alice")
	alice.Send("<message from='alice@a.test' to='bob@b.test/pc' type='chat'><body>from my bare JID</body></message>")
	m := bob.Expect(func(el *stanza.Element) bool { return el.ChildText("", "body") == "from my bare JID" })
	if m.From() != alice.JID {
		t.Errorf("bob sees from %q, want %s", m.From(), alice.JID)
	}

	// Another resource of her own account is stamped over with the
	// session's address (see c2s), as web clients that resumed a session
	// send it; other addresses are forgeries.
	alice.Send("<message from='alice@a.test/other' to='bob@b.test/pc' type='chat'><body>from another resource</body></message>")
	m = bob.Expect(func(el *stanza.Element) bool { return el.ChildText("", "body") == "from another resource" })
	if m.From() != alice.JID {
		t.Errorf("bob sees from %q, want %s", m.From(), alice.JID)
	}
	spoofs := []string{"bob@b.test/pc", "mallory@a.test", "a.test", "b.test"}
	for i, from := range spoofs {
		c := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "s"+strconv.Itoa(i))
		c.Sendf("<message from='%s' to='bob@b.test/pc' type='chat'><body>spoofed</body></message>", from)
		c.Expect(func(el *stanza.Element) bool {
			return el.Space == stanza.NSStream && el.Local == "error" && el.Child(stanza.NSStreams, "invalid-from") != nil
		})
		c.WaitClosed()
	}
	bob.ExpectNone(func(el *stanza.Element) bool { return el.ChildText("", "body") == "spoofed" }, quietPeriod)
}

// waitUntil polls cond until it holds, failing after testutil.Timeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
