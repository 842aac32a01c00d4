package register_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/account"
	"parley/internal/testutil"
	"parley/stanza"
	"parley/storage"
)

const (
	nsRegister = "jabber:iq:register"
	nsFeature  = "http://jabber.org/features/iq-register"
	nsPreauth  = "urn:xmpp:pars:0"
	enabled    = "[register]\nenabled = true\n"
	open       = enabled + "open = true\n"
)

// encrypted opens a stream from the local address from (empty: any),
// negotiates TLS and returns it before authentication.
func encrypted(t *testing.T, srv *testutil.Server, from string) *testutil.Stream {
	t.Helper()
	d := net.Dialer{Timeout: testutil.Timeout}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatalf("dial from %q: %v", from, err)
	}
	t.Cleanup(func() { nc.Close() })
	s := &testutil.Stream{T: t, Conn: nc, BR: bufio.NewReader(nc)}
	s.Open(srv.Domain)
	s.StartTLS(srv.Domain)
	return s
}

// iq sends an iq on a stream before authentication and returns the
// response.
func iq(s *testutil.Stream, typ, payload string) *stanza.Element {
	s.T.Helper()
	s.Write("<iq type='" + typ + "' id='r1'>" + payload + "</iq>")
	el := s.Next()
	if el.Local != "iq" || el.ID() != "r1" {
		s.T.Fatalf("expected the iq response, got %s", el)
	}
	return el
}

// legacy is a registration with the XEP-0077 fields.
func legacy(user, password string) string {
	return "<query xmlns='jabber:iq:register'><username>" + user + "</username><password>" + password + "</password></query>"
}

// form is a registration with the data form; token may be empty.
func form(user, password, token string) string {
	f := "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>" +
		"<field var='username'><value>" + user + "</value></field>" +
		"<field var='password'><value>" + password + "</value></field>"
	if token != "" {
		f += "<field var='token'><value>" + token + "</value></field>"
	}
	return f + "</x></query>"
}

// outcome is "result" or the error condition of a response.
func outcome(el *stanza.Element) string {
	if el.Type() == "result" {
		return "result"
	}
	return testutil.ErrorCondition(el)
}

