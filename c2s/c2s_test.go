package c2s_test

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/c2s"
	"parley/internal/testutil"
	"parley/stanza"
)

func TestLoginAndMessage(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "secret-a")
	srv.AddUser("bob", "secret-b")
	a := testutil.Login(t, srv.Addr, "alice", "secret-a", "laptop")
	b := testutil.Login(t, srv.Addr, "bob", "secret-b", "phone")
	if a.JID != "alice@"+srv.Domain+"/laptop" {
		t.Fatalf("bound JID %q", a.JID)
	}
	b.Send("<presence/>")
	b.Sendf("<message to='%s' type='chat' from='%s'><body>hi alice</body></message>", a.JID, b.JID)
	got := a.Expect(testutil.IsKind("message"))
	if got.From() != b.JID || got.ChildText("", "body") != "hi alice" {
		t.Fatalf("got %s", got)
	}
}

func TestStreamErrors(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	cases := []struct {
		name  string
		setup func(s *testutil.Stream)
		want  string
	}{
		{"not well formed", func(s *testutil.Stream) { s.Write("<message><body></message>") }, "not-well-formed"},
		{"restricted comment", func(s *testutil.Stream) { s.Write("<!-- hello -->") }, "restricted-xml"},
		{"restricted PI", func(s *testutil.Stream) { s.Write("<?foo bar?>") }, "restricted-xml"},
		{"restricted DTD", func(s *testutil.Stream) { s.Write("<!DOCTYPE x [<!ENTITY a 'b'>]>") }, "restricted-xml"},
		{"unauthenticated stanza", func(s *testutil.Stream) { s.StartTLS(testutil.Domain); s.Write("<message to='x@y'/>") }, "not-authorized"},
		{"oversized", func(s *testutil.Stream) {
			s.Write("<message><body>" + strings.Repeat("a", 300<<10) + "</body></message>")
		}, "policy-violation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testutil.DialStream(t, srv.Addr, testutil.Domain)
			c.setup(s)
			if got := s.ExpectStreamError(); got != c.want {
				t.Fatalf("stream error %q, want %q", got, c.want)
			}
			s.ExpectOrderlyClose()
		})
	}
}

func TestHostUnknown(t *testing.T) {
	srv := testutil.StartServer(t, "")
	s := &testutil.Stream{T: t}
	s = testutil.DialRaw(t, srv.Addr)
	s.Write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='other.example' version='1.0'>")
	if got := s.ExpectHeaderThenError(); got != "host-unknown" {
		t.Fatalf("got %q", got)
	}
}

