package push_test

import (
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

const (
	appServer = "push." + testutil.Domain
	appSecret = "push-secret-0123456789"
)

func start(t *testing.T, extra string) *testutil.Server {
	t.Helper()
	srv := testutil.Start(t, testutil.Options{LogLevel: "info", Extra: "[components]\nlisten = \"127.0.0.1:0\"\n[components.secrets]\n\"" + appServer + "\" = \"" + appSecret + "\"\n" + extra})
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(u, u+"-pw")
	}
	return srv
}

// enable registers the app server for c's account.
func enable(t *testing.T, c *testutil.Client, node string) {
	t.Helper()
	r := c.IQ("<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "' node='" + node + "'>" +
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='secret'><value>s3cr3t</value></field></x></enable></iq>")
	if r.Type() != "result" {
		t.Fatalf("enable: %s", r)
	}
}

// phone logs alice in with resumable stream management, as a phone app.
func phone(t *testing.T, srv *testutil.Server) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "phone")
	c.Send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	if el := c.Expect(testutil.IsKind("enabled")); el.Attr("resume") != "true" {
		t.Fatalf("enable: %s", el)
	}
	c.Send("<presence/>")
	return c
}

// notification waits for a notification at the app server, answers it
// with answer ("result", or an error condition), and returns the summary
// form's fields.
func notification(t *testing.T, app *testutil.Client, node, answer string) map[string]string {
	t.Helper()
	iq := app.Expect(testutil.IsKind("iq"))
	pubsub := iq.Child("http://jabber.org/protocol/pubsub", "pubsub")
	if iq.Type() != "set" || iq.From() != "alice@"+testutil.Domain || pubsub == nil {
		t.Fatalf("notification: %s", iq)
	}
	publish := pubsub.Child("http://jabber.org/protocol/pubsub", "publish")
	if publish.Attr("node") != node {
		t.Fatalf("published to node %q: %s", publish.Attr("node"), iq)
	}
	if !strings.Contains(pubsub.Child("http://jabber.org/protocol/pubsub", "publish-options").String(), "<value>s3cr3t</value>") {
		t.Fatalf("publish-options missing: %s", iq)
	}
	x := publish.Child("http://jabber.org/protocol/pubsub", "item").Child("urn:xmpp:push:0", "notification").Child("jabber:x:data", "x")
	fields := make(map[string]string)
	for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
		fields[f.Attr("var")] = f.ChildText("jabber:x:data", "value")
	}
	if fields["FORM_TYPE"] != "urn:xmpp:push:summary" {
		t.Fatalf("form: %s", x)
	}
	if answer == "result" {
		app.Sendf("<iq type='result' id='%s' from='%s' to='%s'/>", iq.ID(), appServer, iq.From())
	} else {
		app.Sendf("<iq type='error' id='%s' from='%s' to='%s'><error type='cancel'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>", iq.ID(), appServer, iq.From(), answer)
	}
	return fields
}