func exists(t *testing.T, srv *testutil.Server, user string) bool {
	t.Helper()
	ok, err := srv.Store().AccountExists(context.Background(), user+"@"+srv.Domain)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// canLogin reports whether user logs in with password.
func canLogin(t *testing.T, srv *testutil.Server, user, password string) bool {
	t.Helper()
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	return s.Authenticate(msasl.ScramSha256, user, password).Local == "success"
}

func TestRegistrationOpen(t *testing.T) {
	srv := testutil.StartServer(t, open)
	srv.AddUser("alice", "alice-password")

	s := encrypted(t, srv, "")
	if s.Features.Child(nsFeature, "register") == nil || s.Features.Child("urn:xmpp:invite", "register") == nil {
		t.Fatalf("features lack registration: %s", s.Features)
	}
	got := iq(s, "get", "<query xmlns='jabber:iq:register'/>")
	q := got.Child(nsRegister, "query")
	if got.Type() != "result" || q == nil || q.Child(nsRegister, "username") == nil || q.Child(nsRegister, "password") == nil {
		t.Fatalf("form: %s", got)
	}
	x := q.Child("jabber:x:data", "x")
	if x == nil || !strings.Contains(x.String(), "<value>jabber:iq:register</value>") || !strings.Contains(x.String(), "var=\"username\"") && !strings.Contains(x.String(), "var='username'") {
		t.Fatalf("data form: %s", q)
	}
	if strings.Contains(x.String(), "token") {
		t.Fatalf("open registration asks for a token: %s", x)
	}

	cases := []struct{ name, payload, want string }{
		{"legacy fields", legacy("carol", "carol-password"), "result"},
		{"data form", form("Dave", "dave-password", ""), "result"},
		{"taken", legacy("alice", "another-password"), "conflict"},
		{"taken in other case", legacy("ALICE", "another-password"), "conflict"},
		{"at sign", legacy("eve@evil", "eve-password"), "not-acceptable"},
		{"slash", legacy("eve/x", "eve-password"), "not-acceptable"},
		{"space", legacy("eve smith", "eve-password"), "not-acceptable"},
		{"empty name", legacy("", "eve-password"), "not-acceptable"},
		{"short password", legacy("eve", "short"), "not-acceptable"},
		{"no password", "<query xmlns='jabber:iq:register'><username>eve</username></query>", "not-acceptable"},
		{"remove before login", "<query xmlns='jabber:iq:register'><remove/></query>", "registration-required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := outcome(iq(s, "set", c.payload)); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	if !exists(t, srv, "carol") || !exists(t, srv, "dave") || exists(t, srv, "eve") {
		t.Fatal("the accounts are not what was registered")
	}
	if !canLogin(t, srv, "carol", "carol-password") || !canLogin(t, srv, "dave", "dave-password") {
		t.Fatal("a registered account cannot log in")
	}
	if !canLogin(t, srv, "alice", "alice-password") {
		t.Fatal("a conflicting registration changed the existing account")
	}
	// The registering stream goes on to log in with the new account.
	if el := s.Authenticate(msasl.ScramSha256, "carol", "carol-password"); el.Local != "success" {
		t.Fatalf("login on the registering stream: %s", el)
	}
}

func TestRegistrationClosed(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		srv := testutil.StartServer(t, "")
		s := encrypted(t, srv, "")
		if s.Features.Child(nsFeature, "register") != nil {
			t.Fatalf("registration offered while disabled: %s", s.Features)
		}
		for _, typ := range []string{"get", "set"} {
			if got := outcome(iq(s, typ, legacy("eve", "eve-password"))); got != "not-allowed" {
				t.Fatalf("%s: got %s, want not-allowed", typ, got)
			}
		}
		if exists(t, srv, "eve") {
			t.Fatal("account created")
		}
	})
	t.Run("disabled preauth", func(t *testing.T) {
		srv := testutil.StartServer(t, "")
		s := encrypted(t, srv, "")
		s.Write("<iq type='set' id='r1'><preauth xmlns='" + nsPreauth + "' token='x'/></iq>")
		if got := s.ExpectStreamError(); got != "not-authorized" {
			t.Fatalf("stream error %q", got)
		}
	})
	t.Run("without invitation", func(t *testing.T) {
		srv := testutil.StartServer(t, enabled)
		s := encrypted(t, srv, "")
		if got := outcome(iq(s, "set", legacy("eve", "eve-password"))); got != "not-allowed" {
			t.Fatalf("got %s, want not-allowed", got)
		}
		if exists(t, srv, "eve") {
			t.Fatal("account created")
		}
	})
	t.Run("other requests", func(t *testing.T) {
		srv := testutil.StartServer(t, open)
		s := encrypted(t, srv, "")
		if got := outcome(iq(s, "set", legacy("eve", "eve-password")+"<x xmlns='urn:example'/>")); got != "bad-request" {
			t.Fatalf("two payloads: %s", got)
		}
		if got := outcome(iq(s, "get", "<item xmlns='jabber:iq:register'/>")); got != "bad-request" {
			t.Fatalf("unknown element: %s", got)
		}
		// Nothing but registration is answered before authentication.
		s.Write("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>")
		if got := s.ExpectStreamError(); got != "not-authorized" {
			t.Fatalf("roster request: stream error %q", got)
		}
	})
	t.Run("unencrypted", func(t *testing.T) {
		srv := testutil.StartServer(t, open)
		s := testutil.DialStream(t, srv.Addr, srv.Domain)
		if s.Features.Child(nsFeature, "register") != nil {
			t.Fatalf("registration offered before TLS: %s", s.Features)
		}
		s.Write("<iq type='set' id='r1'>" + legacy("eve", "eve-password") + "</iq>")
		if got := s.ExpectStreamError(); got != "not-authorized" {
			t.Fatalf("stream error %q", got)
		}
		if exists(t, srv, "eve") {
			t.Fatal("account created")
		}
	})
}

