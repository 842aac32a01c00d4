package roster_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// TestRosterSetPushes adds, updates and removes an item and checks the
// result, the pushes to every interested resource (including the one that
// made the change) and nothing to a resource that never asked for the
// roster.
func TestRosterSetPushes(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a1 := login(t, srv, "alice", "one")
	a2 := login(t, srv, "alice", "two")
	a3 := login(t, srv, "alice", "three") // never requests the roster
	getRoster(t, a1)
	getRoster(t, a2)
	bob := bareOf("bob")

	var last int64
	expectPush := func(c *testutil.Client, sub, name string, wantGroups []string) {
		t.Helper()
		push := c.Expect(isPush(bob, sub))
		if push.To() != c.JID || push.From() != "" || push.ID() == "" {
			t.Errorf("push addressing: %s", push)
		}
		it := pushItem(push)
		if it.Attr("name") != name || !slices.Equal(groups(it), wantGroups) {
			t.Errorf("pushed item %s, want name %q groups %q", it, name, wantGroups)
		}
		if v := pushVer(t, push); v <= last {
			t.Errorf("push ver %d not above %d", v, last)
		}
	}

	res := a1.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' name='Bob'><group>Work</group><group>Friends</group></item></query></iq>")
	if res.Type() != "result" || res.FirstElement() != nil {
		t.Fatalf("roster set result: %s", res)
	}
	expectPush(a1, "none", "Bob", []string{"Friends", "Work"})
	expectPush(a2, "none", "Bob", []string{"Friends", "Work"})
	last = pushVer(t, getRoster(t, a2))

	res = a2.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' name='Robert'><group>Family</group></item></query></iq>")
	if res.Type() != "result" {
		t.Fatalf("roster update: %s", res)
	}
	expectPush(a1, "none", "Robert", []string{"Family"})
	expectPush(a2, "none", "Robert", []string{"Family"})
	a3.ExpectNone(func(el *stanza.Element) bool { return pushItem(el) != nil }, quiet)

	items := rosterItems(t, getRoster(t, a3))
	it := items[bob]
	if len(items) != 1 || it == nil || it.Attr("name") != "Robert" || it.Attr("subscription") != "none" || it.HasAttr("ask") || !slices.Equal(groups(it), []string{"Family"}) {
		t.Fatalf("roster after update: %v", items)
	}

	res = a3.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' subscription='remove'/></query></iq>")
	if res.Type() != "result" {
		t.Fatalf("roster remove: %s", res)
	}
	for _, c := range []*testutil.Client{a1, a2, a3} {
		c.Expect(isPush(bob, "remove"))
	}
	if items := rosterItems(t, getRoster(t, a1)); len(items) != 0 {
		t.Fatalf("roster after remove: %v", items)
	}
}

// TestRosterVersioning checks XEP-0237: every result and push carries the
// version, and a get with the current version returns an empty result.
func TestRosterVersioning(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := login(t, srv, "alice", "r")

	res := getRosterVer(t, a, "")
	v0 := res.Child("jabber:iq:roster", "query").Attr("ver")
	if v0 == "" || len(rosterItems(t, res)) != 0 {
		t.Fatalf("bootstrap roster: %s", res)
	}
	if res := getRosterVer(t, a, v0); res.FirstElement() != nil {
		t.Fatalf("get with current ver %s: want empty result, got %s", v0, res)
	}

	a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bareOf("bob") + "'/></query></iq>")
	push := a.Expect(isPush(bareOf("bob"), "none"))
	v1 := strconv.FormatInt(pushVer(t, push), 10)
	if v1 == v0 {
		t.Fatalf("version unchanged by a set: %s", v1)
	}

	tests := []struct {
		name      string
		ver       string // "-" sends no ver attribute
		wantItems int    // -1: empty result
	}{
		{"stale version", v0, 1},
		{"current version", v1, -1},
		{"unknown version", "999999", 1},
		{"no version", "-", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res *stanza.Element
			if tt.ver == "-" {
				res = getRoster(t, a)
			} else {
				res = getRosterVer(t, a, tt.ver)
			}
			if tt.wantItems < 0 {
				if res.FirstElement() != nil {
					t.Fatalf("want empty result, got %s", res)
				}
				return
			}
			if got := res.Child("jabber:iq:roster", "query").Attr("ver"); got != v1 {
				t.Errorf("ver = %q, want %q", got, v1)
			}
			if n := len(rosterItems(t, res)); n != tt.wantItems {
				t.Errorf("%d items, want %d", n, tt.wantItems)
			}
		})
	}
}

