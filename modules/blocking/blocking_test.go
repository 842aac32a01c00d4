package blocking_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/modules/blocking"
	"parley/router"
	"parley/stanza"
	"parley/storage/sqlite"
)

const quiet = 300 * time.Millisecond

func online(t *testing.T, srv *testutil.Server, local, resource string) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, srv.Addr, local+"@"+srv.Domain, local+"-pw", resource)
	c.Send("<presence/>")
	c.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == c.JID })
	return c
}

func blocklist(t *testing.T, c *testutil.Client) []string {
	t.Helper()
	r := c.IQ("<iq type='get'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	if r.Type() != "result" {
		t.Fatalf("blocklist: %s", r)
	}
	var out []string
	for _, it := range r.Child(blocking.NS, "blocklist").ChildrenNamed(blocking.NS, "item") {
		out = append(out, it.Attr("jid"))
	}
	return out
}

func isPush(kind, j string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		p := el.Child(blocking.NS, kind)
		if el.Local != "iq" || el.Type() != "set" || p == nil {
			return false
		}
		if j == "" {
			return len(p.Elements()) == 0
		}
		return p.Child(blocking.NS, "item") != nil && p.Child(blocking.NS, "item").Attr("jid") == j
	}
}

func presenceFrom(from, typ string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "presence" && strings.HasPrefix(el.From(), from) && el.Type() == typ
	}
}

