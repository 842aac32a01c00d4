package pubsub_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"parley/entitycaps"
	"parley/internal/testutil"
	"parley/modules/pep"
	"parley/pubsub"
	"parley/stanza"
)

// TestLastItemOnPresence: resources get the last item of the nodes they
// ask for when they come online, once their capabilities are known.
func TestLastItemOnPresence(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	srv.SetSubscription(carol, alice, "to") // carol is subscribed, but alice's roster does not know it
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	publish(a, "", node, "v1", "<entry xmlns='urn:test'>1</entry>", "")
	publish(a, "", node, "v2", "<entry xmlns='urn:test'>2</entry>", "")
	publish(a, "", "urn:xmpp:never", "n", "<entry xmlns='urn:test'/>", field("pubsub#send_last_published_item", "never"))

	// Bob's resource asking for the node gets its last item, stamped.
	b := testutil.Login(t, srv.Addr, "bob", "pw", "laptop")
	online(t, b, node, "urn:xmpp:never")
	ev := b.Expect(isEvent(alice, node))
	if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != "v2" || ev.Child(stanza.NSDelay, "delay") == nil {
		t.Errorf("last item: %s", ev)
	}
	b.ExpectNone(isEvent(alice, "urn:xmpp:never"), quiet)
	b.ExpectNone(isEvent(alice, node), 0) // once only
	// The same presence again sends nothing more.
	b.Send("<presence><show>away</show></presence>")
	b.ExpectNone(isEvent(alice, node), quiet)

	// A resource without +notify gets nothing, now or later.
	b2 := testutil.Login(t, srv.Addr, "bob", "pw", "plain")
	online(t, b2, "urn:xmpp:other")
	b2.ExpectNone(isEvent(alice, node), quiet)
	publish(a, "", node, "v3", "<entry xmlns='urn:test'>3</entry>", "")
	b.Expect(isEvent(alice, node))
	b2.ExpectNone(isEvent(alice, node), quiet)

	// Presence without capabilities: no notifications.
	b3 := testutil.Login(t, srv.Addr, "bob", "pw", "nocaps")
	b3.Send("<presence/>")
	publish(a, "", node, "v4", "<entry xmlns='urn:test'>4</entry>", "")
	b.Expect(isEvent(alice, node))
	b3.ExpectNone(isEvent(alice, node), quiet)

	// Carol has no subscription in alice's roster: nothing.
	c := testutil.Login(t, srv.Addr, "carol", "pw", "x")
	online(t, c, node)
	c.ExpectNone(isEvent(alice, node), quiet)

	// The owner's other resource gets its own last item.
	a2 := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	online(t, a2, node)
	if ev := a2.Expect(isEvent(alice, node)); eventChild(ev).Child(pubsub.NSEvent, "item").Attr("id") != "v4" {
		t.Errorf("owner's last item: %s", ev)
	}

	// Going unavailable and back sends the last item again.
	b.Send("<presence type='unavailable'/>")
	b.Drain()
	online(t, b, node)
	b.Expect(isEvent(alice, node))
	_ = bob
}

// TestCapsVerification: an answer that does not match its hash is used
// for the address that gave it only; the next resource advertising the
// hash is asked again, and a matching answer is cached for everyone.
func TestCapsVerification(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	publish(a, "", node, "1", "<entry xmlns='urn:test'/>", "")

	shared := capsQuery("shared", node)
	lie := capsQuery("shared") // no +notify
	b1 := testutil.Login(t, srv.Addr, "bob", "pw", "one")
	onlineWith(t, b1, shared, lie.SetAttr("node", "urn:test#x").String())
	b1.ExpectNone(isEvent(alice, node), quiet) // its own (unverified) answer lacks +notify

	b2 := testutil.Login(t, srv.Addr, "bob", "pw", "two")
	onlineWith(t, b2, shared, "") // asked again, answers truthfully
	b2.Expect(isEvent(alice, node))

	// Now the hash is known: a third resource is not asked.
	b3 := testutil.Login(t, srv.Addr, "bob", "pw", "three")
	ver, _ := entitycaps.Ver(shared)
	b3.Sendf("<presence><c xmlns='%s' hash='sha-1' node='urn:test' ver='%s'/></presence>", entitycaps.NS, ver)
	b3.Expect(isEvent(alice, node))
	b3.ExpectNone(func(el *stanza.Element) bool { return el.Local == "iq" && el.Type() == "get" }, quiet)

	publish(a, "", node, "2", "<entry xmlns='urn:test'/>", "")
	b2.Expect(isEvent(alice, node))
	b3.Expect(isEvent(alice, node))
	b1.ExpectNone(isEvent(alice, node), quiet)
}

