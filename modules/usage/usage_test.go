package usage_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/modules/usage"
	"parley/stanza"
	"parley/storage"
)

const (
	e2eMUC    = "conference." + testutil.Domain
	e2eUpload = "upload." + testutil.Domain
)

// online logs local in as resource with available presence.
func online(t *testing.T, srv *testutil.Server, local, resource string) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, srv.Addr, local, local+"-pw", resource)
	c.Send("<presence/>")
	c.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == c.JID })
	return c
}

// flushed flushes the server's usage module and returns today's records
// of its domain by user.
func flushed(t *testing.T, srv *testutil.Server) map[string]storage.UsageRecord {
	t.Helper()
	m, ok := srv.Module("usage").(*usage.Module)
	if !ok {
		t.Fatal("no usage module")
	}
	if err := m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return records(t, srv.Store(), srv.Domain)
}

func records(t *testing.T, st storage.Usage, domain string) map[string]storage.UsageRecord {
	t.Helper()
	today := time.Now()
	recs, err := st.UsageRecords(context.Background(), domain, today, today)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]storage.UsageRecord)
	for _, r := range recs {
		out[r.User] = r
	}
	return out
}

func isBody(text string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Local == "message" && el.ChildText("", "body") == text }
}

// join enters room as nick and waits for the subject that ends joining.
func join(t *testing.T, c *testutil.Client, room, nick string) {
	t.Helper()
	c.Sendf("<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room, nick)
	c.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.From() == room && el.Child("", "subject") != nil
	})
}

// TestEndToEnd counts logins, one-to-one messages, group chat and an
// upload on a real server.
func TestEndToEnd(t *testing.T) {
	srv := testutil.Start(t, testutil.Options{Extra: fmt.Sprintf("[muc]\ndomain = %q\nlock_new_rooms = false\n[http]\nlisten = \"127.0.0.1:0\"\n[upload]\ndomain = %q\n", e2eMUC, e2eUpload)})
	alice, bob := srv.AddUser("alice", "alice-pw"), srv.AddUser("bob", "bob-pw")
	carol, dave := srv.AddUser("carol", "carol-pw"), srv.AddUser("dave", "dave-pw")
	start := time.Now()
	aDesk := online(t, srv, "alice", "desk")
	online(t, srv, "alice", "phone")
	bDesk := online(t, srv, "bob", "desk")
	bPhone := online(t, srv, "bob", "phone")

	// One to one, to both of bob's resources, and to dave, offline.
	for i := range 3 {
		aDesk.Sendf("<message to='%s' type='chat' id='c%d'><body>hello %d</body></message>", bob, i, i)
		bDesk.Expect(isBody(fmt.Sprint("hello ", i)))
		bPhone.Expect(isBody(fmt.Sprint("hello ", i)))
	}
	aDesk.Sendf("<message to='%s' type='chat'><body>are you there?</body></message>", dave)
	// Chat states and receipts are not counted.
	aDesk.Sendf("<message to='%s' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", bob)
	bDesk.Sendf("<message to='%s'><received xmlns='urn:xmpp:receipts' id='c0'/></message>", alice)
	bDesk.Expect(func(el *stanza.Element) bool {
		return el.Child("http://jabber.org/protocol/chatstates", "composing") != nil
	})
	aDesk.Expect(func(el *stanza.Element) bool { return el.Child("urn:xmpp:receipts", "received") != nil })

	// A room: bob is in it twice, alice once.
	room := "team@" + e2eMUC
	join(t, aDesk, room, "alice")
	join(t, bDesk, room, "bob")
	join(t, bPhone, room, "bob on the phone")
	for i := range 2 {
		aDesk.Sendf("<message to='%s' type='groupchat' id='g%d'><body>to all %d</body></message>", room, i, i)
		for _, c := range []*testutil.Client{aDesk, bDesk, bPhone} {
			c.Expect(isBody(fmt.Sprint("to all ", i)))
		}
	}
	aDesk.Sendf("<message to='%s' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", room)
	// No id: the origin-id (XEP-0359) tells the room's echo.
	aDesk.Sendf("<message to='%s' type='groupchat'><body>last</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>", room)
	for _, c := range []*testutil.Client{aDesk, bDesk, bPhone} {
		c.Expect(isBody("last"))
	}
	// carol gets the room's history on joining: not counted.
	cDesk := online(t, srv, "carol", "desk")
	join(t, cDesk, room, "carol")

	// An upload of 1234 bytes.
	slot := aDesk.IQ(fmt.Sprintf("<iq type='get' to='%s'><request xmlns='urn:xmpp:http:upload:0' filename='a.bin' size='1234'/></iq>", e2eUpload))
	put := slot.Child("urn:xmpp:http:upload:0", "slot").Child("urn:xmpp:http:upload:0", "put").Attr("url")
	if resp, body := testutil.HTTPDo(t, "PUT", put, strings.NewReader(strings.Repeat("x", 1234)), 1234, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %s %s", resp.Status, body)
	}
	bPhone.Close()

	got := flushed(t, srv)
	want := map[string]storage.UsageCounts{
		alice: {Logins: 2, OneToOneSent: 4, GroupSent: 3, Uploads: 1, UploadBytes: 1234},
		bob:   {Logins: 2, OneToOneReceived: 3, GroupReceived: 3},
		carol: {Logins: 1},
		dave:  {OneToOneReceived: 1},
	}
	for user, w := range want {
		if g := got[user].UsageCounts; g != w {
			t.Errorf("%s: got %+v, want %+v", user, g, w)
		}
	}
	for _, user := range []string{alice, bob, carol} {
		if seen := got[user].LastSeen; seen.Before(start.Add(-time.Second)) || seen.After(time.Now()) {
			t.Errorf("%s last seen at %v, want since %v", user, seen, start)
		}
	}
	if seen := got[dave].LastSeen; !seen.IsZero() {
		t.Errorf("dave, offline, seen at %v", seen)
	}
	if len(got) != len(want) {
		t.Errorf("records of %d users, want %d: %+v", len(got), len(want), got)
	}

	// dave logs in and gets the message kept for him: it was counted
	// when it came, not again.
	d := online(t, srv, "dave", "phone")
	d.Expect(isBody("are you there?"))
	if g := flushed(t, srv)[dave]; g.UsageCounts != (storage.UsageCounts{Logins: 1, OneToOneReceived: 1}) || g.LastSeen.IsZero() {
		t.Errorf("dave after logging in: %+v", g)
	}
}