func TestNotifications(t *testing.T) {
	srv := start(t, "[c2s]\nresume_timeout = \"2s\"\n")
	app := testutil.DialComponent(t, srv.Server.Addr("components"), appServer, appSecret)
	alice := phone(t, srv)
	if info := alice.IQ("<iq type='get' to='alice@" + srv.Domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"); !strings.Contains(info.String(), "var='urn:xmpp:push:0'") {
		t.Fatalf("disco#info of the account: %s", info)
	}
	enable(t, alice, "node-1")
	bob := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")

	// Connected: no notification.
	bob.Sendf("<message to='alice@%s' type='chat'><body>are you there?</body></message>", srv.Domain)
	alice.Expect(testutil.IsKind("message"))
	app.ExpectNone(testutil.IsKind("iq"), 300*time.Millisecond)

	// The phone's connection goes: its session waits, and messages are
	// notified, counted, without their text.
	alice.Conn.Close()
	srv.WaitLog(5*time.Second, "client session waits for resumption")
	bob.Sendf("<message to='alice@%s' type='chat'><body>secret plans</body></message>", srv.Domain)
	f := notification(t, app, "node-1", "result")
	if f["message-count"] != "1" || f["last-message-sender"] != bob.JID || f["last-message-body"] != "" {
		t.Fatalf("first notification: %v", f)
	}
	// A chat state alone wakes no one.
	bob.Sendf("<message to='alice@%s' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", srv.Domain)
	bob.Sendf("<message to='alice@%s' type='chat'><body>second</body></message>", srv.Domain)
	if f := notification(t, app, "node-1", "result"); f["message-count"] != "2" {
		t.Fatalf("second notification: %v", f)
	}
	// A subscription request too.
	carol := testutil.Login(t, srv.Addr, "carol@"+srv.Domain, "carol-pw", "pc")
	carol.Sendf("<presence to='alice@%s' type='subscribe'/>", srv.Domain)
	if f := notification(t, app, "node-1", "result"); f["pending-subscription-count"] != "1" {
		t.Fatalf("subscription notification: %v", f)
	}

	// No session at all: notified too (and stored offline). An error
	// from the app server disables the registration.
	srv.WaitLog(10*time.Second, "not resumed in time")
	bob.Sendf("<message to='alice@%s' type='chat'><body>third</body></message>", srv.Domain)
	notification(t, app, "node-1", "item-not-found")
	srv.WaitLog(5*time.Second, "push notifications disabled")
	bob.Sendf("<message to='alice@%s' type='chat'><body>fourth</body></message>", srv.Domain)
	app.ExpectNone(testutil.IsKind("iq"), 500*time.Millisecond)
}

func TestBodyAndRestart(t *testing.T) {
	srv := start(t, "[push]\ninclude_body = true\n")
	alice := phone(t, srv)
	enable(t, alice, "node-2")
	alice.Close()
	// The registration outlives a restart.
	dir, components := srv.Dir, srv.Server.Addr("components")
	srv.Stop()
	srv = testutil.Start(t, testutil.Options{Dir: dir, Extra: "[components]\nlisten = \"" + components + "\"\n[components.secrets]\n\"" + appServer + "\" = \"" + appSecret + "\"\n[push]\ninclude_body = true\n"})
	app := testutil.DialComponent(t, srv.Server.Addr("components"), appServer, appSecret)
	bob := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	bob.Sendf("<message to='alice@%s' type='chat'><body>lunch?</body></message>", srv.Domain)
	if f := notification(t, app, "node-2", "result"); f["last-message-body"] != "lunch?" {
		t.Fatalf("notification: %v", f)
	}
	// Disabled by the user: nothing more.
	alice = testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "phone")
	if r := alice.IQ("<iq type='set'><disable xmlns='urn:xmpp:push:0' jid='" + appServer + "'/></iq>"); r.Type() != "result" {
		t.Fatalf("disable: %s", r)
	}
	alice.Close()
	bob.Sendf("<message to='alice@%s' type='chat'><body>hello?</body></message>", srv.Domain)
	app.ExpectNone(testutil.IsKind("iq"), 500*time.Millisecond)
}

func TestBadRequests(t *testing.T) {
	srv := start(t, "")
	alice := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "pc")
	for _, c := range []struct{ name, iq, condition string }{
		{"no node", "<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "'/></iq>", "bad-request"},
		{"bad jid", "<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='@@' node='n'/></iq>", "bad-request"},
		{"other account", "<iq type='set' to='bob@" + srv.Domain + "'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "' node='n'/></iq>", "forbidden"},
		{"wrong form", "<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "' node='n'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:example</value></field></x></enable></iq>", "bad-request"},
		{"get", "<iq type='get'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "' node='n'/></iq>", "bad-request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := alice.IQ(c.iq)
			if r.Type() != "error" || r.Child("", "error").Child(stanza.NSStanzas, c.condition) == nil {
				t.Fatalf("got %s, want %s", r, c.condition)
			}
		})
	}
	// Too many registrations.
	for i := range 20 {
		enable(t, alice, "n"+strings.Repeat("x", i))
	}
	r := alice.IQ("<iq type='set'><enable xmlns='urn:xmpp:push:0' jid='" + appServer + "' node='one-more'/></iq>")
	if r.Child("", "error").Child(stanza.NSStanzas, "resource-constraint") == nil {
		t.Fatalf("21st registration: %s", r)
	}
}
