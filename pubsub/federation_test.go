package pubsub_test

import (
	"testing"

	"parley/internal/testutil"
	"parley/pubsub"
	"parley/stanza"
)

// TestFederatedNotifications: a contact on another server gets the last
// item when its resource comes online, and later notifications, through
// the server-to-server link; the capabilities query crosses it too. A
// stranger there may read open nodes only.
func TestFederatedNotifications(t *testing.T) {
	servers := testutil.Federate(t, "", "a.test", "b.test")
	sa, sb := servers[0], servers[1]
	alice, bob := "alice@a.test", "bob@b.test"
	sa.SetSubscription(alice, bob, "both")
	sb.SetSubscription(bob, alice, "both")
	a := testutil.Login(t, sa.Addr, alice, "alice-pw", "desk")
	online(t, a, node)
	publish(a, "", node, "1", "<entry xmlns='urn:test'>one</entry>", "")
	publish(a, "", "urn:test:open", "1", "<entry xmlns='urn:test'/>", field("pubsub#access_model", "open"))

	b := testutil.Login(t, sb.Addr, bob, "bob-pw", "laptop")
	// Bob's server and alice's (across the link) ask bob's client.
	onlineAnswering(t, b, 2, capsQuery(b.JID, node), "")
	ev := b.Expect(isEvent(alice, node))
	if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != "1" {
		t.Errorf("last item: %s", ev)
	}
	publish(a, "", node, "2", "<entry xmlns='urn:test'>two</entry>", "")
	ev = b.Expect(isEvent(alice, node))
	if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != "2" || ev.To() != b.JID {
		t.Errorf("notification: %s", ev)
	}
	if ids := itemIDs(t, items(b, alice, node, "", "")); len(ids) != 1 || ids[0] != "2" {
		t.Errorf("bob's items: %v", ids)
	}

	// A stranger on b.test: open nodes only.
	sb.AddUser("carol", "pw")
	c := testutil.Login(t, sb.Addr, "carol@b.test", "pw", "x")
	if ids := itemIDs(t, items(c, alice, "urn:test:open", "", "")); len(ids) != 1 {
		t.Errorf("carol's open items: %v", ids)
	}
	wantError(t, "carol reads presence node", items(c, alice, node, "", ""), "not-authorized", "presence-subscription-required", "401")

	// Once bob's resource is gone, nothing more is sent to it.
	b.Send("<presence type='unavailable'/>")
	// Once alice sees it, her server has forgotten the resource.
	a.Expect(func(el *stanza.Element) bool {
		return el.Local == "presence" && el.From() == b.JID && el.Type() == "unavailable"
	})
	b.Drain()
	publish(a, "", node, "3", "<entry xmlns='urn:test'/>", "")
	b.ExpectNone(isEvent(alice, node), quiet)
}