func TestRegistrationRateLimit(t *testing.T) {
	srv := testutil.StartServer(t, open+"max_per_address = 2\nper = \"1h\"\n")
	srv.AddUser("alice", "alice-password")
	s := encrypted(t, srv, "127.0.0.1")
	steps := []struct{ payload, want string }{
		{legacy("u1", "password-1"), "result"},
		{legacy("alice", "password-x"), "conflict"}, // a failure does not count
		{legacy("u2", "password-2"), "result"},
		{legacy("u3", "password-3"), "policy-violation"},
	}
	for _, st := range steps {
		if got := outcome(iq(s, "set", st.payload)); got != st.want {
			t.Fatalf("%s: got %s, want %s", st.payload, got, st.want)
		}
	}
	// Another stream from the same address is refused too, with a text.
	again := iq(encrypted(t, srv, "127.0.0.1"), "set", legacy("u4", "password-4"))
	if outcome(again) != "policy-violation" || !strings.Contains(again.String(), "try again later") || again.Child("", "error").Attr("type") != "wait" {
		t.Fatalf("refusal: %s", again)
	}
	// Another address still registers.
	if got := outcome(iq(encrypted(t, srv, "127.0.0.2"), "set", legacy("u5", "password-5"))); got != "result" {
		t.Fatalf("from another address: %s", got)
	}
	for user, want := range map[string]bool{"u1": true, "u2": true, "u3": false, "u4": false, "u5": true} {
		if exists(t, srv, user) != want {
			t.Errorf("account %s exists: %v, want %v", user, !want, want)
		}
	}
}

