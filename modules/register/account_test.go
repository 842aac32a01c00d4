package register_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

const remove = "<query xmlns='jabber:iq:register'><remove/></query>"

// set returns the iq set of payload, to to unless it is empty.
func set(to, payload string) string {
	if to != "" {
		to = " to='" + to + "'"
	}
	return "<iq type='set'" + to + ">" + payload + "</iq>"
}

func TestPasswordChange(t *testing.T) {
	srv := testutil.StartServer(t, "") // registration of new accounts is off
	alice := srv.AddUser("alice", "alice-password")
	bob := srv.AddUser("bob", "bob-password")
	a := testutil.Login(t, srv.Addr, "alice", "alice-password", "desk")

	info := a.IQ("<iq type='get' to='" + srv.Domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(info.String(), "var='jabber:iq:register'") && !strings.Contains(info.String(), `var="jabber:iq:register"`) {
		t.Fatalf("the server does not advertise jabber:iq:register: %s", info)
	}
	got := a.IQ("<iq type='get'><query xmlns='jabber:iq:register'/></iq>")
	q := got.Child(nsRegister, "query")
	if got.Type() != "result" || q == nil || q.Child(nsRegister, "registered") == nil || q.ChildText(nsRegister, "username") != "alice" {
		t.Fatalf("registration of a logged-in user: %s", got)
	}
	steps := []struct{ name, iq, want string }{
		{"short", set("", legacy("alice", "short")), "not-acceptable"},
		{"no username", set("", "<query xmlns='jabber:iq:register'><password>long-enough-1</password></query>"), "bad-request"},
		{"no password", set("", "<query xmlns='jabber:iq:register'><username>alice</username></query>"), "bad-request"},
		{"another's username", set("", legacy("bob", "stolen-password")), "forbidden"},
		{"to another account", set(bob, legacy("bob", "stolen-password")), "forbidden"},
		{"another's removal", set(bob, remove), "forbidden"},
		{"own", set("", legacy("alice", "new-password-1")), "result"},
		{"to the server", set(srv.Domain, legacy("Alice", "new-password-2")), "result"},
		{"data form to the bare JID", set(alice, form("alice", "new-password-3", "")), "result"},
	}
	for _, st := range steps {
		if got := outcome(a.IQ(st.iq)); got != st.want {
			t.Fatalf("%s: got %s, want %s", st.name, got, st.want)
		}
	}
	for _, c := range []struct {
		user, password string
		ok             bool
	}{
		{"alice", "new-password-3", true},
		{"alice", "alice-password", false},
		{"alice", "new-password-1", false},
		{"bob", "bob-password", true},
		{"bob", "stolen-password", false},
	} {
		if canLogin(t, srv, c.user, c.password) != c.ok {
			t.Errorf("login %s with %q: %v, want %v", c.user, c.password, !c.ok, c.ok)
		}
	}
	if !exists(t, srv, "bob") {
		t.Fatal("another user removed bob")
	}
}

func TestRemoval(t *testing.T) {
	srv := testutil.StartServer(t, "[mam]\nenabled = true\n")
	alice := srv.AddUser("alice", "alice-password")
	bob := srv.AddUser("bob", "bob-password")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	ctx := context.Background()
	st := srv.Store()

	// Alice has an offline message, an archive, a vCard and a pending
	// subscription request.
	b := testutil.Login(t, srv.Addr, "bob", "bob-password", "home")
	b.Sendf("<message to='%s' type='chat' id='m1'><body>while you were out</body></message>", alice)
	waitFor(t, "the offline message", func() bool {
		n, err := st.CountOffline(ctx, alice)
		return err == nil && n == 1
	})
	must(t, st.PutPendingSubscription(ctx, alice, "carol@example.net", []byte("<presence type='subscribe'/>")))
	// Dave asked to see alice's presence; she never answered.
	dave := srv.AddUser("dave", "dave-password")
	_, err := st.PutRosterItem(ctx, dave, storage.RosterItem{JID: alice, Subscription: "none", Ask: true})
	must(t, err)
	must(t, st.PutPendingSubscription(ctx, alice, dave, []byte("<presence type='subscribe' from='"+dave+"'/>")))
	desk := testutil.Login(t, srv.Addr, "alice", "alice-password", "desk")
	phone := testutil.Login(t, srv.Addr, "alice", "alice-password", "phone")
	// Streams that stream management would let resume end for good, and
	// so does a session waiting for its client to resume it.
	tablet := testutil.Login(t, srv.Addr, "alice", "alice-password", "tablet")
	for _, c := range []*testutil.Client{desk, tablet} {
		c.Send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
		if el := c.Expect(testutil.IsKind("enabled")); el.Attr("resume") != "true" {
			t.Fatalf("enable: %s", el)
		}
	}
	tablet.Conn.Close()
	waitFor(t, "the tablet's session to wait for resumption", func() bool {
		for _, res := range srv.Router().Resources(alice) {
			if w, ok := res.Session.(router.Waiter); ok && w.Waiting() {
				return true
			}
		}
		return false
	})
	if got := desk.IQ("<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>"); got.Type() != "result" {
		t.Fatalf("vCard: %s", got)
	}
	desk.Sendf("<message to='%s' type='chat' id='m2'><body>bye</body></message>", b.JID)
	b.Expect(testutil.IsKind("message"))

	got := desk.IQ(set("", remove))
	if got.Type() != "result" {
		t.Fatalf("removal: %s", got)
	}
	// Logins stop at once; every stream of the account ends.
	if canLogin(t, srv, "alice", "alice-password") {
		t.Fatal("the removed account logs in")
	}
	for _, c := range []*testutil.Client{desk, phone} {
		el := c.Expect(func(el *stanza.Element) bool { return el.Space == stanza.NSStream && el.Local == "error" })
		if el.Child("urn:ietf:params:xml:ns:xmpp-streams", "not-authorized") == nil {
			t.Errorf("%s: stream error %s", c.JID, el)
		}
		c.WaitClosed()
	}
	// Deleted once every session ended, well before the module gives up
	// waiting for them.
	deadline := time.Now().Add(5 * time.Second)
	waitFor(t, "the account to be deleted", func() bool { return !exists(t, srv, "alice") })
	if time.Now().After(deadline) {
		t.Fatal("the account was deleted only after the sessions' wait timed out")
	}
	if res := srv.Router().Resources(alice); len(res) != 0 {
		t.Fatalf("resources still bound: %v", res)
	}

	// Nothing of alice's is left.
	items, _, err := st.Roster(ctx, alice)
	must(t, err)
	if len(items) != 0 {
		t.Errorf("roster %v", items)
	}
	if msgs, err := st.OfflineMessages(ctx, alice); err != nil || len(msgs) != 0 {
		t.Errorf("offline messages %v, %v", msgs, err)
	}
	if subs, err := st.PendingSubscriptions(ctx, alice); err != nil || len(subs) != 0 {
		t.Errorf("pending subscriptions %v, %v", subs, err)
	}
	if _, err := st.Document(ctx, alice, "vcard", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("vCard: %v", err)
	}
	if _, _, err := st.LastActivity(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("last activity: %v", err)
	}
	if n, err := st.CountArchive(ctx, alice, storage.ArchiveQuery{}); err != nil || n != 0 {
		t.Errorf("archive: %d messages, %v", n, err)
	}
	// Bob's roster no longer shares presence with alice, and dave's
	// request was denied.
	if it, err := st.RosterItem(ctx, dave, alice); err != nil || it.Subscription != "none" || it.Ask {
		t.Errorf("dave's roster item for alice: %+v, %v; want no pending request", it, err)
	}
	if it, err := st.RosterItem(ctx, bob, alice); err != nil || it.Subscription != "none" || it.Ask || it.PendingIn {
		t.Errorf("bob's roster item for alice: %+v, %v; want subscription none", it, err)
	}
	// Bob's archive keeps his side of the conversation.
	if n, err := st.CountArchive(ctx, bob, storage.ArchiveQuery{}); err != nil || n != 2 {
		t.Errorf("bob's archive: %d messages, %v", n, err)
	}

	// Messages to the removed account bounce.
	b.Sendf("<message to='%s' type='chat' id='m3'><body>are you there?</body></message>", alice)
	bounce := b.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ID() == "m3" })
	if testutil.ErrorCondition(bounce) != "service-unavailable" {
		t.Errorf("message to the removed account: %s", bounce)
	}
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRemovalForgetsState removes an account whose block list and push
// app server the server holds in memory, and registers the name again:
// the new account starts clean.
func TestRemovalForgetsState(t *testing.T) {
	srv := testutil.StartServer(t, open)
	alice := srv.AddUser("alice", "alice-password")
	srv.AddUser("bob", "bob-password")
	srv.AddUser("app", "app-password")
	app := testutil.Login(t, srv.Addr, "app", "app-password", "push")
	b := testutil.Login(t, srv.Addr, "bob", "bob-password", "home")

	a := testutil.Login(t, srv.Addr, "alice", "alice-password", "desk")
	for _, req := range []string{
		"<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='bob@" + srv.Domain + "'/></block></iq>",
		"<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='" + app.JID + "' node='n1'/></iq>",
	} {
		if got := a.IQ(req); got.Type() != "result" {
			t.Fatalf("%s: %s", req, got)
		}
	}
	if got := a.IQ(set("", remove)); got.Type() != "result" {
		t.Fatalf("removal: %s", got)
	}
	a.WaitClosed()
	waitFor(t, "the account to be deleted", func() bool { return !exists(t, srv, "alice") })
	if got := outcome(iq(encrypted(t, srv, ""), "set", legacy("alice", "new-alice-password"))); got != "result" {
		t.Fatalf("registering the name again: %s", got)
	}

	// Bob is not blocked by the new alice, and her predecessor's app
	// server hears nothing of her messages.
	b.Sendf("<message to='%s' type='chat' id='m1'><body>hello, new alice</body></message>", alice)
	waitFor(t, "the offline message", func() bool {
		n, err := srv.Store().CountOffline(context.Background(), alice)
		return err == nil && n == 1
	})
	app.ExpectNone(testutil.IsKind("iq"), 500*time.Millisecond)
	b.ExpectNone(func(el *stanza.Element) bool { return el.Type() == "error" }, 100*time.Millisecond)
}

