package bookmarkconv_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/entitycaps"
	"parley/internal/testutil"
	"parley/modules/bookmarkconv"
	"parley/modules/pep"
	"parley/pubsub"
	"parley/stanza"
)

const quiet = 300 * time.Millisecond

// online sends c's available presence with capabilities asking for the
// notifications of nodes, and answers the server's disco#info query.
func online(t *testing.T, c *testutil.Client, notify ...string) {
	t.Helper()
	q := stanza.New(entitycaps.NSDiscInfo, "query")
	q.Append(stanza.New(entitycaps.NSDiscInfo, "identity", "category", "client", "type", "pc", "name", "test"))
	q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", "urn:test:client:"+c.JID))
	for _, n := range notify {
		q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", n+"+notify"))
	}
	ver, err := entitycaps.Ver(q)
	if err != nil {
		t.Fatal(err)
	}
	c.Sendf("<presence><c xmlns='%s' hash='sha-1' node='urn:test' ver='%s'/></presence>", entitycaps.NS, ver)
	get := c.Expect(func(el *stanza.Element) bool {
		return el.Local == "iq" && el.Type() == "get" && el.Child(entitycaps.NSDiscInfo, "query") != nil
	})
	c.Sendf("<iq type='result' id='%s' to='%s'>%s</iq>", get.ID(), get.From(), q.Copy().SetAttr("node", "urn:test#"+ver))
	if res := c.IQ("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>"); res.Type() != "result" {
		t.Fatalf("ping: %s", res)
	}
}

// setPrivate stores bookmarks (the children of a <storage/>) in c's
// private storage.
func setPrivate(t *testing.T, c *testutil.Client, inner string) {
	t.Helper()
	res := c.IQ("<iq type='set'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>" + inner + "</storage></query></iq>")
	if res.Type() != "result" {
		t.Fatalf("private set: %s", res)
	}
}

// getPrivate returns the <storage/> of c's private storage, serialized.
func getPrivate(t *testing.T, c *testutil.Client) string {
	t.Helper()
	res := c.IQ("<iq type='get'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
	s := res.Child("jabber:iq:private", "query")
	if res.Type() != "result" || s == nil || s.Child(bookmarkconv.NSLegacy, "storage") == nil {
		t.Fatalf("private get: %s", res)
	}
	return s.Child(bookmarkconv.NSLegacy, "storage").String()
}

// storage renders a <storage/> as the server writes it.
func storage(inner string) string {
	el, err := stanza.Parse("<storage xmlns='storage:bookmarks'>" + inner + "</storage>")
	if err != nil {
		panic(err)
	}
	return el.String()
}

// items returns the items of c's own node as "id payload" lines, or the
// error condition.
func items(t *testing.T, c *testutil.Client, node string) []string {
	t.Helper()
	res := c.IQ(fmt.Sprintf("<iq type='get'><pubsub xmlns='%s'><items node='%s'/></pubsub></iq>", pubsub.NS, node))
	if res.Type() != "result" {
		return []string{testutil.ErrorCondition(res)}
	}
	out := []string{}
	for _, it := range res.Child(pubsub.NS, "pubsub").Child(pubsub.NS, "items").ChildrenNamed(pubsub.NS, "item") {
		line := it.Attr("id")
		if p := it.FirstElement(); p != nil {
			line += " " + p.String()
		}
		out = append(out, line)
	}
	return out
}

func publish(c *testutil.Client, node, id, payload, options string) *stanza.Element {
	if options != "" {
		options = "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" +
			pubsub.FormPublishOptions + "</value></field>" + options + "</x></publish-options>"
	}
	return c.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><publish node='%s'><item id='%s'>%s</item></publish>%s</pubsub></iq>",
		pubsub.NS, node, id, payload, options))
}

func retract(c *testutil.Client, node, id string) *stanza.Element {
	return c.IQ(fmt.Sprintf("<iq type='set'><pubsub xmlns='%s'><retract node='%s' notify='true'><item id='%s'/></retract></pubsub></iq>",
		pubsub.NS, node, id))
}

// native renders a XEP-0402 conference as the server writes it.
func native(inner string) string {
	el, err := stanza.Parse(inner)
	if err != nil {
		panic(err)
	}
	return el.String()
}

// isEvent matches a notification of node; kind is "item" or "retract".
func isEvent(node, kind, id string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		ev := el.Child(pubsub.NSEvent, "event")
		if el.Local != "message" || ev == nil {
			return false
		}
		its := ev.Child(pubsub.NSEvent, "items")
		if its == nil || its.Attr("node") != node {
			return false
		}
		c := its.Child(pubsub.NSEvent, kind)
		return c != nil && (id == "" || c.Attr("id") == id)
	}
}

