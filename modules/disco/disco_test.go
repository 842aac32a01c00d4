package disco_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/modules/disco"
	"parley/router"
	"parley/stanza"
	"parley/storage/sqlite"
)

func TestDisco(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	dave := srv.AddUser("dave", "pw")
	srv.SetSubscription(bob, alice, "from")  // alice may see bob's presence
	srv.SetSubscription(carol, alice, "to")  // but not carol's
	srv.SetSubscription(dave, alice, "both") // and dave's
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")

	serverFeatures := []string{
		disco.NSInfo, disco.NSItems, "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time",
		"jabber:iq:last", "msgoffline", "vcard-temp", "jabber:iq:private",
	}
	accountFeatures := []string{disco.NSInfo, disco.NSItems, "urn:xmpp:ping", "jabber:iq:last"}
	info := func(to, attrs string) string {
		return "<iq type='get' to='" + to + "'><query xmlns='" + disco.NSInfo + "'" + attrs + "/></iq>"
	}
	items := func(to, attrs string) string {
		return "<iq type='get' to='" + to + "'><query xmlns='" + disco.NSItems + "'" + attrs + "/></iq>"
	}
	cases := []struct {
		name, iq string
		want     string // error condition, "" for a result
		identity string // category/type expected in a disco#info result
		features []string
		noItems  bool
	}{
		{name: "server info", iq: info(srv.Domain, ""), identity: "server/im", features: serverFeatures},
		{name: "server info unknown node", iq: info(srv.Domain, " node='x'"), want: "item-not-found"},
		{name: "server info set", iq: "<iq type='set' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "'/></iq>", want: "bad-request"},
		{name: "server items", iq: items(srv.Domain, ""), noItems: true},
		{name: "server items unknown node", iq: items(srv.Domain, " node='x'"), want: "item-not-found"},
		{name: "own account info", iq: info(alice, ""), identity: "account/registered", features: accountFeatures},
		{name: "own account info without to", iq: "<iq type='get'><query xmlns='" + disco.NSInfo + "'/></iq>", identity: "account/registered", features: accountFeatures},
		{name: "own account unknown node", iq: info(alice, " node='x'"), want: "item-not-found"},
		{name: "subscribed contact info (from)", iq: info(bob, ""), identity: "account/registered", features: accountFeatures},
		{name: "subscribed contact info (both)", iq: info(dave, ""), identity: "account/registered", features: accountFeatures},
		{name: "unsubscribed contact info", iq: info(carol, ""), want: "service-unavailable"},
		{name: "unsubscribed contact info with node", iq: info(carol, " node='x'"), want: "service-unavailable"},
		{name: "missing account info", iq: info("nobody@"+srv.Domain, ""), want: "service-unavailable"},
		{name: "unsubscribed contact items", iq: items(carol, ""), noItems: true},
		{name: "subscribed contact items, none available", iq: items(bob, ""), noItems: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.IQ(c.iq)
			if c.want != "" {
				if cond := testutil.ErrorCondition(got); cond != c.want {
					t.Fatalf("got %s, want %s", got, c.want)
				}
				return
			}
			if got.Type() != "result" {
				t.Fatalf("got %s", got)
			}
			if c.noItems {
				q := got.Child(disco.NSItems, "query")
				if q == nil || len(q.Elements()) != 0 {
					t.Fatalf("want an empty item list, got %s", got)
				}
				return
			}
			checkInfo(t, got, c.identity, c.features)
		})
	}
}

