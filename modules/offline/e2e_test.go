package offline_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

// settle waits until the server has processed everything c sent before:
// stanzas from one stream are routed in order.
func settle(t *testing.T, c *testutil.Client, domain string) {
	t.Helper()
	if got := c.IQ("<iq type='get' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); got.Type() != "result" {
		t.Fatalf("ping: %s", got)
	}
}

func isMessage(el *stanza.Element) bool { return el.Local == "message" }

// expectBodies expects the next messages to carry bodies in order, each
// with an offline delay from the server.
func expectBodies(t *testing.T, c *testutil.Client, domain string, bodies ...string) {
	t.Helper()
	for _, want := range bodies {
		el := c.Expect(isMessage)
		if got := el.ChildText("", "body"); got != want {
			t.Fatalf("got message %q, want %q: %s", got, want, el)
		}
		d := el.Child(stanza.NSDelay, "delay")
		if d == nil || d.Attr("from") != domain {
			t.Fatalf("no delay from %s: %s", domain, el)
		}
		if _, err := time.Parse(time.RFC3339Nano, d.Attr("stamp")); err != nil {
			t.Fatalf("bad stamp: %s", el)
		}
	}
}

func offlineCount(t *testing.T, srv *testutil.Server, user string) int {
	t.Helper()
	n, err := srv.Store().CountOffline(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestE2EStoredAndDelivered(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	for i := range 3 {
		b.Sendf("<message to='%s' type='chat'><body>m%d</body></message>", alice, i)
	}
	b.Sendf("<message to='%s'><body>normal</body></message>", alice)
	settle(t, b, srv.Domain)
	b.ExpectNone(isMessage, 100*time.Millisecond) // stored, not bounced
	if n := offlineCount(t, srv, alice); n != 4 {
		t.Fatalf("%d stored, want 4", n)
	}

	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a.ExpectNone(isMessage, 200*time.Millisecond) // not before presence
	a.Send("<presence/>")
	expectBodies(t, a, srv.Domain, "m0", "m1", "m2", "normal")
	settle(t, a, srv.Domain)
	if n := offlineCount(t, srv, alice); n != 0 {
		t.Fatalf("%d left after delivery", n)
	}

	// No duplicate delivery to a second resource.
	a2 := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	a2.Send("<presence/>")
	a2.ExpectNone(isMessage, 300*time.Millisecond)
}

func TestE2ENotStored(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Sendf("<message to='%s' type='headline'><body>headline</body></message>", alice)
	b.Sendf("<message to='%s' type='error'><body>error</body><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", alice)
	b.Sendf("<message to='%s' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", alice)
	b.Sendf("<message to='%s' type='chat' id='ns'><body>no-store</body><no-store xmlns='urn:xmpp:hints'/></message>", alice)
	b.Sendf("<message to='%s' type='chat'><body>last</body></message>", alice)
	settle(t, b, srv.Domain)
	bounce := b.Expect(isMessage)
	if bounce.ID() != "ns" || testutil.ErrorCondition(bounce) != "service-unavailable" {
		t.Fatalf("want the no-store message bounced with service-unavailable, got %s", bounce)
	}
	b.ExpectNone(isMessage, 100*time.Millisecond) // the chat state is dropped silently

	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a.Send("<presence/>")
	expectBodies(t, a, srv.Domain, "last")
	a.ExpectNone(isMessage, 300*time.Millisecond)
}

func TestE2ESurvivesRestart(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Sendf("<message to='%s' type='chat'><body>before restart</body></message>", alice)
	settle(t, b, srv.Domain)
	srv.Stop()

	srv = testutil.StartServerIn(t, srv.Dir, "")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a.Send("<presence/>")
	expectBodies(t, a, srv.Domain, "before restart")
}

func TestE2ENegativePriority(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	for i := range 2 {
		b.Sendf("<message to='%s' type='chat'><body>m%d</body></message>", alice, i)
	}
	settle(t, b, srv.Domain)

	hidden := testutil.Login(t, srv.Addr, "alice", "pw", "hidden")
	hidden.Send("<presence><priority>-1</priority></presence>")
	hidden.ExpectNone(isMessage, 300*time.Millisecond)
	settle(t, hidden, srv.Domain)
	if n := offlineCount(t, srv, alice); n != 2 {
		t.Fatalf("%d stored with only a negative resource, want 2", n)
	}

	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	a.Send("<presence><priority>" + strconv.Itoa(0) + "</priority></presence>")
	expectBodies(t, a, srv.Domain, "m0", "m1")
	hidden.ExpectNone(isMessage, 200*time.Millisecond)
}