// recorder records the service's events, to check what the bridge
// published.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) observe(_ context.Context, ev pubsub.Event) {
	s := ev.Node + " " + ev.Item.ID
	if ev.Retracted {
		s += " retracted"
	}
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

// take returns the events recorded since the last take, sorted.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	slices.Sort(out)
	return out
}

func TestPrivateToPEP(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	alice := "alice@" + srv.Domain
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	rec := &recorder{}
	srv.Module(pep.Name).(*pubsub.Service).Observe(rec.observe)
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	online(t, a, bookmarkconv.NodeNative, bookmarkconv.NodeLegacy)

	// A legacy client stores two rooms and a URL in private storage.
	tea := "<conference jid='tea@muc.example' name='Tea' autojoin='1'><nick>al</nick><password>s3cret</password>" +
		"<state xmlns='urn:example:client' minimized='true'/></conference>"
	setPrivate(t, a, tea+"<url name='Home' url='https://example.org/'/><conference jid='work@muc.example'/>")
	wantTea := "tea@muc.example " + native("<conference xmlns='urn:xmpp:bookmarks:1' name='Tea' autojoin='true'><nick>al</nick>"+
		"<password>s3cret</password><extensions><state xmlns='urn:example:client' minimized='true'/></extensions></conference>")
	wantWork := "work@muc.example " + native("<conference xmlns='urn:xmpp:bookmarks:1'/>")
	if got := items(t, a, bookmarkconv.NodeNative); !slices.Equal(got, []string{wantTea, wantWork}) {
		t.Fatalf("XEP-0402 items:\n%s\nwant\n%s\n%s", strings.Join(got, "\n"), wantTea, wantWork)
	}
	a.Expect(isEvent(bookmarkconv.NodeNative, "item", "tea@muc.example"))
	a.Expect(isEvent(bookmarkconv.NodeNative, "item", "work@muc.example"))
	a.Expect(isEvent(bookmarkconv.NodeLegacy, "item", "current")) // XEP-0411 §3: the legacy node notifies
	// The node is alice's only, and keeps every room.
	res := b.IQ(fmt.Sprintf("<iq type='get' to='%s'><pubsub xmlns='%s'><items node='%s'/></pubsub></iq>", alice, pubsub.NS, bookmarkconv.NodeNative))
	if testutil.ErrorCondition(res) == "" {
		t.Errorf("bob read alice's bookmarks: %s", res)
	}
	cfg := a.IQ(fmt.Sprintf("<iq type='get'><pubsub xmlns='%s'><configure node='%s'/></pubsub></iq>", pubsub.NSOwner, bookmarkconv.NodeNative))
	for _, want := range []string{"<value>whitelist</value>", "<value>max</value>"} {
		if !strings.Contains(cfg.String(), want) {
			t.Errorf("node configuration lacks %s: %s", want, cfg)
		}
	}
	// The bridge's own publishes did not come back to private storage.
	wantPrivate := storage("<conference jid='tea@muc.example' name='Tea' autojoin='true'><nick>al</nick><password>s3cret</password>" +
		"<state xmlns='urn:example:client' minimized='true'/></conference><conference jid='work@muc.example'/>" +
		"<url name='Home' url='https://example.org/'/>")
	if got := getPrivate(t, a); got != wantPrivate {
		t.Errorf("private storage:\n%s\nwant\n%s", got, wantPrivate)
	}
	if got := items(t, a, bookmarkconv.NodeLegacy); len(got) != 1 || got[0] != "current "+wantPrivate {
		t.Errorf("XEP-0048 node: %v", got)
	}
	if got, want := rec.take(), []string{"storage:bookmarks current", "urn:xmpp:bookmarks:1 tea@muc.example", "urn:xmpp:bookmarks:1 work@muc.example"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}

	// Storing it again changes nothing; renaming one room and dropping
	// the other publishes one and retracts the other.
	setPrivate(t, a, tea+"<url name='Home' url='https://example.org/'/><conference jid='work@muc.example'/>")
	if got := rec.take(); len(got) != 0 {
		t.Errorf("unchanged bookmarks published: %v", got)
	}
	a.ExpectNone(isEvent(bookmarkconv.NodeNative, "item", ""), quiet)
	setPrivate(t, a, strings.Replace(tea, "'Tea'", "'Tea time'", 1))
	a.Expect(isEvent(bookmarkconv.NodeNative, "item", "tea@muc.example"))
	a.Expect(isEvent(bookmarkconv.NodeNative, "retract", "work@muc.example"))
	if got, want := rec.take(), []string{"storage:bookmarks current", "urn:xmpp:bookmarks:1 tea@muc.example", "urn:xmpp:bookmarks:1 work@muc.example retracted"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 1 || !strings.Contains(got[0], "name='Tea time'") {
		t.Errorf("XEP-0402 items after the change: %v", got)
	}
	// Something else in the namespace is no list: the node stays.
	if res := a.IQ("<iq type='set'><query xmlns='jabber:iq:private'><other xmlns='storage:bookmarks'/></query></iq>"); res.Type() != "result" {
		t.Fatalf("private set: %s", res)
	}
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 1 {
		t.Errorf("XEP-0402 items after storing no list: %v", got)
	}
	// An empty list empties the node.
	setPrivate(t, a, "")
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 0 {
		t.Errorf("XEP-0402 items after clearing: %v", got)
	}
}

func TestPEPToPrivate(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	rec := &recorder{}
	srv.Module(pep.Name).(*pubsub.Service).Observe(rec.observe)
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	opts := "<field var='pubsub#access_model'><value>whitelist</value></field><field var='pubsub#max_items'><value>max</value></field>"

	setPrivate(t, a, "<url name='Home' url='https://example.org/'/>")
	rec.take()
	// A XEP-0402 client adds two rooms, changes one, and removes the other.
	conf := "<conference xmlns='urn:xmpp:bookmarks:1' name='Tea' autojoin='true'><nick>al</nick><password>pw</password>" +
		"<extensions><state xmlns='urn:example:client'/></extensions></conference>"
	for _, p := range []struct{ id, payload string }{
		{"tea@muc.example", conf},
		{"work@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1' name='Work'/>"},
	} {
		if res := publish(a, bookmarkconv.NodeNative, p.id, p.payload, opts); res.Type() != "result" {
			t.Fatalf("publish: %s", res)
		}
	}
	want := storage("<conference jid='tea@muc.example' name='Tea' autojoin='true'><nick>al</nick><password>pw</password><state xmlns='urn:example:client'/></conference>" +
		"<conference jid='work@muc.example' name='Work'/><url name='Home' url='https://example.org/'/>")
	if got := getPrivate(t, a); got != want {
		t.Errorf("private storage:\n%s\nwant\n%s", got, want)
	}
	// The client's publishes, the XEP-0048 node the private set made:
	// nothing bounced back to the XEP-0402 node.
	if got, want := rec.take(), []string{"storage:bookmarks current", "storage:bookmarks current", "urn:xmpp:bookmarks:1 tea@muc.example", "urn:xmpp:bookmarks:1 work@muc.example"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := items(t, a, bookmarkconv.NodeLegacy); len(got) != 1 || got[0] != "current "+want {
		t.Errorf("XEP-0048 node: %v", got)
	}
	if res := retract(a, bookmarkconv.NodeNative, "work@muc.example"); res.Type() != "result" {
		t.Fatalf("retract: %s", res)
	}
	want = storage("<conference jid='tea@muc.example' name='Tea' autojoin='true'><nick>al</nick><password>pw</password><state xmlns='urn:example:client'/></conference>" +
		"<url name='Home' url='https://example.org/'/>")
	if got := getPrivate(t, a); got != want {
		t.Errorf("private storage after the retraction:\n%s\nwant\n%s", got, want)
	}

	// A XEP-0048 client publishing its list to PEP replaces the rooms.
	legacy := "<storage xmlns='storage:bookmarks'><conference jid='old@muc.example' autojoin='true' name='Old'><nick>al</nick></conference>" +
		"<url name='Home' url='https://example.org/'/></storage>"
	if res := publish(a, bookmarkconv.NodeLegacy, "current", legacy, "<field var='pubsub#access_model'><value>whitelist</value></field>"); res.Type() != "result" {
		t.Fatalf("legacy publish: %s", res)
	}
	if got, want := items(t, a, bookmarkconv.NodeNative), []string{"old@muc.example " + native("<conference xmlns='urn:xmpp:bookmarks:1' name='Old' autojoin='true'><nick>al</nick></conference>")}; !slices.Equal(got, want) {
		t.Errorf("XEP-0402 items after the XEP-0048 publish: %v, want %v", got, want)
	}
	want = storage("<conference jid='old@muc.example' name='Old' autojoin='true'><nick>al</nick></conference><url name='Home' url='https://example.org/'/>")
	if got := getPrivate(t, a); got != want {
		t.Errorf("private storage after the XEP-0048 publish:\n%s\nwant\n%s", got, want)
	}
	// Retracting the XEP-0048 list leaves no bookmarks.
	if res := retract(a, bookmarkconv.NodeLegacy, "current"); res.Type() != "result" {
		t.Fatalf("legacy retract: %s", res)
	}
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 0 {
		t.Errorf("XEP-0402 items after the XEP-0048 retraction: %v", got)
	}
	want = storage("")
	if got := getPrivate(t, a); got != want {
		t.Errorf("private storage after the XEP-0048 retraction:\n%s\nwant\n%s", got, want)
	}
}

// TestLegacyNodeCreated: a client that publishes the XEP-0048 node that
// did not exist adds its rooms to the XEP-0402 ones instead of removing
// those it never saw.
func TestLegacyNodeCreated(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	if res := publish(a, bookmarkconv.NodeNative, "tea@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1' name='Tea'/>",
		"<field var='pubsub#access_model'><value>whitelist</value></field><field var='pubsub#max_items'><value>max</value></field>"); res.Type() != "result" {
		t.Fatalf("publish: %s", res)
	}
	if got := items(t, a, bookmarkconv.NodeLegacy); len(got) != 1 || got[0] != "item-not-found" {
		t.Fatalf("XEP-0048 node of a XEP-0402 user: %v", got)
	}
	legacy := "<storage xmlns='storage:bookmarks'><conference jid='old@muc.example' name='Old'/></storage>"
	if res := publish(a, bookmarkconv.NodeLegacy, "current", legacy, "<field var='pubsub#access_model'><value>whitelist</value></field>"); res.Type() != "result" {
		t.Fatalf("legacy publish: %s", res)
	}
	want := storage("<conference jid='tea@muc.example' name='Tea'/><conference jid='old@muc.example' name='Old'/>")
	if got := getPrivate(t, a); got != want {
		t.Errorf("private storage:\n%s\nwant\n%s", got, want)
	}
	if got := items(t, a, bookmarkconv.NodeLegacy); len(got) != 1 || got[0] != "current "+want {
		t.Errorf("XEP-0048 node: %v, want the merged list", got)
	}
}

// TestSharedNodeLeftAlone: a XEP-0402 node a client made readable by
// contacts is not written to.
func TestSharedNodeLeftAlone(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	if res := publish(a, bookmarkconv.NodeNative, "tea@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1'/>", "<field var='pubsub#access_model'><value>presence</value></field>"); res.Type() != "result" {
		t.Fatalf("publish: %s", res)
	}
	setPrivate(t, a, "<conference jid='secret@muc.example'/>")
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 1 || !strings.HasPrefix(got[0], "tea@muc.example") {
		t.Errorf("shared node changed: %v", got)
	}
	if got, want := getPrivate(t, a), storage("<conference jid='secret@muc.example'/>"); got != want {
		t.Errorf("private storage %s, want %s", got, want)
	}
	srv.WaitLog(5*time.Second, "bookmarks from private storage not converted")
}

func TestDiscoFeatures(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	res := a.IQ("<iq type='get' to='" + alice + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	for _, f := range []string{bookmarkconv.FeatureConversion, bookmarkconv.FeatureCompat, bookmarkconv.FeatureCompatPEP} {
		if !strings.Contains(res.String(), "var='"+f+"'") {
			t.Errorf("account disco#info lacks %s: %s", f, res)
		}
	}
}

// TestStoredBeforehand: bookmarks in private storage from before the
// bridge existed are converted when the account comes online.
func TestStoredBeforehand(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	ctx := context.Background()
	doc := "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='tea@muc.example' name='Tea'/></storage></query>"
	for _, u := range []string{alice, bob} {
		if err := srv.Store().PutDocument(ctx, u, "private", "storage:bookmarks", []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	// Bob already has a XEP-0402 node: it is left as it is.
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	if res := publish(b, bookmarkconv.NodeNative, "work@muc.example", "<conference xmlns='urn:xmpp:bookmarks:1'/>",
		"<field var='pubsub#access_model'><value>whitelist</value></field><field var='pubsub#max_items'><value>max</value></field>"); res.Type() != "result" {
		t.Fatalf("publish: %s", res)
	}
	b.Close()
	if err := srv.Store().PutDocument(ctx, bob, "private", "storage:bookmarks", []byte(doc)); err != nil {
		t.Fatal(err)
	}

	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	if got := items(t, a, bookmarkconv.NodeNative); len(got) != 1 || got[0] != "item-not-found" {
		t.Fatalf("converted before the account came online: %v", got)
	}
	a.Send("<presence/>")
	want := []string{"tea@muc.example " + native("<conference xmlns='urn:xmpp:bookmarks:1' name='Tea'/>")}
	if got := items(t, a, bookmarkconv.NodeNative); !slices.Equal(got, want) {
		t.Errorf("XEP-0402 items once online: %v, want %v", got, want)
	}
	b = testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Send("<presence/>")
	if got := items(t, b, bookmarkconv.NodeNative); len(got) != 1 || !strings.HasPrefix(got[0], "work@muc.example ") {
		t.Errorf("existing XEP-0402 node changed: %v", got)
	}
}