// TestRemovalTakesUploads removes an account that uploaded a file: the
// file goes with it, as with "parley deluser".
func TestRemovalTakesUploads(t *testing.T) {
	const uploadDomain = "upload.parley.test"
	srv := testutil.StartServer(t, "[http]\nlisten = \"127.0.0.1:0\"\n[upload]\ndomain = \""+uploadDomain+"\"\n")
	srv.AddUser("alice", "alice-password")
	a := testutil.Login(t, srv.Addr, "alice", "alice-password", "desk")
	const content = "holiday pictures"
	r := a.IQ("<iq type='get' to='" + uploadDomain + "'><request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='16' content-type='text/plain'/></iq>")
	s := r.Child("urn:xmpp:http:upload:0", "slot")
	if r.Type() != "result" || s == nil {
		t.Fatalf("slot: %s", r)
	}
	put, get := s.Child("urn:xmpp:http:upload:0", "put").Attr("url"), s.Child("urn:xmpp:http:upload:0", "get").Attr("url")
	if resp, body := testutil.HTTPDo(t, "PUT", put, strings.NewReader(content), int64(len(content)), http.Header{"Content-Type": {"text/plain"}}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	if resp, _ := testutil.HTTPDo(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %s", resp.Status)
	}

	if got := a.IQ(set("", remove)); got.Type() != "result" {
		t.Fatalf("removal: %s", got)
	}
	waitFor(t, "the account to be deleted", func() bool { return !exists(t, srv, "alice") })
	if resp, _ := testutil.HTTPDo(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after the removal: %s", resp.Status)
	}
	left, _ := filepath.Glob(filepath.Join(srv.Config.UploadDir(), "*.data"))
	if len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
}
