package c2s_test

import (
	"strings"
	"testing"

	msasl "mellium.im/sasl"

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