// TestFederated counts messages between two parley servers, each way.
func TestFederated(t *testing.T) {
	s := testutil.Federate(t, "", "a.test", "b.test")
	a := testutil.Login(t, s[0].Addr, "alice@a.test", "alice-pw", "desk")
	b := testutil.Login(t, s[1].Addr, "bob@b.test", "bob-pw", "desk")
	for _, c := range []*testutil.Client{a, b} {
		c.Send("<presence/>")
		c.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == c.JID })
	}
	for i := range 2 {
		a.Sendf("<message to='bob@b.test' type='chat'><body>hi %d</body></message>", i)
		b.Expect(isBody(fmt.Sprint("hi ", i)))
	}
	a.Send("<message to='bob@b.test' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/></message>")
	b.Send("<message to='alice@a.test' type='chat'><body>hello back</body></message>")
	b.Expect(func(el *stanza.Element) bool { return el.Child("http://jabber.org/protocol/chatstates", "gone") != nil })
	a.Expect(isBody("hello back"))

	if got, want := flushed(t, s[0])["alice@a.test"].UsageCounts, (storage.UsageCounts{Logins: 1, FederatedSent: 2, FederatedReceived: 1}); got != want {
		t.Errorf("alice@a.test: got %+v, want %+v", got, want)
	}
	if got, want := flushed(t, s[1])["bob@b.test"].UsageCounts, (storage.UsageCounts{Logins: 1, FederatedSent: 1, FederatedReceived: 2}); got != want {
		t.Errorf("bob@b.test: got %+v, want %+v", got, want)
	}
}

// TestStoredAtShutdown: what was counted since the last flush is stored
// when the server stops.
func TestStoredAtShutdown(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	a := testutil.Login(t, srv.Addr, "alice", "alice-pw", "desk")
	a.Sendf("<message to='%s' type='chat'><body>before the restart</body></message>", bob)
	ping := a.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if ping.Type() != "result" {
		t.Fatalf("ping: %s", ping)
	}
	srv.Stop()
	srv = testutil.StartServerIn(t, srv.Dir, "")
	got := records(t, srv.Store(), srv.Domain)
	if a := got["alice@"+srv.Domain]; a.Logins != 1 || a.OneToOneSent != 1 || a.LastSeen.IsZero() {
		t.Errorf("alice after a restart: %+v", a)
	}
	if b := got[bob]; b.OneToOneReceived != 1 {
		t.Errorf("bob after a restart: %+v", b)
	}
}
