package storagetest

import (
	"slices"
	"testing"
	"time"

	"parley/storage"
)

func testPubSub(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := t.Context()
	const alice, bob = "alice@example.org", "bob@example.org"
	created := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)

	if nodes, err := s.PubSubNodes(ctx, alice); err != nil || len(nodes) != 0 {
		t.Fatalf("PubSubNodes of a new store = %v, %v", nodes, err)
	}
	checkErr(t, "PubSubNode before create", second(s.PubSubNode(ctx, alice, "n")), storage.ErrNotFound)
	checkErr(t, "publish to a missing node", second(s.PublishPubSubItem(ctx, &storage.PubSubItem{Owner: alice, Node: "n", ID: "1"}, 10)), storage.ErrNotFound)
	checkErr(t, "configure a missing node", s.SetPubSubNodeConfig(ctx, alice, "n", []byte("{}")), storage.ErrNotFound)
	checkErr(t, "delete a missing node", s.DeletePubSubNode(ctx, alice, "n"), storage.ErrNotFound)

	for _, n := range []storage.PubSubNode{
		{Owner: alice, Node: "urn:xmpp:avatar:metadata", Config: []byte(`{"a":1}`), Created: created},
		{Owner: alice, Node: "eu.siacs.conversations.axolotl.devicelist", Config: []byte(`{}`), Created: created},
		{Owner: bob, Node: "urn:xmpp:avatar:metadata", Config: nil, Created: created},
	} {
		must(t, s.CreatePubSubNode(ctx, n))
	}
	checkErr(t, "create twice", s.CreatePubSubNode(ctx, storage.PubSubNode{Owner: alice, Node: "urn:xmpp:avatar:metadata", Created: created}), storage.ErrExists)
	nodes, err := s.PubSubNodes(ctx, alice)
	must(t, err)
	if len(nodes) != 2 || nodes[0].Node != "eu.siacs.conversations.axolotl.devicelist" || nodes[1].Node != "urn:xmpp:avatar:metadata" {
		t.Fatalf("PubSubNodes = %+v, want two, sorted", nodes)
	}
	n, err := s.PubSubNode(ctx, alice, "urn:xmpp:avatar:metadata")
	must(t, err)
	if n.Owner != alice || string(n.Config) != `{"a":1}` || !n.Created.Equal(created) {
		t.Errorf("PubSubNode = %+v", n)
	}
	if n, err := s.PubSubNode(ctx, bob, "urn:xmpp:avatar:metadata"); err != nil || n.Config == nil {
		t.Errorf("node with nil config = %+v, %v; want a non-nil empty config", n, err)
	}
	must(t, s.SetPubSubNodeConfig(ctx, alice, "urn:xmpp:avatar:metadata", []byte(`{"a":2}`)))
	if n, _ := s.PubSubNode(ctx, alice, "urn:xmpp:avatar:metadata"); string(n.Config) != `{"a":2}` {
		t.Errorf("config after SetPubSubNodeConfig = %q", n.Config)
	}

	// Publishing: new IDs append, a republished ID moves to the end, and
	// the node keeps the most recent items.
	const node = "eu.siacs.conversations.axolotl.devicelist"
	publish := func(id, payload string, keep int) []string {
		t.Helper()
		it := &storage.PubSubItem{Owner: alice, Node: node, ID: id, Payload: []byte(payload), Publisher: alice + "/phone", Stamp: created.Add(time.Duration(len(payload)) * time.Second)}
		removed, err := s.PublishPubSubItem(ctx, it, keep)
		must(t, err)
		if it.Seq <= 0 {
			t.Errorf("publish %s: Seq %d not set", id, it.Seq)
		}
		return removed
	}
	ids := func(items []storage.PubSubItem) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	for _, id := range []string{"a", "b", "c"} {
		if removed := publish(id, "<x xmlns='y'>"+id+"</x>", 10); len(removed) != 0 {
			t.Errorf("publish %s removed %v", id, removed)
		}
	}
	publish("a", "<x xmlns='y'>new a</x>", 10)
	items, err := s.PubSubItems(ctx, alice, node, nil, 0)
	must(t, err)
	if got := ids(items); !slices.Equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("items after republishing a = %v, want b c a", got)
	}
	if string(items[2].Payload) != "<x xmlns='y'>new a</x>" || items[2].Publisher != alice+"/phone" || items[2].Owner != alice || items[2].Node != node {
		t.Errorf("republished item = %+v", items[2])
	}
	if !(items[0].Seq < items[1].Seq && items[1].Seq < items[2].Seq) {
		t.Errorf("seqs not increasing: %v %v %v", items[0].Seq, items[1].Seq, items[2].Seq)
	}
	if !items[0].Stamp.Equal(created.Add(time.Duration(len("<x xmlns='y'>b</x>")) * time.Second)) {
		t.Errorf("stamp = %v", items[0].Stamp)
	}
	for _, c := range []struct {
		ids  []string
		last int
		want []string
	}{
		{nil, 1, []string{"a"}},
		{nil, 2, []string{"c", "a"}},
		{nil, 9, []string{"b", "c", "a"}},
		{[]string{"c", "nope"}, 0, []string{"c"}},
		{[]string{"a", "b"}, 0, []string{"b", "a"}},
		{[]string{"a", "b"}, 1, []string{"a"}},
		{[]string{"nope"}, 0, nil},
	} {
		got, err := s.PubSubItems(ctx, alice, node, c.ids, c.last)
		must(t, err)
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("PubSubItems(%v, %d) = %v, want %v", c.ids, c.last, ids(got), c.want)
		}
	}
	if removed := publish("d", "<d/>", 2); !slices.Equal(removed, []string{"b", "c"}) {
		t.Errorf("publish with keep 2 removed %v, want b c", removed)
	}
	publish("e", "", 5) // an empty payload is stored
	if got, _ := s.PubSubItems(ctx, alice, node, []string{"e"}, 0); len(got) != 1 || got[0].Payload == nil {
		t.Errorf("empty payload item = %+v", got)
	}

	// Retract and trim.
	must(t, s.RetractPubSubItem(ctx, alice, node, "d"))
	checkErr(t, "retract twice", s.RetractPubSubItem(ctx, alice, node, "d"), storage.ErrNotFound)
	checkErr(t, "retract on another node", s.RetractPubSubItem(ctx, alice, "urn:xmpp:avatar:metadata", "a"), storage.ErrNotFound)
	removed, err := s.TrimPubSubItems(ctx, alice, node, 1)
	must(t, err)
	if !slices.Equal(removed, []string{"a"}) {
		t.Errorf("trim to 1 removed %v, want a", removed)
	}
	if items, _ := s.PubSubItems(ctx, alice, node, nil, 0); !slices.Equal(ids(items), []string{"e"}) {
		t.Errorf("items after trim = %v, want e", ids(items))
	}

	// Nodes and owners are separate.
	it := &storage.PubSubItem{Owner: bob, Node: "urn:xmpp:avatar:metadata", ID: "e", Payload: []byte("<bob/>"), Publisher: bob, Stamp: created}
	_, err = s.PublishPubSubItem(ctx, it, 1)
	must(t, err)
	if items, _ := s.PubSubItems(ctx, alice, "urn:xmpp:avatar:metadata", nil, 0); len(items) != 0 {
		t.Errorf("alice's other node has %v", ids(items))
	}

	// Everything survives a restart.
	s = reopen()
	if items, _ := s.PubSubItems(ctx, alice, node, nil, 0); !slices.Equal(ids(items), []string{"e"}) {
		t.Errorf("items after reopening = %v, want e", ids(items))
	}
	if nodes, _ := s.PubSubNodes(ctx, alice); len(nodes) != 2 {
		t.Errorf("nodes after reopening = %+v", nodes)
	}

	removed, err = s.TrimPubSubItems(ctx, alice, node, 0)
	must(t, err)
	if !slices.Equal(removed, []string{"e"}) {
		t.Errorf("purge removed %v", removed)
	}

	// Deleting a node deletes its items; a node created again is empty.
	_, err = s.PublishPubSubItem(ctx, &storage.PubSubItem{Owner: alice, Node: node, ID: "x", Stamp: created}, 3)
	must(t, err)
	must(t, s.DeletePubSubNode(ctx, alice, node))
	checkErr(t, "deleted node", second(s.PubSubNode(ctx, alice, node)), storage.ErrNotFound)
	must(t, s.CreatePubSubNode(ctx, storage.PubSubNode{Owner: alice, Node: node, Created: created}))
	if items, _ := s.PubSubItems(ctx, alice, node, nil, 0); len(items) != 0 {
		t.Errorf("recreated node has %v", ids(items))
	}

	// Deleting the account deletes its nodes and items, and no one else's.
	must(t, s.CreateAccount(ctx, alice, nil))
	must(t, s.DeleteAccount(ctx, alice))
	if nodes, _ := s.PubSubNodes(ctx, alice); len(nodes) != 0 {
		t.Errorf("nodes after deleting the account: %+v", nodes)
	}
	if items, _ := s.PubSubItems(ctx, alice, node, nil, 0); len(items) != 0 {
		t.Errorf("items after deleting the account: %v", ids(items))
	}
	if items, _ := s.PubSubItems(ctx, bob, "urn:xmpp:avatar:metadata", nil, 0); len(items) != 1 {
		t.Errorf("bob's items after deleting alice: %v", ids(items))
	}
}