// TestRosterForbidden checks that only the account itself may use its
// roster.
func TestRosterForbidden(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := login(t, srv, "alice", "r")
	b := login(t, srv, "bob", "r")
	alice := bareOf("alice")
	tests := []struct{ name, iq string }{
		{"get", "<iq type='get' to='" + alice + "'><query xmlns='jabber:iq:roster'/></iq>"},
		{"set", "<iq type='set' to='" + alice + "'><query xmlns='jabber:iq:roster'><item jid='" + bareOf("mallory") + "'/></query></iq>"},
		{"remove", "<iq type='set' to='" + alice + "'><query xmlns='jabber:iq:roster'><item jid='" + bareOf("bob") + "' subscription='remove'/></query></iq>"},
	}
	putItem(t, srv, "alice", "bob", "none")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.IQ(tt.iq)
			if c := testutil.ErrorCondition(res); c != "forbidden" {
				t.Fatalf("got %s, want forbidden", res)
			}
		})
	}
	items := rosterItems(t, getRoster(t, a))
	if len(items) != 1 || items[bareOf("bob")] == nil {
		t.Fatalf("alice's roster changed: %v", items)
	}
}

// TestRosterSetInvalid checks the error cases of RFC 6121 §2.3.3 and
// §2.5.3, and that a refused set changes nothing.
func TestRosterSetInvalid(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := login(t, srv, "alice", "r")
	getRoster(t, a)
	bob := bareOf("bob")
	long := strings.Repeat("x", 1025)
	tests := []struct{ name, query, want string }{
		{"two items", "<item jid='" + bob + "'/><item jid='" + bareOf("carol") + "'/>", "bad-request"},
		{"no item", "", "bad-request"},
		{"duplicate group", "<item jid='" + bob + "'><group>A</group><group>A</group></item>", "bad-request"},
		{"empty group", "<item jid='" + bob + "'><group></group></item>", "not-acceptable"},
		{"group too long", "<item jid='" + bob + "'><group>" + long + "</group></item>", "not-acceptable"},
		{"name too long", "<item jid='" + bob + "' name='" + long + "'/>", "not-acceptable"},
		{"missing jid", "<item name='Bob'/>", "bad-request"},
		{"invalid jid", "<item jid='@" + testutil.Domain + "'/>", "bad-request"},
		{"full jid", "<item jid='" + bob + "/phone'/>", "bad-request"},
		{"own jid", "<item jid='" + bareOf("alice") + "'/>", "not-allowed"},
		{"remove absent item", "<item jid='" + bob + "' subscription='remove'/>", "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'>" + tt.query + "</query></iq>")
			if c := testutil.ErrorCondition(res); c != tt.want {
				t.Fatalf("got %s, want %s", res, tt.want)
			}
		})
	}
	a.ExpectNone(func(el *stanza.Element) bool { return pushItem(el) != nil }, quiet)
	if items := rosterItems(t, getRoster(t, a)); len(items) != 0 {
		t.Fatalf("refused sets changed the roster: %v", items)
	}
}

// TestRosterSetIgnoresServerState checks that subscription (other than
// remove), ask and approved in a roster set are ignored (RFC 6121
// §2.1.2): only presence changes subscription states.
func TestRosterSetIgnoresServerState(t *testing.T) {
	srv := testutil.StartServer(t, "")
	a := login(t, srv, "alice", "r")
	getRoster(t, a)
	bob := bareOf("bob")
	res := a.IQ("<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + bob + "' subscription='both' ask='subscribe' approved='true'/></query></iq>")
	if res.Type() != "result" {
		t.Fatalf("roster set: %s", res)
	}
	it := pushItem(a.Expect(isPush(bob, "none")))
	if it.HasAttr("ask") || it.HasAttr("approved") {
		t.Fatalf("client set server-side state: %s", it)
	}
}