func TestTLSRequiredBeforeAuth(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	s := testutil.DialStream(t, srv.Addr, testutil.Domain)
	el := s.Authenticate(msasl.Plain, "alice", "pw")
	if el.Local != "failure" || el.Child("", "encryption-required") == nil {
		t.Fatalf("auth before TLS: %s", el)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	for _, mech := range []msasl.Mechanism{msasl.ScramSha1, msasl.ScramSha256, msasl.Plain} {
		t.Run(mech.Name, func(t *testing.T) {
			s := testutil.DialStream(t, srv.Addr, testutil.Domain)
			s.StartTLS(testutil.Domain)
			el := s.Authenticate(mech, "alice", "wrong")
			if el.Local != "failure" || el.Child("", "not-authorized") == nil {
				t.Fatalf("got %s", el)
			}
			el = s.Authenticate(mech, "nobody", "pw")
			if el.Local != "failure" || el.Child("", "not-authorized") == nil {
				t.Fatalf("unknown user: got %s", el)
			}
			if el = s.Authenticate(mech, "alice", "pw"); el.Local != "success" {
				t.Fatalf("retry with right password: %s", el)
			}
		})
	}
}

func TestSpoofedFrom(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	a.Send("<message to='alice@" + srv.Domain + "' from='mallory@" + srv.Domain + "/x'><body>x</body></message>")
	el := a.Expect(func(el *stanza.Element) bool { return el.Space == stanza.NSStream && el.Local == "error" })
	if c := el.FirstElement(); c == nil || c.Local != "invalid-from" {
		t.Fatalf("stream error %s, want invalid-from", el)
	}
	a.WaitClosed()
}

func isStreamError(el *stanza.Element) bool {
	return el.Space == stanza.NSStream && el.Local == "error"
}

func TestResourceConflictReplacesOldSession(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	old := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	fresh := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	el := old.Expect(isStreamError)
	if c := el.FirstElement(); c == nil || c.Local != "conflict" {
		t.Fatalf("old session got %s, want conflict", el)
	}
	if err := old.WaitClosed(); err == nil {
		t.Fatal("old stream still open")
	}
	b := testutil.Login(t, srv.Addr, "bob", "pw", "x")
	b.Sendf("<message to='%s' type='chat'><body>to the new one</body></message>", fresh.JID)
	if got := fresh.Expect(testutil.IsKind("message")); got.ChildText("", "body") != "to the new one" {
		t.Fatalf("new session got %s", got)
	}
}

func TestServerGeneratedResource(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	c := testutil.Login(t, srv.Addr, "alice", "pw", "")
	if !strings.HasPrefix(c.JID, "alice@"+srv.Domain+"/") || len(c.JID) <= len("alice@"+srv.Domain+"/") {
		t.Fatalf("bound JID %q", c.JID)
	}
}

func TestDirectTLSAndChannelBinding(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	s := testutil.DialTLS(t, srv.DirectAddr, testutil.Domain)
	mechs := s.Features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
	if mechs == nil {
		t.Fatalf("direct TLS features without mechanisms: %s", s.Features)
	}
	var names []string
	for _, m := range mechs.ChildrenNamed("", "mechanism") {
		names = append(names, m.Text())
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if !strings.Contains(got, want) {
			t.Errorf("mechanism %s not offered: %s", want, got)
		}
	}
	if el := s.Authenticate(msasl.ScramSha256Plus, "alice", "pw"); el.Local != "success" {
		t.Fatalf("SCRAM-SHA-256-PLUS over TLS 1.3: %s", el)
	}
	s.Open(testutil.Domain)
	if j := s.Bind("cb"); j != "alice@"+srv.Domain+"/cb" {
		t.Fatalf("bound %q", j)
	}
}

func TestStartTLSFeatureRequired(t *testing.T) {
	srv := testutil.StartServer(t, "")
	s := testutil.DialRaw(t, srv.Addr)
	features := s.OpenFeatures(testutil.Domain)
	st := features.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls")
	if st == nil || st.Child("", "required") == nil {
		t.Fatalf("features %s: want required starttls", features)
	}
	if features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms") != nil {
		t.Fatalf("SASL offered before TLS: %s", features)
	}
}

func TestUnauthenticatedTimeout(t *testing.T) {
	srv := testutil.StartServer(t, "[c2s]\nauth_timeout = \"300ms\"\n")
	s := testutil.DialStream(t, srv.Addr, testutil.Domain)
	if got := s.ExpectStreamError(); got != "connection-timeout" {
		t.Fatalf("got %q", got)
	}
}

func TestWhitespaceKeepalive(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	a.Send("\n \n\t ")
	if r := a.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Type() == "" {
		t.Fatalf("no answer after keepalive: %s", r)
	}
}

func TestShutdownClosesStreams(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	srv.Stop()
	el := a.Expect(isStreamError)
	if c := el.FirstElement(); c == nil || c.Local != "system-shutdown" {
		t.Fatalf("got %s", el)
	}
	if err := a.WaitClosed(); err == nil || !strings.Contains(err.Error(), "closed by peer") {
		t.Fatalf("stream end: %v, want a clean </stream:stream>", err)
	}
}

