package pubsub_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"parley/dataform"
	"parley/internal/testutil"
	"parley/pubsub"
	"parley/stanza"
	"parley/storage"
)

const node = "urn:xmpp:test:node"

func TestPublishNotifyRetract(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.AddUser("carol", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	a1 := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a2 := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "laptop")
	b2 := testutil.Login(t, srv.Addr, "bob", "pw", "old")
	c := testutil.Login(t, srv.Addr, "carol", "pw", "x")
	online(t, a1, node)
	online(t, a2) // no +notify
	online(t, b, node)
	online(t, b2, "urn:xmpp:other")
	for _, cl := range []*testutil.Client{a1, a2, b, b2} {
		cl.Drain()
	}

	// Publish with an id: the result names it, the owner's resource and
	// the contact's that ask for the node get the event, others nothing.
	res := publish(a1, "", node, "one", "<entry xmlns='urn:test'>first</entry>", "")
	if res.Type() != "result" {
		t.Fatalf("publish: %s", res)
	}
	if it := res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "publish").Child(pubsub.NS, "item"); it == nil || it.Attr("id") != "one" {
		t.Errorf("publish result: %s", res)
	}
	for _, cl := range []*testutil.Client{a1, b} {
		ev := cl.Expect(isEvent(alice, node))
		item := eventChild(ev).Child(pubsub.NSEvent, "item")
		if item == nil || item.Attr("id") != "one" || item.Child("urn:test", "entry").Text() != "first" {
			t.Errorf("%s got %s", cl.JID, ev)
		}
		if ev.To() != cl.JID {
			t.Errorf("event to %s, want %s", ev.To(), cl.JID)
		}
	}
	a2.ExpectNone(isEvent(alice, node), quiet)
	b2.ExpectNone(isEvent(alice, node), quiet)
	c.ExpectNone(isEvent(alice, node), 0)

	// Without an id the server makes one; the same id replaces.
	res = publish(a2, "", node, "", "<entry xmlns='urn:test'>second</entry>", "")
	gen := res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "publish").Child(pubsub.NS, "item").Attr("id")
	if res.Type() != "result" || gen == "" {
		t.Fatalf("publish without id: %s", res)
	}
	b.Expect(isEvent(alice, node))
	// The default node keeps one item.
	if ids := itemIDs(t, items(b, alice, node, "", "")); !slices.Equal(ids, []string{gen}) {
		t.Errorf("items after second publish = %v, want [%s]", ids, gen)
	}

	// A node keeping more items: items, by id, max_items.
	const many = "urn:xmpp:test:many"
	if res := publish(a1, "", many, "1", "<x xmlns='urn:test'>1</x>", field("pubsub#max_items", "10")); res.Type() != "result" {
		t.Fatalf("publish with options: %s", res)
	}
	for _, id := range []string{"2", "3", "1"} {
		publish(a1, "", many, id, "<x xmlns='urn:test'>"+id+"-new</x>", "")
	}
	for _, c := range []struct {
		attrs, children string
		want            []string
	}{
		{"", "", []string{"2", "3", "1"}},
		{" max_items='2'", "", []string{"3", "1"}},
		{"", "<item id='3'/><item id='nope'/>", []string{"3"}},
	} {
		if ids := itemIDs(t, items(b, alice, many, c.attrs, c.children)); !slices.Equal(ids, c.want) {
			t.Errorf("items%s%s = %v, want %v", c.attrs, c.children, ids, c.want)
		}
	}
	res = items(b, alice, many, "", "<item id='1'/>")
	if p := res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "items").Child(pubsub.NS, "item").Child("urn:test", "x"); p == nil || p.Text() != "1-new" {
		t.Errorf("replaced item: %s", res)
	}
	wantError(t, "bad max_items", items(b, alice, many, " max_items='x'", ""), "bad-request", "", "400")

	// Others may not publish or retract.
	wantError(t, "bob publishes to alice", publish(b, alice, many, "evil", "<x xmlns='urn:test'/>", ""), "forbidden", "", "403")
	wantError(t, "bob retracts", b.IQ(fmt.Sprintf("<iq type='set' to='%s'><pubsub xmlns='%s'><retract node='%s'><item id='1'/></retract></pubsub></iq>", alice, pubsub.NS, many)), "forbidden", "", "")
	wantError(t, "bob deletes", b.IQ(fmt.Sprintf("<iq type='set' to='%s'><pubsub xmlns='%s'><delete node='%s'/></pubsub></iq>", alice, pubsub.NSOwner, many)), "forbidden", "", "")
	if ids := itemIDs(t, items(a1, alice, many, "", "")); !slices.Equal(ids, []string{"2", "3", "1"}) {
		t.Errorf("items after bob's attempts = %v", ids)
	}
	if nodes, _ := srv.Store().PubSubNodes(context.Background(), bob); len(nodes) != 0 {
		t.Errorf("bob's publish created %v", nodes)
	}

	// Carol, no contact, may not read presence-access nodes.
	wantError(t, "carol reads", items(c, alice, node, "", ""), "not-authorized", "presence-subscription-required", "401")
	wantError(t, "missing node", items(b, alice, "urn:nope", "", ""), "item-not-found", "", "404")
	wantError(t, "no node", items(b, alice, "", "", ""), "bad-request", "nodeid-required", "400")

	// Retract with notify.
	a1.Drain()
	b.Drain()
	retract := func(id, notify string) *stanza.Element {
		return a1.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><retract node='%s'%s><item id='%s'/></retract></pubsub></iq>", pubsub.NS, node, notify, id))
	}
	if res := retract(gen, " notify='true'"); res.Type() != "result" {
		t.Fatalf("retract: %s", res)
	}
	ev := b.Expect(isEvent(alice, node))
	if r := eventChild(ev).Child(pubsub.NSEvent, "retract"); r == nil || r.Attr("id") != gen {
		t.Errorf("retract event: %s", ev)
	}
	wantError(t, "retract again", retract(gen, ""), "item-not-found", "", "404")
	publish(a1, "", node, "quiet", "<entry xmlns='urn:test'/>", "")
	b.Expect(isEvent(alice, node))
	retract("quiet", " notify='false'")
	b.ExpectNone(isEvent(alice, node), quiet)

	// Purge and delete (owner namespace) notify too.
	b.Drain()
	if res := owner(a1, "set", "<purge node='"+many+"'/>"); res.Type() != "result" {
		t.Fatalf("purge: %s", res)
	}
	b.ExpectNone(isEvent(alice, many), quiet) // bob does not ask for it
	if ids := itemIDs(t, items(a1, alice, many, "", "")); len(ids) != 0 {
		t.Errorf("items after purge: %v", ids)
	}
	publish(a1, "", node, "again", "<entry xmlns='urn:test'/>", "")
	b.Expect(isEvent(alice, node))
	if res := owner(a1, "set", "<purge node='"+node+"'/>"); res.Type() != "result" {
		t.Fatalf("purge: %s", res)
	}
	if ev := b.Expect(isEvent(alice, node)); eventChild(ev).Local != "purge" {
		t.Errorf("purge event: %s", ev)
	}
	if res := owner(a1, "set", "<delete node='"+node+"'/>"); res.Type() != "result" {
		t.Fatalf("delete: %s", res)
	}
	if ev := b.Expect(isEvent(alice, node)); eventChild(ev).Local != "delete" {
		t.Errorf("delete event: %s", ev)
	}
	wantError(t, "items of deleted node", items(b, alice, node, "", ""), "item-not-found", "", "404")
	wantError(t, "delete again", owner(a1, "set", "<delete node='"+node+"'/>"), "item-not-found", "", "")
}