func checkInfo(t *testing.T, got *stanza.Element, identity string, features []string) {
	t.Helper()
	q := got.Child(disco.NSInfo, "query")
	if q == nil {
		t.Fatalf("no disco#info query in %s", got)
	}
	ids := q.ChildrenNamed(disco.NSInfo, "identity")
	if len(ids) == 0 || ids[0].Attr("category")+"/"+ids[0].Attr("type") != identity {
		t.Fatalf("identity: want %s first in %s", identity, got)
	}
	var have []string
	for _, f := range q.ChildrenNamed(disco.NSInfo, "feature") {
		have = append(have, f.Attr("var"))
	}
	if !slices.IsSorted(have) || len(slices.Compact(slices.Clone(have))) != len(have) {
		t.Errorf("features not sorted and unique: %v", have)
	}
	for _, f := range features {
		if !slices.Contains(have, f) {
			t.Errorf("feature %s missing from %v", f, have)
		}
	}
	if identity == "account/registered" && slices.Contains(have, "jabber:iq:version") {
		t.Errorf("server-only feature advertised for an account: %v", have)
	}
}

// TestAddedItemsAndResources drives a router directly: items and
// identities added by other modules, and an account's available resources.
func TestAddedItemsAndResources(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := router.New([]string{"example.test"}, store, zerolog.Nop())
	disco.Register(r, store)
	r.AddItem(router.Item{JID: "muc.example.test", Name: "Chatrooms"})
	r.AddItem(router.Item{JID: "upload.example.test"})
	r.AddIdentity(router.TargetAccount, router.Identity{Category: "pubsub", Type: "pep"})

	var sess, other testutil.RecordingSession
	res := r.Bind(ctx, jid.MustParse("alice@example.test/desk"), &sess)
	r.Bind(ctx, jid.MustParse("alice@example.test/idle"), &other) // bound, never available
	res.SetPresence(stanza.New("", "presence"))
	ask := func(raw string) *stanza.Element {
		t.Helper()
		el, err := stanza.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		el.SetAttr("from", res.JID.String())
		r.Route(ctx, res, el)
		sent := sess.Sent()
		if len(sent) != 1 {
			t.Fatalf("want one response, got %v", sent)
		}
		return sent[0]
	}

	got := ask("<iq type='get' id='1' to='example.test'><query xmlns='" + disco.NSItems + "'/></iq>")
	var listed []string
	for _, it := range got.Child(disco.NSItems, "query").ChildrenNamed(disco.NSItems, "item") {
		listed = append(listed, it.Attr("jid")+"|"+it.Attr("name")+"|"+strconv.FormatBool(it.HasAttr("name")))
	}
	if want := []string{"muc.example.test|Chatrooms|true", "upload.example.test||false"}; !slices.Equal(listed, want) {
		t.Errorf("server items %v, want %v", listed, want)
	}

	got = ask("<iq type='get' id='2'><query xmlns='" + disco.NSInfo + "'/></iq>")
	var ids []string
	for _, id := range got.Child(disco.NSInfo, "query").ChildrenNamed(disco.NSInfo, "identity") {
		ids = append(ids, id.Attr("category")+"/"+id.Attr("type"))
	}
	if want := []string{"account/registered", "pubsub/pep"}; !slices.Equal(ids, want) {
		t.Errorf("account identities %v, want %v", ids, want)
	}

	got = ask("<iq type='get' id='3'><query xmlns='" + disco.NSItems + "'/></iq>")
	listed = nil
	for _, it := range got.Child(disco.NSItems, "query").ChildrenNamed(disco.NSItems, "item") {
		listed = append(listed, it.Attr("jid"))
	}
	if want := []string{"alice@example.test/desk"}; !slices.Equal(listed, want) {
		t.Errorf("account items %v, want only the available resource %v", listed, want)
	}
}

func TestAccountItemsE2E(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	testutil.Login(t, srv.Addr, "alice", "pw", "idle") // never sends presence
	a.Send("<presence/>")
	a.Expect(testutil.IsFrom("presence", a.JID))
	got := a.IQ("<iq type='get' to='" + alice + "'><query xmlns='" + disco.NSItems + "'/></iq>")
	var listed []string
	for _, it := range got.Child(disco.NSItems, "query").ChildrenNamed(disco.NSItems, "item") {
		listed = append(listed, it.Attr("jid"))
	}
	if !slices.Equal(listed, []string{a.JID}) {
		t.Fatalf("items %v, want only the available %s: %s", listed, a.JID, got)
	}
}
