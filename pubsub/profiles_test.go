package pubsub_test

import (
	"slices"
	"testing"

	"parley/internal/testutil"
)

// TestClientProfiles publishes what today's clients put in PEP, the way
// they do it, and checks who sees what: OMEMO (both namespaces), avatars
// (XEP-0084), bookmarks (XEP-0402) and nicknames (XEP-0172).
func TestClientProfiles(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.AddUser("dave", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")

	type publication struct{ id, payload string }
	cases := []struct {
		name, node, options string
		items               []publication
		keep                []string // item IDs the node keeps, in order
		contactNotified     bool     // bob (+notify) gets the notifications
		stranger            string   // dave's result reading the node: "" for the items, else the error
	}{
		{name: "OMEMO device list", node: "eu.siacs.conversations.axolotl.devicelist",
			options: field("pubsub#access_model", "open"),
			items: []publication{
				{"current", "<list xmlns='eu.siacs.conversations.axolotl'><device id='1'/></list>"},
				{"current", "<list xmlns='eu.siacs.conversations.axolotl'><device id='1'/><device id='2'/></list>"},
			},
			keep: []string{"current"}, contactNotified: true},
		{name: "OMEMO bundle", node: "eu.siacs.conversations.axolotl.bundles:2",
			options: field("pubsub#access_model", "open"),
			items:   []publication{{"current", "<bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>AA==</signedPreKeyPublic></bundle>"}},
			keep:    []string{"current"}},
		{name: "OMEMO 2 devices", node: "urn:xmpp:omemo:2:devices",
			options: field("pubsub#access_model", "open") + field("pubsub#max_items", "1"),
			items:   []publication{{"current", "<devices xmlns='urn:xmpp:omemo:2'><device id='7' label='phone'/></devices>"}},
			keep:    []string{"current"}, contactNotified: true},
		{name: "OMEMO 2 bundles", node: "urn:xmpp:omemo:2:bundles",
			options: field("pubsub#access_model", "open") + field("pubsub#max_items", "max"),
			items: []publication{
				{"7", "<bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AA==</spk></bundle>"},
				{"8", "<bundle xmlns='urn:xmpp:omemo:2'><spk id='1'>AA==</spk></bundle>"},
			},
			keep: []string{"7", "8"}},
		{name: "avatar data", node: "urn:xmpp:avatar:data",
			items: []publication{{"111f4b3c50d7b0df729d299bc6f8e9ef9066971f", "<data xmlns='urn:xmpp:avatar:data'>iVBORw0KGgo=</data>"}},
			keep:  []string{"111f4b3c50d7b0df729d299bc6f8e9ef9066971f"}, stranger: "not-authorized"},
		{name: "avatar metadata", node: "urn:xmpp:avatar:metadata",
			items: []publication{{"111f4b3c50d7b0df729d299bc6f8e9ef9066971f",
				"<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='8' id='111f4b3c50d7b0df729d299bc6f8e9ef9066971f' type='image/png' height='1' width='1'/></metadata>"}},
			keep: []string{"111f4b3c50d7b0df729d299bc6f8e9ef9066971f"}, contactNotified: true, stranger: "not-authorized"},
		{name: "bookmarks", node: "urn:xmpp:bookmarks:1",
			options: field("pubsub#persist_items", "true") + field("pubsub#access_model", "whitelist") +
				field("pubsub#max_items", "max") + field("pubsub#send_last_published_item", "never"),
			items: []publication{
				{"a@conference.test", "<conference xmlns='urn:xmpp:bookmarks:1' name='A' autojoin='true'><nick>al</nick></conference>"},
				{"b@conference.test", "<conference xmlns='urn:xmpp:bookmarks:1' name='B'/>"},
				{"a@conference.test", "<conference xmlns='urn:xmpp:bookmarks:1' name='A again'/>"},
			},
			keep: []string{"b@conference.test", "a@conference.test"}, stranger: "forbidden"},
		{name: "nickname", node: "http://jabber.org/protocol/nick",
			items: []publication{{"current", "<nick xmlns='http://jabber.org/protocol/nick'>Alice</nick>"}},
			keep:  []string{"current"}, contactNotified: true, stranger: "not-authorized"},
	}
	var notify []string
	for _, c := range cases {
		notify = append(notify, c.node)
	}
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	d := testutil.Login(t, srv.Addr, "dave", "pw", "pc")
	online(t, a, "urn:xmpp:bookmarks:1")
	online(t, b, notify...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, it := range c.items {
				if res := publish(a, "", c.node, it.id, it.payload, c.options); res.Type() != "result" {
					t.Fatalf("publish %s: %s", it.id, res)
				}
				if c.contactNotified {
					ev := b.Expect(isEvent(alice, c.node))
					if got := eventChild(ev).FirstElement().Attr("id"); got != it.id {
						t.Errorf("bob's notification of item %q, want %q", got, it.id)
					}
				}
			}
			if ids := itemIDs(t, items(a, alice, c.node, "", "")); !slices.Equal(ids, c.keep) {
				t.Errorf("items kept = %v, want %v", ids, c.keep)
			}
			res := items(d, alice, c.node, "", "")
			if c.stranger == "" {
				if ids := itemIDs(t, res); !slices.Equal(ids, c.keep) {
					t.Errorf("stranger reads %v, want %v", ids, c.keep)
				}
			} else {
				wantError(t, "stranger", res, c.stranger, "", "")
			}
		})
	}
	// Bookmarks notify the owner's resources that ask, nobody else.
	if evs := a.Take(isEvent(alice, "urn:xmpp:bookmarks:1")); len(evs) != 3 {
		t.Errorf("alice got %d bookmark notifications, want 3", len(evs))
	}
	b.ExpectNone(isEvent(alice, "urn:xmpp:bookmarks:1"), quiet)
}