// TestGoAPI: other modules publish, read, retract and delete as the
// owner, and observers see every publish and retraction.
func TestGoAPI(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	svc, ok := srv.Module(pep.Name).(*pubsub.Service)
	if !ok {
		t.Fatalf("pep instance: %T", srv.Module(pep.Name))
	}
	var (
		mu     sync.Mutex
		events []pubsub.Event
	)
	svc.Observe(func(_ context.Context, ev pubsub.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	online(t, a, "urn:xmpp:bookmarks:1")
	ctx := context.Background()
	owner := jid.MustParse(alice)
	conf, _ := stanza.Parse("<conference xmlns='urn:xmpp:bookmarks:1' autojoin='true'/>")
	opts := pubsub.PublishOptions{"pubsub#access_model": {"whitelist"}, "pubsub#max_items": {"max"}}
	id, err := svc.Publish(ctx, owner, "urn:xmpp:bookmarks:1", "room@muc.test", conf, opts)
	if err != nil || id != "room@muc.test" {
		t.Fatalf("Publish = %q, %v", id, err)
	}
	a.Expect(isEvent(alice, "urn:xmpp:bookmarks:1")) // the owner's clients are notified
	if _, err := svc.Publish(ctx, owner, "urn:xmpp:bookmarks:1", "", conf, pubsub.PublishOptions{"pubsub#access_model": {"open"}}); err == nil {
		t.Error("mismatched options accepted")
	}
	if _, err := svc.Publish(ctx, jid.MustParse("someone@elsewhere.test"), "urn:x", "", conf, nil); err == nil {
		t.Error("published for an account of another server")
	}
	// A client's publish is observed too.
	publish(a, "", "urn:xmpp:bookmarks:1", "other@muc.test", "<conference xmlns='urn:xmpp:bookmarks:1'/>", "")
	its, err := svc.Items(ctx, owner, "urn:xmpp:bookmarks:1", nil, 0)
	if err != nil || len(its) != 2 || its[0].ID != "room@muc.test" || its[0].Payload.Attr("autojoin") != "true" {
		t.Fatalf("Items = %+v, %v", its, err)
	}
	if err := svc.Retract(ctx, owner, "urn:xmpp:bookmarks:1", "room@muc.test", true); err != nil {
		t.Fatal(err)
	}
	if err := svc.Retract(ctx, owner, "urn:xmpp:bookmarks:1", "room@muc.test", true); err == nil {
		t.Error("retracting a missing item succeeded")
	}
	mu.Lock()
	var got []string
	for _, ev := range events {
		s := ev.Node + " " + ev.Item.ID
		if ev.Retracted {
			s += " retracted"
		}
		got = append(got, s)
	}
	mu.Unlock()
	want := []string{"urn:xmpp:bookmarks:1 room@muc.test", "urn:xmpp:bookmarks:1 other@muc.test", "urn:xmpp:bookmarks:1 room@muc.test retracted"}
	if !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
	if err := svc.DeleteNode(ctx, owner, "urn:xmpp:bookmarks:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Items(ctx, owner, "urn:xmpp:bookmarks:1", nil, 0); err == nil {
		t.Error("items of a deleted node")
	}
}

// TestAccountDeletion: deleting an account removes its nodes and items.
func TestAccountDeletion(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	publish(a, "", node, "1", "<entry xmlns='urn:test'/>", "")
	a.Close()
	ctx := context.Background()
	if err := srv.Store().DeleteAccount(ctx, alice); err != nil {
		t.Fatal(err)
	}
	srv.Router().AccountDeleted(ctx, jid.MustParse(alice))
	if nodes, err := srv.Store().PubSubNodes(ctx, alice); err != nil || len(nodes) != 0 {
		t.Errorf("nodes after deletion: %v, %v", nodes, err)
	}
	srv.AddUser("alice", "pw")
	a = testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	wantError(t, "new account's node", items(a, alice, node, "", ""), "item-not-found", "", "")
}

// TestConfigEffects: deliver_payloads, notify_retract and persist_items
// change what is sent and kept.
func TestConfigEffects(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	online(t, b, node)
	opts := field("pubsub#deliver_payloads", "false") + field("pubsub#notify_retract", "false") + field("pubsub#persist_items", "false") + field("pubsub#max_items", "10")
	for _, id := range []string{"1", "2"} {
		if res := publish(a, "", node, id, "<entry xmlns='urn:test'>secret</entry>", opts); res.Type() != "result" {
			t.Fatalf("publish: %s", res)
		}
		ev := b.Expect(isEvent(alice, node))
		if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != id || len(it.Elements()) != 0 {
			t.Errorf("notification without payload: %s", ev)
		}
	}
	// Not persistent: only the last item is kept, for delivery on presence.
	if ids := itemIDs(t, items(a, alice, node, "", "")); !slices.Equal(ids, []string{"2"}) {
		t.Errorf("items kept: %v", ids)
	}
	// Retraction without notify follows notify_retract (off).
	a.IQ("<iq type='set'><pubsub xmlns='" + pubsub.NS + "'><retract node='" + node + "'><item id='2'/></retract></pubsub></iq>")
	b.ExpectNone(isEvent(alice, node), quiet)
}

// TestLastItemOnSubscription: a contact whose subscription the owner
// approves gets the last items at once, on its resources that ask.
func TestLastItemOnSubscription(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a.IQ("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>")
	a.Send("<presence/>")
	publish(a, "", node, "1", "<entry xmlns='urn:test'>hello</entry>", "")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	online(t, b, node)
	b.ExpectNone(isEvent(alice, node), quiet) // no subscription yet
	b.Sendf("<presence to='%s' type='subscribe'/>", alice)
	a.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.Type() == "subscribe" })
	a.Sendf("<presence to='%s' type='subscribed'/>", bob)
	ev := b.Expect(isEvent(alice, node))
	if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != "1" {
		t.Errorf("last item on subscription: %s", ev)
	}
}