func TestStanzaErrors(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	d := srv.Domain
	cases := []struct {
		name, iq, want string
	}{
		{"unknown namespace to server", "<iq type='get' to='" + d + "'><query xmlns='urn:example:nothing'/></iq>", "service-unavailable"},
		{"unknown namespace to own account", "<iq type='get'><query xmlns='urn:example:nothing'/></iq>", "service-unavailable"},
		{"iq to nonexistent user", "<iq type='get' to='nobody@" + d + "'><query xmlns='jabber:iq:version'/></iq>", "service-unavailable"},
		{"iq to unbound full JID", "<iq type='get' to='alice@" + d + "/gone'><query xmlns='jabber:iq:version'/></iq>", "service-unavailable"},
		{"malformed to", "<iq type='get' to='a@b@c'><query xmlns='jabber:iq:version'/></iq>", "jid-malformed"},
		{"two payloads", "<iq type='get' to='" + d + "'><a xmlns='urn:x'/><b xmlns='urn:x'/></iq>", "bad-request"},
		{"remote domain without federation", "<iq type='get' to='elsewhere.example'><ping xmlns='urn:xmpp:ping'/></iq>", "remote-server-not-found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.IQ(c.iq)
			e := r.Child("", "error")
			if r.Type() != "error" || e == nil || e.Child(stanza.NSStanzas, c.want) == nil {
				t.Fatalf("got %s, want %s", r, c.want)
			}
		})
	}
	a.Sendf("<message to='nobody@%s' id='m1' type='chat'><body>x</body></message>", d)
	r := a.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ID() == "m1" })
	if r.Type() != "error" || r.Child("", "error").Child(stanza.NSStanzas, "service-unavailable") == nil {
		t.Fatalf("message to nonexistent user: %s", r)
	}
	a.Sendf("<message to='nobody@%s' id='m2' type='error'><error type='cancel'><gone xmlns='%s'/></error></message>", d, stanza.NSStanzas)
	a.ExpectNone(func(el *stanza.Element) bool { return el.ID() == "m2" }, 300*time.Millisecond)
}

// TestRepeatedFailuresAreSlowed checks that failed logins from one address
// are answered ever later: the third failure waits at least the doubled
// base delay. Only a lower bound is checked, which a slow machine cannot
// break.
func TestRepeatedFailuresAreSlowed(t *testing.T) {
	srv := testutil.StartServer(t, "[c2s]\nlogin_failure_delay = \"200ms\"\nlogin_failure_max_delay = \"1s\"\n")
	srv.AddUser("alice", "pw")
	s := testutil.DialStream(t, srv.Addr, testutil.Domain)
	s.StartTLS(testutil.Domain)
	var last time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		if el := s.Authenticate(msasl.Plain, "alice", "wrong"); el.Local != "failure" {
			t.Fatalf("attempt %d: %s", i, el)
		}
		last = time.Since(start)
	}
	if last < 400*time.Millisecond {
		t.Fatalf("third failure answered after %v, want at least 400ms", last)
	}
}

func TestTooManyFailuresCloseStream(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	s := testutil.DialStream(t, srv.Addr, testutil.Domain)
	s.StartTLS(testutil.Domain)
	for i := 0; i < 4; i++ {
		s.Authenticate(msasl.Plain, "alice", "wrong")
	}
	s.Write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHdyb25n</auth>")
	if got := s.ExpectStreamError(); got != "policy-violation" {
		t.Fatalf("got %q", got)
	}
}

func TestUnknownTopLevelElementAfterBind(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	a.Send("<enable xmlns='urn:example:unknown'/>")
	el := a.Expect(isStreamError)
	if c := el.FirstElement(); c == nil || c.Local != "unsupported-stanza-type" {
		t.Fatalf("got %s", el)
	}
}

// TestFailingSessionIsUnboundFirst checks that a session ended by a stream
// error stops receiving stanzas before its stream closes: a message sent
// while the server still lets the client read the error goes to offline
// storage instead of into the closing stream.
func TestFailingSessionIsUnboundFirst(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "r")
	// Available, so that messages to alice's bare JID go to this session.
	a.Send("<presence/>")
	a.Expect(testutil.IsKind("presence"))
	a.Send("<message><body></message>")
	a.Expect(isStreamError)
	// The client has not closed its side: the server is still waiting
	// for it before closing the connection.
	b.Send("<message to='alice@" + testutil.Domain + "' type='chat'><body>while you were leaving</body></message>")
	b.ExpectNone(testutil.IsKind("message"), 200*time.Millisecond)
	a.Conn.Close()

	again := testutil.Login(t, srv.Addr, "alice", "pw", "r2")
	again.Send("<presence/>")
	got := again.Expect(testutil.IsKind("message"))
	if got.ChildText("", "body") != "while you were leaving" {
		t.Fatalf("after logging in again: %s", got)
	}
}

