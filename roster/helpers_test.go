package roster_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/roster"
	"parley/stanza"
)

// quiet is how long tests wait to be sure something does not arrive.
const quiet = 300 * time.Millisecond

func bareOf(local string) string { return local + "@" + testutil.Domain }

// login connects local (created first if needed) with resource.
func login(t *testing.T, srv *testutil.Server, local, resource string) *testutil.Client {
	t.Helper()
	if ok, _ := srv.Store().AccountExists(context.Background(), bareOf(local)); !ok {
		srv.AddUser(local, "pw")
	}
	return testutil.Login(t, srv.Addr, local, "pw", resource)
}

// online logs in, requests the roster (so the resource gets pushes) and
// sends initial presence, waiting for the server's echo of it.
func online(t *testing.T, srv *testutil.Server, local, resource string) *testutil.Client {
	t.Helper()
	c := login(t, srv, local, resource)
	getRoster(t, c)
	sendPresence(c, "<presence/>")
	return c
}

// sendPresence sends broadcast presence and waits for its echo to the
// sending resource, so the server has processed it.
func sendPresence(c *testutil.Client, raw string) *stanza.Element {
	c.T.Helper()
	c.Send(raw)
	return c.Expect(func(el *stanza.Element) bool {
		return el.Local == "presence" && el.From() == c.JID && el.To() == c.JID
	})
}

// getRoster sends a roster get without a version.
func getRoster(t *testing.T, c *testutil.Client) *stanza.Element {
	t.Helper()
	return rosterGet(t, c, "<query xmlns='jabber:iq:roster'/>")
}

// getRosterVer sends a roster get with the ver attribute set to ver.
func getRosterVer(t *testing.T, c *testutil.Client, ver string) *stanza.Element {
	t.Helper()
	return rosterGet(t, c, "<query xmlns='jabber:iq:roster' ver='"+ver+"'/>")
}

func rosterGet(t *testing.T, c *testutil.Client, query string) *stanza.Element {
	t.Helper()
	res := c.IQ("<iq type='get'>" + query + "</iq>")
	if res.Type() != "result" {
		t.Fatalf("roster get: %s", res)
	}
	return res
}

// rosterItems returns the items of a roster result by JID.
func rosterItems(t testing.TB, res *stanza.Element) map[string]*stanza.Element {
	t.Helper()
	q := res.Child(roster.NS, "query")
	if q == nil {
		t.Fatalf("roster result without query: %s", res)
	}
	out := make(map[string]*stanza.Element)
	for _, it := range q.ChildrenNamed(roster.NS, "item") {
		out[it.Attr("jid")] = it
	}
	return out
}

// isPresence matches presence of a type ("" for available) from an
// address.
func isPresence(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "presence" && el.From() == from && el.Type() == typ
	}
}

// isPush matches a roster push for contact with the given subscription.
func isPush(contact, subscription string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		it := pushItem(el)
		return it != nil && it.Attr("jid") == contact && it.Attr("subscription") == subscription
	}
}

// pushItem returns the item of a roster push, or nil if el is none.
func pushItem(el *stanza.Element) *stanza.Element {
	if el.Local != "iq" || el.Type() != "set" {
		return nil
	}
	q := el.Child(roster.NS, "query")
	if q == nil {
		return nil
	}
	return q.Child(roster.NS, "item")
}

// pushVer returns the roster version of a push or result.
func pushVer(t testing.TB, el *stanza.Element) int64 {
	t.Helper()
	v, err := strconv.ParseInt(el.Child(roster.NS, "query").Attr("ver"), 10, 64)
	if err != nil {
		t.Fatalf("bad ver in %s", el)
	}
	return v
}

// groups returns the group names of an item.
func groups(it *stanza.Element) []string {
	var out []string
	for _, g := range it.ChildrenNamed(roster.NS, "group") {
		out = append(out, g.Text())
	}
	return out
}

// putItem writes a roster item directly, to set up subscription states.
func putItem(t *testing.T, srv *testutil.Server, user, contact, subscription string) {
	t.Helper()
	srv.SetSubscription(bareOf(user), bareOf(contact), subscription)
}

// mutual makes a and b subscribed to each other's presence.
func mutual(t *testing.T, srv *testutil.Server, a, b string) {
	t.Helper()
	for _, u := range []string{a, b} {
		if ok, _ := srv.Store().AccountExists(context.Background(), bareOf(u)); !ok {
			srv.AddUser(u, "pw")
		}
	}
	putItem(t, srv, a, b, "both")
	putItem(t, srv, b, a, "both")
}