func TestConfigure(t *testing.T) {
	srv := testutil.StartServer(t, "[pep]\nmax_items_per_node = 5\n")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	const n = "urn:xmpp:test:conf"

	form := func(fields ...string) string {
		return "<x xmlns='jabber:x:data' type='submit'>" + field("FORM_TYPE", pubsub.FormNodeConfig) + strings.Join(fields, "") + "</x>"
	}
	get := func() dataform.Form {
		t.Helper()
		res := owner(a, "get", "<configure node='"+n+"'/>")
		x := res.Child(pubsub.NSOwner, "pubsub").Child(pubsub.NSOwner, "configure").Child(dataform.NS, "x")
		if res.Type() != "result" || x == nil {
			t.Fatalf("configure get: %s", res)
		}
		f := dataform.Parse(x)
		if f.FormType() != pubsub.FormNodeConfig || f.Type != "form" {
			t.Fatalf("form: %s", res)
		}
		return f
	}
	value := func(f dataform.Form, name string) string {
		v, _ := f.Value(name)
		return v
	}

	// Explicit creation with a configuration; creating again conflicts.
	res := a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><create node='%s'/><configure>%s</configure></pubsub></iq>",
		pubsub.NS, n, form(field("pubsub#access_model", "open"), field("pubsub#title", "Mine"))))
	if res.Type() != "result" {
		t.Fatalf("create: %s", res)
	}
	wantError(t, "create again", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><create node='%s'/></pubsub></iq>", pubsub.NS, n)), "conflict", "", "409")
	wantError(t, "create without a name", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><create/></pubsub></iq>", pubsub.NS)), "not-acceptable", "nodeid-required", "")
	f := get()
	for name, want := range map[string]string{
		"pubsub#access_model": "open", "pubsub#title": "Mine", "pubsub#max_items": "1", "pubsub#persist_items": "1",
		"pubsub#send_last_published_item": "on_sub_and_presence", "pubsub#notify_retract": "1", "pubsub#deliver_payloads": "1",
	} {
		if got := value(f, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// Set: max_items is clamped to pep.max_items_per_node, and the
	// node keeps that many.
	if res := owner(a, "set", "<configure node='"+n+"'>"+form(field("pubsub#max_items", "100"), field("pubsub#access_model", "roster"), field("pubsub#roster_groups_allowed", "friends", "family"))+"</configure>"); res.Type() != "result" {
		t.Fatalf("configure set: %s", res)
	}
	f = get()
	if value(f, "pubsub#max_items") != "5" || value(f, "pubsub#access_model") != "roster" || !slices.Equal(f.Values["pubsub#roster_groups_allowed"], []string{"family", "friends"}) {
		t.Errorf("after set: %v", f.Values)
	}
	// The groups field offers the roster's groups and the allowed ones.
	if _, err := srv.Store().PutRosterItem(context.Background(), alice, storage.RosterItem{JID: "x@example.net", Subscription: "both", Groups: []string{"work"}}); err != nil {
		t.Fatal(err)
	}
	res = owner(a, "get", "<configure node='"+n+"'/>")
	var options []string
	for _, fl := range res.Child(pubsub.NSOwner, "pubsub").Child(pubsub.NSOwner, "configure").Child(dataform.NS, "x").ChildrenNamed(dataform.NS, "field") {
		if fl.Attr("var") == "pubsub#roster_groups_allowed" {
			for _, o := range fl.ChildrenNamed(dataform.NS, "option") {
				options = append(options, o.ChildText(dataform.NS, "value"))
			}
		}
	}
	if !slices.Equal(options, []string{"family", "friends", "work"}) {
		t.Errorf("roster group options %v", options)
	}
	for i := range 7 {
		publish(a, "", n, fmt.Sprint(i), "<x xmlns='urn:test'/>", "")
	}
	if ids := itemIDs(t, items(a, alice, n, "", "")); !slices.Equal(ids, []string{"2", "3", "4", "5", "6"}) {
		t.Errorf("items kept = %v", ids)
	}
	// Lowering max_items trims.
	owner(a, "set", "<configure node='"+n+"'>"+form(field("pubsub#max_items", "2"))+"</configure>")
	if ids := itemIDs(t, items(a, alice, n, "", "")); !slices.Equal(ids, []string{"5", "6"}) {
		t.Errorf("items after lowering max_items = %v", ids)
	}
	owner(a, "set", "<configure node='"+n+"'>"+form(field("pubsub#max_items", "max"))+"</configure>")
	if v := value(get(), "pubsub#max_items"); v != "max" {
		t.Errorf("max_items max reads %q", v)
	}

	// Bad configurations change nothing.
	for _, c := range []struct{ name, form, want string }{
		{"unknown field", form(field("pubsub#collection", "x")), "not-acceptable"},
		{"bad access model", form(field("pubsub#access_model", "authorize")), "not-acceptable"},
		{"bad max_items", form(field("pubsub#max_items", "0")), "not-acceptable"},
		{"bad boolean", form(field("pubsub#persist_items", "maybe")), "not-acceptable"},
		{"bad send_last", form(field("pubsub#send_last_published_item", "always")), "not-acceptable"},
		{"no form", "", "bad-request"},
		{"form of type form", "<x xmlns='jabber:x:data' type='form'/>", "bad-request"},
	} {
		res := owner(a, "set", "<configure node='"+n+"'>"+c.form+"</configure>")
		wantError(t, c.name, res, c.want, "", "")
		if c.name == "unknown field" && !strings.Contains(res.String(), "pubsub#collection") {
			t.Errorf("unknown field error does not name it: %s", res)
		}
	}
	if v := value(get(), "pubsub#access_model"); v != "roster" {
		t.Errorf("access model changed to %q by refused forms", v)
	}
	if res := owner(a, "set", "<configure node='"+n+"'><x xmlns='jabber:x:data' type='cancel'/></configure>"); res.Type() != "result" {
		t.Errorf("cancel: %s", res)
	}
	wantError(t, "configure missing node", owner(a, "get", "<configure node='urn:nope'/>"), "item-not-found", "", "")
	if res := owner(a, "get", "<default/>"); res.Child(pubsub.NSOwner, "pubsub").Child(pubsub.NSOwner, "default").Child(dataform.NS, "x") == nil {
		t.Errorf("default: %s", res)
	}
}

func TestPublishOptions(t *testing.T) {
	srv := testutil.StartServer(t, "[pep]\nmax_items_per_node = 50\n")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	const n = "urn:xmpp:bookmarks:1"
	opts := field("pubsub#persist_items", "true") + field("pubsub#access_model", "whitelist") + field("pubsub#max_items", "max") + field("pubsub#send_last_published_item", "never")
	if res := publish(a, "", n, "room@muc.test", "<conference xmlns='urn:xmpp:bookmarks:1'/>", opts); res.Type() != "result" {
		t.Fatalf("first publish: %s", res)
	}
	res := owner(a, "get", "<configure node='"+n+"'/>")
	f := dataform.Parse(res.Child(pubsub.NSOwner, "pubsub").Child(pubsub.NSOwner, "configure").Child(dataform.NS, "x"))
	if v, _ := f.Value("pubsub#access_model"); v != "whitelist" {
		t.Errorf("node not configured by publish-options: %v", f.Values)
	}
	// Matching options (max_items as the clamped number too) publish.
	for _, o := range []string{opts, field("pubsub#max_items", "max"), field("pubsub#access_model", "whitelist")} {
		if res := publish(a, "", n, "other@muc.test", "<conference xmlns='urn:xmpp:bookmarks:1'/>", o); res.Type() != "result" {
			t.Errorf("matching options %s: %s", o, res)
		}
	}
	// A mismatch is a conflict and publishes nothing.
	for _, o := range []string{field("pubsub#access_model", "open"), field("pubsub#max_items", "1"), field("pubsub#persist_items", "false")} {
		res := publish(a, "", n, "third@muc.test", "<conference xmlns='urn:xmpp:bookmarks:1'/>", o)
		wantError(t, "mismatch "+o, res, "conflict", "precondition-not-met", "409")
	}
	wantError(t, "unknown option", publish(a, "", n, "third@muc.test", "<conference xmlns='urn:xmpp:bookmarks:1'/>", field("pubsub#unknown", "1")), "not-acceptable", "", "")
	if ids := itemIDs(t, items(a, alice, n, "", "")); !slices.Equal(ids, []string{"room@muc.test", "other@muc.test"}) {
		t.Errorf("items = %v", ids)
	}
	// Refused options on a first publish create no node.
	wantError(t, "bad first options", publish(a, "", "urn:new", "1", "<x xmlns='urn:test'/>", field("pubsub#access_model", "nobody")), "not-acceptable", "", "")
	if _, err := srv.Store().PubSubNode(context.Background(), alice, "urn:new"); err != storage.ErrNotFound && !strings.Contains(fmt.Sprint(err), "not found") {
		t.Errorf("node created by refused options: %v", err)
	}
	// Malformed publishes.
	wantError(t, "two payloads", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><publish node='%s'><item><a xmlns='x'/><b xmlns='x'/></item></publish></pubsub></iq>", pubsub.NS, n)), "bad-request", "invalid-payload", "")
	wantError(t, "no item", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><publish node='%s'/></pubsub></iq>", pubsub.NS, n)), "bad-request", "", "")
	wantError(t, "subscribe", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><subscribe node='%s' jid='%s'/></pubsub></iq>", pubsub.NS, n, alice)), "feature-not-implemented", "unsupported", "")
}

func TestAccessModels(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	dave := srv.AddUser("dave", "pw")
	ctx := context.Background()
	put := func(user, contact, sub string, groups ...string) {
		if _, err := srv.Store().PutRosterItem(ctx, user, storage.RosterItem{JID: contact, Subscription: sub, Groups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	put(alice, bob, "both", "friends")  // contact with presence, in friends
	put(alice, carol, "none", "family") // in the roster, no presence subscription
	put(alice, dave, "to")              // alice sees dave, dave does not see alice
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	clients := map[string]*testutil.Client{
		"alice": a,
		"bob":   testutil.Login(t, srv.Addr, "bob", "pw", "x"),
		"carol": testutil.Login(t, srv.Addr, "carol", "pw", "x"),
		"dave":  testutil.Login(t, srv.Addr, "dave", "pw", "x"),
	}
	for model, opts := range map[string]string{
		"presence":  "",
		"open":      field("pubsub#access_model", "open"),
		"roster":    field("pubsub#access_model", "roster") + field("pubsub#roster_groups_allowed", "friends"),
		"whitelist": field("pubsub#access_model", "whitelist"),
	} {
		if res := publish(a, "", "urn:test:"+model, "1", "<x xmlns='urn:test'/>", opts); res.Type() != "result" {
			t.Fatalf("publish %s: %s", model, res)
		}
	}
	cases := []struct {
		model, who     string
		condition, app string
	}{
		{"presence", "alice", "", ""},
		{"presence", "bob", "", ""},
		{"presence", "carol", "not-authorized", "presence-subscription-required"},
		{"presence", "dave", "not-authorized", "presence-subscription-required"},
		{"open", "bob", "", ""},
		{"open", "carol", "", ""},
		{"open", "dave", "", ""},
		{"roster", "alice", "", ""},
		{"roster", "bob", "", ""},
		{"roster", "carol", "not-authorized", "not-in-roster-group"},
		{"roster", "dave", "not-authorized", "not-in-roster-group"},
		{"whitelist", "alice", "", ""},
		{"whitelist", "bob", "forbidden", ""},
		{"whitelist", "dave", "forbidden", ""},
	}
	for _, c := range cases {
		res := items(clients[c.who], alice, "urn:test:"+c.model, "", "")
		if c.condition == "" {
			if ids := itemIDs(t, res); !slices.Equal(ids, []string{"1"}) {
				t.Errorf("%s reads %s: %v", c.who, c.model, ids)
			}
			continue
		}
		wantError(t, c.who+" reads "+c.model, res, c.condition, c.app, "")
	}

	// Service discovery lists what each may see.
	for who, want := range map[string][]string{
		"alice": {"urn:test:open", "urn:test:presence", "urn:test:roster", "urn:test:whitelist"},
		"bob":   {"urn:test:open", "urn:test:presence", "urn:test:roster"},
		"dave":  {"urn:test:open"},
	} {
		res := clients[who].IQ("<iq type='get' to='" + alice + "'><query xmlns='" + pubsub.NSDiscoItems + "'/></iq>")
		var got []string
		for _, it := range res.Child(pubsub.NSDiscoItems, "query").ChildrenNamed(pubsub.NSDiscoItems, "item") {
			if n := it.Attr("node"); n != "" {
				if it.Attr("jid") != alice {
					t.Errorf("item jid %q", it.Attr("jid"))
				}
				got = append(got, n)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s's disco#items of alice: %v, want %v", who, got, want)
		}
	}
	res := clients["bob"].IQ("<iq type='get' to='" + alice + "'><query xmlns='" + pubsub.NSDiscoInfo + "' node='urn:test:presence'/></iq>")
	if id := res.Child(pubsub.NSDiscoInfo, "query").Child(pubsub.NSDiscoInfo, "identity"); id == nil || id.Attr("type") != "leaf" {
		t.Errorf("node info: %s", res)
	}
	wantError(t, "hidden node info", clients["bob"].IQ("<iq type='get' to='"+alice+"'><query xmlns='"+pubsub.NSDiscoInfo+"' node='urn:test:whitelist'/></iq>"), "item-not-found", "", "")

	// Members of a whitelist node may read it and are notified, even
	// without being in the roster (dave's resources are local).
	affiliations := func(c *testutil.Client, typ, inner string) *stanza.Element {
		return c.IQ(fmt.Sprintf("<iq type='%s' to='%s'><pubsub xmlns='%s'><affiliations node='urn:test:whitelist'>%s</affiliations></pubsub></iq>",
			typ, alice, pubsub.NSOwner, inner))
	}
	if res := affiliations(a, "set", "<affiliation jid='"+dave+"/x' affiliation='member'/>"); res.Type() != "result" {
		t.Fatalf("set member: %s", res)
	}
	res = affiliations(a, "get", "")
	var affs []string
	for _, af := range res.Child(pubsub.NSOwner, "pubsub").Child(pubsub.NSOwner, "affiliations").ChildrenNamed(pubsub.NSOwner, "affiliation") {
		affs = append(affs, af.Attr("jid")+"="+af.Attr("affiliation"))
	}
	if !slices.Equal(affs, []string{alice + "=owner", dave + "=member"}) {
		t.Errorf("affiliations: %v", affs)
	}
	if ids := itemIDs(t, items(clients["dave"], alice, "urn:test:whitelist", "", "")); !slices.Equal(ids, []string{"1"}) {
		t.Errorf("member reads %v", ids)
	}
	wantError(t, "bob still", items(clients["bob"], alice, "urn:test:whitelist", "", ""), "forbidden", "", "")
	res = clients["dave"].IQ(fmt.Sprintf("<iq type='get' to='%s'><pubsub xmlns='%s'><affiliations/></pubsub></iq>", alice, pubsub.NS))
	if af := res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "affiliations").ChildrenNamed(pubsub.NS, "affiliation"); len(af) != 1 || af[0].Attr("node") != "urn:test:whitelist" || af[0].Attr("affiliation") != "member" {
		t.Errorf("dave's own affiliations: %s", res)
	}
	online(t, clients["dave"], "urn:test:whitelist")
	publish(a, "", "urn:test:whitelist", "2", "<x xmlns='urn:test'/>", "")
	if ev := clients["dave"].Expect(isEvent(alice, "urn:test:whitelist")); eventChild(ev).Child(pubsub.NSEvent, "item").Attr("id") != "2" {
		t.Errorf("member's notification: %s", ev)
	}
	clients["bob"].ExpectNone(isEvent(alice, "urn:test:whitelist"), quiet)
	for name, c := range map[string]struct {
		who   *testutil.Client
		inner string
		want  string
	}{
		"not the owner": {clients["bob"], "<affiliation jid='" + bob + "' affiliation='member'/>", "forbidden"},
		"owner's own":   {a, "<affiliation jid='" + alice + "' affiliation='none'/>", "not-acceptable"},
		"publisher":     {a, "<affiliation jid='" + bob + "' affiliation='publisher'/>", "not-acceptable"},
		"bad jid":       {a, "<affiliation jid='@@' affiliation='member'/>", "jid-malformed"},
	} {
		wantError(t, "affiliations: "+name, affiliations(c.who, "set", c.inner), c.want, "", "")
	}
	affiliations(a, "set", "<affiliation jid='"+dave+"' affiliation='none'/>")
	wantError(t, "removed member", items(clients["dave"], alice, "urn:test:whitelist", "", ""), "forbidden", "", "")
}

func TestDiscoInfo(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	res := a.IQ("<iq type='get'><query xmlns='" + pubsub.NSDiscoInfo + "'/></iq>")
	q := res.Child(pubsub.NSDiscoInfo, "query")
	pep := false
	for _, id := range q.ChildrenNamed(pubsub.NSDiscoInfo, "identity") {
		pep = pep || id.Attr("category") == "pubsub" && id.Attr("type") == "pep"
	}
	if !pep {
		t.Errorf("no pubsub/pep identity: %s", res)
	}
	var features []string
	for _, f := range q.ChildrenNamed(pubsub.NSDiscoInfo, "feature") {
		features = append(features, f.Attr("var"))
	}
	for _, f := range []string{"publish", "publish-options", "auto-create", "retract-items", "retrieve-items", "delete-nodes", "purge-nodes",
		"config-node", "access-presence", "access-open", "access-roster", "access-whitelist", "persistent-items", "last-published", "item-ids", "multi-items"} {
		if !slices.Contains(features, pubsub.NS+"#"+f) {
			t.Errorf("feature #%s missing", f)
		}
	}
}

func TestLimits(t *testing.T) {
	srv := testutil.StartServer(t, "[pep]\nmax_nodes = 2\nmax_item_size = 2048\n")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	for _, n := range []string{"urn:a", "urn:b"} {
		if res := publish(a, "", n, "1", "<x xmlns='urn:test'/>", ""); res.Type() != "result" {
			t.Fatalf("publish: %s", res)
		}
	}
	res := publish(a, "", "urn:c", "1", "<x xmlns='urn:test'/>", "")
	wantError(t, "third node", res, "policy-violation", "", "")
	if !strings.Contains(res.String(), "pep.max_nodes") || !strings.Contains(res.String(), "2 nodes") {
		t.Errorf("limit not named: %s", res)
	}
	wantError(t, "third node created", a.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><create node='urn:c'/></pubsub></iq>", pubsub.NS)), "policy-violation", "", "")
	// Publishing to an existing node is still fine.
	if res := publish(a, "", "urn:a", "2", "<x xmlns='urn:test'/>", ""); res.Type() != "result" {
		t.Errorf("publish to existing node: %s", res)
	}
	big := "<x xmlns='urn:test'>" + strings.Repeat("y", 2048) + "</x>"
	wantError(t, "oversized item", publish(a, "", "urn:a", "3", big, ""), "not-acceptable", "payload-too-big", "406")
	if ids := itemIDs(t, items(a, alice, "urn:a", "", "")); !slices.Equal(ids, []string{"2"}) {
		t.Errorf("items after refusal: %v", ids)
	}
}

// TestNotificationsFollowRoster: the contacts notified are those of the
// owner's roster at the time of each publish, however the roster
// changed since the last one (the service keeps the roster between
// publishes while its version stays the same).
func TestNotificationsFollowRoster(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	srv.SetSubscription(carol, alice, "both")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "laptop")
	c := testutil.Login(t, srv.Addr, "carol", "pw", "phone")
	online(t, a)
	online(t, b, node)
	online(t, c, node)
	b.Drain()
	c.Drain()

	step := func(what string, id string, notified, not []*testutil.Client) {
		t.Helper()
		if res := publish(a, "", node, id, "<entry xmlns='urn:test'/>", ""); res.Type() != "result" {
			t.Fatalf("%s: publish: %s", what, res)
		}
		for _, cl := range notified {
			ev := cl.Expect(isEvent(alice, node))
			if it := eventChild(ev).Child(pubsub.NSEvent, "item"); it == nil || it.Attr("id") != id {
				t.Errorf("%s: %s got %s", what, cl.JID, ev)
			}
		}
		for _, cl := range not {
			cl.ExpectNone(isEvent(alice, node), quiet)
		}
	}
	step("bob in the roster", "1", []*testutil.Client{b}, []*testutil.Client{c})
	step("again", "2", []*testutil.Client{b}, []*testutil.Client{c})
	// Alice approves carol's subscription in storage: the next publish
	// reaches her.
	srv.SetSubscription(alice, carol, "from")
	step("carol added", "3", []*testutil.Client{b, c}, nil)
	// Alice removes bob through the protocol.
	if res := a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' subscription='remove'/></query></iq>"); res.Type() != "result" {
		t.Fatalf("roster remove: %s", res)
	}
	b.Drain()
	step("bob removed", "4", []*testutil.Client{c}, []*testutil.Client{b})
}