func TestStreamLanguageStamped(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "r")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "r")
	a.Sendf("<message to='%s' type='chat'><body>hallo</body></message>", b.JID)
	got := b.Expect(testutil.IsKind("message"))
	if got.Lang() != "en" {
		t.Fatalf("message %s has no stream language", got)
	}
}

// TestIdleSessionsPark checks that idle sessions give up their goroutine
// and still work: they receive, send, and are cleaned up when the client
// disappears.
func TestIdleSessionsPark(t *testing.T) {
	srv := testutil.StartServer(t, "")
	const n = 20
	var clients []*testutil.Client
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("user%d", i)
		srv.AddUser(name, "pw")
		clients = append(clients, testutil.Login(t, srv.Addr, name, "pw", "r"))
	}
	waitFor(t, "every idle session parked", func() bool { return srv.ParkedStreams() == n })
	clients[0].Sendf("<message to='%s' type='chat'><body>wake up</body></message>", clients[1].JID)
	if got := clients[1].Expect(testutil.IsKind("message")); got.ChildText("", "body") != "wake up" {
		t.Fatalf("got %s", got)
	}
	waitFor(t, "sessions parked again", func() bool { return srv.ParkedStreams() == n })
	for _, c := range clients[:n/2] {
		c.Conn.Close() // vanish without closing the stream
	}
	waitFor(t, "vanished sessions unbound", func() bool { return srv.Router().Online() == n/2 })
	if p := srv.ParkedStreams(); p != n/2 {
		t.Fatalf("%d streams parked, want %d", p, n/2)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, testutil.Timeout, what, cond)
}