func TestRegistrationWithInvitation(t *testing.T) {
	srv := testutil.Start(t, testutil.Options{Extra: enabled, MoreDomains: []string{"other.test"}})
	ctx := context.Background()
	st := srv.Store()
	invite := func(domain, local string, ttl time.Duration) string {
		t.Helper()
		tok, _, err := account.Invite(ctx, st, domain, local, ttl, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	any1 := invite(srv.Domain, "", time.Hour)
	forJuliet := invite(srv.Domain, "juliet", time.Hour)
	other := invite("other.test", "", time.Hour)
	preauth := invite(srv.Domain, "", time.Hour)
	expired := "expired-token"
	must(t, st.CreateInvitation(ctx, storage.Invitation{TokenHash: account.HashToken(expired), Domain: srv.Domain,
		Created: time.Now().Add(-2 * time.Hour), Expires: time.Now().Add(-time.Hour)}))

	s := encrypted(t, srv, "")
	got := iq(s, "get", "<query xmlns='jabber:iq:register'/>")
	if !strings.Contains(got.String(), "token") {
		t.Fatalf("the form lacks the token field: %s", got)
	}
	steps := []struct{ name, payload, want string }{
		{"no token", form("romeo", "romeo-password", ""), "not-allowed"},
		{"unknown token", form("romeo", "romeo-password", "nonsense"), "forbidden"},
		{"expired token", form("romeo", "romeo-password", expired), "forbidden"},
		{"token of another domain", form("romeo", "romeo-password", other), "forbidden"},
		{"token for another name", form("romeo", "romeo-password", forJuliet), "not-acceptable"},
		{"bad name keeps the token", form("ro meo", "romeo-password", any1), "not-acceptable"},
		{"short password keeps the token", form("romeo", "short", any1), "not-acceptable"},
		{"token", form("romeo", "romeo-password", any1), "result"},
		{"token again", form("benvolio", "benvolio-password", any1), "forbidden"},
		{"token for the name", form("Juliet", "juliet-password", forJuliet), "result"},
		{"conflict keeps the token", form("romeo", "romeo-password", preauth), "conflict"},
	}
	for _, c := range steps {
		if got := outcome(iq(s, "set", c.payload)); got != c.want {
			t.Fatalf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	for user, want := range map[string]bool{"romeo": true, "juliet": true, "benvolio": false} {
		if exists(t, srv, user) != want {
			t.Errorf("account %s exists: %v, want %v", user, !want, want)
		}
	}

	// XEP-0445: the token comes first, in <preauth/>, then the legacy
	// fields register with it.
	p := encrypted(t, srv, "")
	if got := outcome(iq(p, "set", "<preauth xmlns='"+nsPreauth+"' token='nonsense'/>")); got != "item-not-found" {
		t.Fatalf("unknown preauth token: %s", got)
	}
	if got := outcome(iq(p, "set", "<preauth xmlns='"+nsPreauth+"' token='"+preauth+"'/>")); got != "result" {
		t.Fatalf("preauth: %s", got)
	}
	if strings.Contains(iq(p, "get", "<query xmlns='jabber:iq:register'/>").String(), "token") {
		t.Fatal("the form asks again for a token handed over")
	}
	if got := outcome(iq(p, "set", legacy("mercutio", "mercutio-password"))); got != "result" {
		t.Fatalf("registration after preauth: %s", got)
	}
	if got := outcome(iq(encrypted(t, srv, ""), "set", form("tybalt", "tybalt-password", preauth))); got != "forbidden" {
		t.Fatalf("preauth token used twice: %s", got)
	}
	if !canLogin(t, srv, "mercutio", "mercutio-password") || !canLogin(t, srv, "juliet", "juliet-password") {
		t.Fatal("invited accounts cannot log in")
	}
	if _, err := st.Invitation(ctx, account.HashToken(any1)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a used invitation is still stored: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestExpiredInvitationsForgotten checks that the server forgets
// expired invitations when it starts, and keeps the others.
func TestExpiredInvitationsForgotten(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.StartServerIn(t, dir, enabled)
	ctx := context.Background()
	now := time.Now()
	must(t, srv.Store().CreateInvitation(ctx, storage.Invitation{TokenHash: account.HashToken("old"), Domain: srv.Domain,
		Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)}))
	tok, _, err := account.Invite(ctx, srv.Store(), srv.Domain, "", time.Hour, now)
	must(t, err)
	srv.Stop()

	srv = testutil.StartServerIn(t, dir, enabled)
	deadline := time.Now().Add(testutil.Timeout)
	for {
		_, err := srv.Store().Invitation(ctx, account.HashToken("old"))
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired invitation is still stored: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := srv.Store().Invitation(ctx, account.HashToken(tok)); err != nil {
		t.Fatalf("a valid invitation was forgotten: %v", err)
	}
}

// TestRegistrationOverWebSocket registers over XMPP over WebSocket, which
// negotiates like TCP once the stream is secure (here: from this
// machine).
func TestRegistrationOverWebSocket(t *testing.T) {
	srv := testutil.StartServer(t, open+"[http]\nlisten = \"127.0.0.1:0\"\n")
	url := "ws://" + srv.Server.Addr("http") + "/xmpp-websocket"
	s := testutil.DialWebSocket(t, url, srv.Domain)
	if s.Features.Child(nsFeature, "register") == nil {
		t.Fatalf("features lack registration: %s", s.Features)
	}
	if got := outcome(iq(s, "set", legacy("wendy", "wendy-password"))); got != "result" {
		t.Fatalf("registration: %s", got)
	}
	c := testutil.LoginWebSocket(t, url, "wendy", "wendy-password", "web")
	if c.JID != "wendy@"+srv.Domain+"/web" {
		t.Fatalf("logged in as %s", c.JID)
	}
}