func TestBlocking(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	carol := srv.AddUser("carol", "carol-pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	pc := online(t, srv, "alice", "pc")
	phone := online(t, srv, "alice", "phone")
	tablet := online(t, srv, "alice", "tablet") // never asks for the list
	b := online(t, srv, "bob", "pc")
	time.Sleep(quiet)
	for _, c := range []*testutil.Client{pc, phone, tablet, b} {
		c.Drain()
	}
	if got := blocklist(t, pc); len(got) != 0 {
		t.Fatalf("a new account's block list: %v", got)
	}
	blocklist(t, phone)

	r := pc.IQ("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='" + bob + "'><report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'><text>buy now</text></report></item></block></iq>")
	if r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	pc.Expect(isPush("block", bob))
	phone.Expect(isPush("block", bob))
	tablet.ExpectNone(isPush("block", bob), quiet)
	// bob could see alice: he is told she went offline, from each resource.
	for range 3 {
		b.Expect(presenceFrom(alice+"/", "unavailable"))
	}
	r = pc.IQ("<iq type='get'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
	it := r.Child(blocking.NS, "blocklist").Child(blocking.NS, "item")
	if it == nil || it.Attr("jid") != bob || it.Child(blocking.NSReporting, "report").ChildText(blocking.NSReporting, "text") != "buy now" {
		t.Fatalf("the list keeps the item and its report: %s", r)
	}

	t.Run("from the blocked contact", func(t *testing.T) {
		b.Sendf("<message to='%s/pc' type='chat' id='m1'><body>hi</body></message>", alice)
		if e := b.Expect(testutil.IsKind("message")); testutil.ErrorCondition(e) != "service-unavailable" {
			t.Fatalf("message from the blocked contact: %s", e)
		}
		if e := b.IQ("<iq type='get' to='" + alice + "/pc'><ping xmlns='urn:xmpp:ping'/></iq>"); testutil.ErrorCondition(e) != "service-unavailable" {
			t.Fatalf("iq from the blocked contact: %s", e)
		}
		b.Send("<presence><show>away</show></presence>")
		b.Sendf("<presence to='%s' type='probe'/>", alice)
		for _, c := range []*testutil.Client{pc, phone, tablet} {
			c.ExpectNone(func(el *stanza.Element) bool { return strings.HasPrefix(el.From(), bob) }, quiet)
		}
		b.ExpectNone(presenceFrom(alice, ""), quiet)
	})
	t.Run("to the blocked contact", func(t *testing.T) {
		pc.Sendf("<message to='%s' type='chat'><body>hello?</body></message>", bob)
		e := pc.Expect(testutil.IsKind("message"))
		if testutil.ErrorCondition(e) != "not-acceptable" || e.Child("", "error").Child(blocking.NSErrors, "blocked") == nil {
			t.Fatalf("message to the blocked contact: %s", e)
		}
		pc.Send("<presence><show>dnd</show></presence>")
		b.ExpectNone(testutil.IsKind("message"), quiet)
		b.ExpectNone(presenceFrom(alice, ""), quiet)
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, c := range []struct{ iq, want string }{
			{"<iq type='set'><block xmlns='urn:xmpp:blocking'/></iq>", "bad-request"},
			{"<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='a@b@c'/></block></iq>", "jid-malformed"},
			{"<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid=''/></block></iq>", "jid-malformed"},
			{"<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='x@y'><report xmlns='urn:xmpp:reporting:1' reason='boredom'/></item></block></iq>", "bad-request"},
			{"<iq type='get' to='" + carol + "'><blocklist xmlns='urn:xmpp:blocking'/></iq>", "forbidden"},
		} {
			if r := pc.IQ(c.iq); testutil.ErrorCondition(r) != c.want {
				t.Errorf("%s: %s, want %s", c.iq, r, c.want)
			}
		}
	})
	t.Run("unblock", func(t *testing.T) {
		pc.IQ("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='" + carol + "'/><item jid='evil.test'/></block></iq>")
		pc.Drain()
		phone.Drain()
		if r := pc.IQ("<iq type='set'><unblock xmlns='urn:xmpp:blocking'><item jid='" + bob + "'/></unblock></iq>"); r.Type() != "result" {
			t.Fatalf("unblock: %s", r)
		}
		phone.Expect(isPush("unblock", bob))
		// bob sees alice's current presence again.
		b.Expect(presenceFrom(alice+"/", ""))
		b.Sendf("<message to='%s/pc' type='chat'><body>again</body></message>", alice)
		pc.Expect(func(el *stanza.Element) bool { return el.ChildText("", "body") == "again" })
		if got := blocklist(t, pc); strings.Join(got, " ") != carol+" evil.test" {
			t.Fatalf("after unblocking bob: %v", got)
		}
		if r := pc.IQ("<iq type='set'><unblock xmlns='urn:xmpp:blocking'/></iq>"); r.Type() != "result" {
			t.Fatalf("unblock all: %s", r)
		}
		phone.Expect(isPush("unblock", ""))
		if got := blocklist(t, pc); len(got) != 0 {
			t.Fatalf("after unblocking all: %v", got)
		}
	})
	t.Run("stored", func(t *testing.T) {
		pc.IQ("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='" + bob + "'/></block></iq>")
		srv.Stop()
		srv2 := testutil.StartServerIn(t, srv.Dir, "")
		a2 := online(t, srv2, "alice", "pc")
		if got := blocklist(t, a2); len(got) != 1 || got[0] != bob {
			t.Fatalf("after a restart: %v", got)
		}
		b2 := online(t, srv2, "bob", "pc")
		b2.Sendf("<message to='%s/pc' type='chat'><body>after restart</body></message>", alice)
		if e := b2.Expect(testutil.IsKind("message")); testutil.ErrorCondition(e) != "service-unavailable" {
			t.Fatalf("message from the blocked contact after a restart: %s", e)
		}
	})
}

// TestBlockingAcrossServers blocks a user of another server, and a whole
// domain.
func TestBlockingAcrossServers(t *testing.T) {
	s := testutil.Federate(t, "", "a.test", "b.test")
	a := testutil.Login(t, s[0].Addr, "alice@a.test", "alice-pw", "pc")
	a.Send("<presence/>")
	b := testutil.Login(t, s[1].Addr, "bob@b.test", "bob-pw", "pc")
	b.Send("<presence/>")
	b.Send("<message to='alice@a.test/pc' type='chat'><body>before</body></message>")
	a.Expect(func(el *stanza.Element) bool { return el.ChildText("", "body") == "before" })
	for _, item := range []string{"bob@b.test", "b.test"} {
		a.IQ("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='" + item + "'/></block></iq>")
		b.Send("<message to='alice@a.test/pc' type='chat'><body>blocked</body></message>")
		if e := b.Expect(testutil.IsKind("message")); testutil.ErrorCondition(e) != "service-unavailable" {
			t.Fatalf("%s blocked: bob got %s", item, e)
		}
		a.Send("<message to='bob@b.test/pc' type='chat'><body>out</body></message>")
		if e := a.Expect(testutil.IsKind("message")); testutil.ErrorCondition(e) != "not-acceptable" {
			t.Fatalf("%s blocked: alice got %s", item, e)
		}
		a.IQ("<iq type='set'><unblock xmlns='urn:xmpp:blocking'/></iq>")
	}
	a.ExpectNone(func(el *stanza.Element) bool { return el.ChildText("", "body") == "blocked" }, quiet)
}

// countingStore counts block list loads.
type countingStore struct {
	blocking.Store
	loads atomic.Int64
}

func (s *countingStore) Document(ctx context.Context, user, kind, key string) ([]byte, error) {
	s.loads.Add(1)
	return s.Store.Document(ctx, user, kind, key)
}

// TestListsAreCached routes many messages between two users: each one's
// list is read from storage once, not per stanza.
func TestListsAreCached(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []string{"alice@example.test", "bob@example.test"} {
		if err := db.CreateAccount(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
	}
	store := &countingStore{Store: db}
	r := router.New([]string{"example.test"}, db, zerolog.Nop())
	blocking.Register(r, store, zerolog.Nop())
	var aliceSess, bobSess testutil.RecordingSession
	r.Bind(ctx, jid.MustParse("alice@example.test/pc"), &aliceSess).SetPresence(stanza.New("", "presence"))
	bob := r.Bind(ctx, jid.MustParse("bob@example.test/pc"), &bobSess)
	bob.SetPresence(stanza.New("", "presence"))
	for range 200 {
		r.Route(ctx, bob, stanza.New("", "message", "from", "bob@example.test/pc", "to", "alice@example.test/pc", "type", "chat").
			Append(stanza.New("", "body").AppendText("hi")))
	}
	if got := len(aliceSess.Sent()); got != 200 {
		t.Fatalf("alice got %d messages", got)
	}
	if n := store.loads.Load(); n > 2 {
		t.Fatalf("%d block list loads for 200 messages between two users", n)
	}
}

// TestOfflineMessagesOfABlockedContact stores messages from two contacts
// while alice is offline; she blocks one of them before she comes online
// and gets only the other's.
func TestOfflineMessagesOfABlockedContact(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	srv.AddUser("carol", "carol-pw")
	b := online(t, srv, "bob", "pc")
	c := online(t, srv, "carol", "pc")
	b.Sendf("<message to='%s' type='chat'><body>from bob 1</body></message>", alice)
	c.Sendf("<message to='%s' type='chat'><body>from carol</body></message>", alice)
	b.Sendf("<message to='%s' type='chat'><body>from bob 2</body></message>", alice)
	// Stored, not bounced.
	b.ExpectNone(testutil.IsKind("message"), quiet)

	a := testutil.Login(t, srv.Addr, alice, "alice-pw", "pc")
	if r := a.IQ("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='" + bob + "'/></block></iq>"); r.Type() != "result" {
		t.Fatalf("block: %s", r)
	}
	a.Send("<presence/>")
	got := a.Expect(func(el *stanza.Element) bool { return el.Local == "message" })
	if got.ChildText("", "body") != "from carol" {
		t.Fatalf("first offline message after blocking bob: %s", got)
	}
	a.ExpectNone(func(el *stanza.Element) bool { return el.Local == "message" }, quiet)

	// Nor do they come back once bob is unblocked: they were dropped.
	a.IQ("<iq type='set'><unblock xmlns='urn:xmpp:blocking'/></iq>")
	a.Send("<presence type='unavailable'/>")
	a.Send("<presence/>")
	a.ExpectNone(func(el *stanza.Element) bool { return el.Local == "message" && el.Type() != "error" }, quiet)
}