// waitForWithin is waitFor with a time limit of its own.
func waitForWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoginChurn logs in and out many times concurrently, with sockets
// closed abruptly so descriptor numbers are reused at once: every session
// must answer its first request (a stream that ended must never disturb
// the parked stream that inherited its descriptor number).
func TestLoginChurn(t *testing.T) {
	srv := testutil.StartServer(t, "")
	const users, workers, rounds = 10, 8, 6
	for i := 0; i < users; i++ {
		srv.AddUser(fmt.Sprintf("u%d", i), "pw")
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				done := make(chan struct{})
				sub := &recorder{TB: t}
				go func() {
					defer close(done)
					c := testutil.Login(sub, srv.Addr, fmt.Sprintf("u%d", (w+r)%users), "pw", fmt.Sprintf("w%dr%d", w, r))
					if res := c.IQ("<iq type='get'><query xmlns='jabber:iq:roster'/></iq>"); res.Type() != "result" {
						sub.Fatalf("roster get: %s", res)
					}
					c.Conn.Close()
				}()
				<-done
				if sub.failed != "" {
					errs <- fmt.Errorf("worker %d round %d: %s", w, r, sub.failed)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "every closed session cleaned up", func() bool { return srv.Router().Online() == 0 })
}

// recorder lets helpers that call Fatalf run on other goroutines: the
// failure is recorded and the goroutine exits.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// TestYFlagAfterUnsupportedBinding follows a client that only knows the
// tls-unique channel binding (Debian's slixmpp 1.8.3): its -PLUS attempt
// fails, and its SCRAM retry with the "y" flag succeeds on that stream;
// on a fresh stream "y" alone is still refused as a downgrade.
func TestYFlagAfterUnsupportedBinding(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	first := base64.StdEncoding.EncodeToString([]byte("p=tls-unique,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"))

	s := testutil.DialTLS(t, srv.DirectAddr, testutil.Domain)
	s.Write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>" + first + "</auth>")
	if el := s.Next(); el.Local != "failure" || el.Child("urn:ietf:params:xml:ns:xmpp-sasl", "not-authorized") == nil {
		t.Fatalf("tls-unique binding: %s", el)
	}
	if el := s.AuthenticateAs(msasl.ScramSha256Plus, "SCRAM-SHA-256", "alice", "pw"); el.Local != "success" {
		t.Fatalf("SCRAM with y after the refused binding type: %s", el)
	}
	s.Open(testutil.Domain)
	if j := s.Bind("y"); j != "alice@"+srv.Domain+"/y" {
		t.Fatalf("bound %q", j)
	}

	fresh := testutil.DialTLS(t, srv.DirectAddr, testutil.Domain)
	if el := fresh.AuthenticateAs(msasl.ScramSha256Plus, "SCRAM-SHA-256", "alice", "pw"); el.Local != "failure" {
		t.Fatalf("y without an earlier binding attempt: %s", el)
	}
}

// TestClientStateIndication checks XEP-0352 end to end: the stream
// feature, presence and chat states held while the client is inactive
// (the latest per contact), a message going out at once after what was
// held, and everything flushed on active.
func TestClientStateIndication(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	s.Authenticate(msasl.ScramSha256, "alice", "pw")
	if f := s.Open(srv.Domain); f.Child(c2s.NSCSI, "csi") == nil {
		t.Fatalf("no csi stream feature: %s", f)
	}
	s.Bind("phone")
	s.Write("<presence/>")
	s.Next() // own presence
	b := testutil.Login(t, srv.Addr, "bob", "pw", "pc")
	b.Send("<presence/>")
	if p := s.Next(); p.Local != "presence" || p.From() != bob+"/pc" {
		t.Fatalf("bob's presence while active: %s", p)
	}
	s.Write("<inactive xmlns='urn:xmpp:csi:0'/>")
	// Answered once the server has taken in the inactive state.
	s.Write("<iq type='get' id='ping0' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := s.Next(); el.ID() != "ping0" {
		t.Fatalf("ping answer: %s", el)
	}
	b.Send("<presence><show>away</show></presence>")
	b.Send("<presence><show>dnd</show></presence>")
	b.Sendf("<message to='%s/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", alice)
	b.Sendf("<message to='%s/phone' type='chat' id='m1'><body>wake up</body></message>", alice)
	// Held presence (only the latest) and chat state first, then the
	// message; nothing else.
	var got []string
	for range 3 {
		el := s.Next()
		switch {
		case el.Local == "presence":
			got = append(got, "presence:"+el.ChildText("", "show"))
		case el.Child("", "body") != nil:
			got = append(got, "body")
		default:
			got = append(got, "chatstate")
		}
	}
	if want := []string{"presence:dnd", "chatstate", "body"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("while inactive got %v, want %v", got, want)
	}
	b.Send("<presence><show>xa</show></presence>")
	b.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	s.Write("<iq type='get' id='ping1' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	// The iq answer goes out after the held presence.
	if el := s.Next(); el.Local != "presence" || el.ChildText("", "show") != "xa" {
		t.Fatalf("held presence before the ping answer: %s", el)
	}
	s.Next() // the ping answer
	b.Send("<presence><show>chat</show></presence>")
	// bob's ping is answered once his presence was routed, and held.
	b.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	s.Write("<active xmlns='urn:xmpp:csi:0'/>")
	if el := s.Next(); el.Local != "presence" || el.ChildText("", "show") != "chat" {
		t.Fatalf("held presence on active: %s", el)
	}
}

// TestFromAttribute: a from naming another resource of the same account
// is stamped over with the session's address; one naming another account
// ends the stream with invalid-from.
func TestFromAttribute(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "secret-a")
	srv.AddUser("bob", "secret-b")
	a := testutil.Login(t, srv.Addr, "alice", "secret-a", "tab")
	b := testutil.Login(t, srv.Addr, "bob", "secret-b", "pc")
	a.Sendf("<message to='%s' from='alice@%s/old-tab' type='chat'><body>mine</body></message>", b.JID, srv.Domain)
	if got := b.Expect(testutil.IsKind("message")); got.From() != a.JID || got.ChildText("", "body") != "mine" {
		t.Fatalf("bob got %s", got)
	}
	a.Sendf("<message to='%s' from='%s' type='chat'><body>forged</body></message>", b.JID, b.JID)
	a.Expect(func(el *stanza.Element) bool {
		return el.Space == stanza.NSStream && el.Local == "error" && el.FirstElement().Local == "invalid-from"
	})
	b.ExpectNone(testutil.IsKind("message"), 300*time.Millisecond)
}
