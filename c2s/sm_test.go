package c2s_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/c2s"
	"parley/internal/testutil"
	"parley/stanza"
)

// smStream logs local in on a raw stream, authenticated but not bound.
func smStream(t *testing.T, srv *testutil.Server, local string) *testutil.Stream {
	t.Helper()
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	if r := s.Authenticate(msasl.ScramSha256, local, local+"-pw"); r.Local != "success" {
		t.Fatalf("authenticate %s: %s", local, r)
	}
	s.Open(srv.Domain)
	return s
}

// enableSM binds resource and enables stream management with
// resumption; it returns the resumption id.
func enableSM(t *testing.T, s *testutil.Stream, resource string) string {
	t.Helper()
	s.Bind(resource)
	s.Write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	el := s.Next()
	if el.Local != "enabled" || el.Attr("resume") != "true" || el.Attr("id") == "" || el.Attr("max") == "" {
		t.Fatalf("enable: %s", el)
	}
	return el.Attr("id")
}

// bodies reads n messages, answering nothing else, and returns their
// bodies; ack requests among them are counted in reqs.
func bodies(t *testing.T, s *testutil.Stream, n int) (got []string, reqs int) {
	t.Helper()
	for len(got) < n {
		el := s.Next()
		switch {
		case el.Space == c2s.NSSM && el.Local == "r":
			reqs++
		case el.Local == "message":
			got = append(got, el.ChildText("", "body"))
		}
	}
	return got, reqs
}

func smServer(t *testing.T, c2sKeys string) *testutil.Server {
	t.Helper()
	srv := testutil.Start(t, testutil.Options{Extra: "[c2s]\n" + c2sKeys, LogLevel: "info"})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	return srv
}

func TestStreamManagementErrors(t *testing.T) {
	srv := smServer(t, "")
	s := smStream(t, srv, "alice")
	if f := s.Features; f == nil {
		t.Fatal("no features")
	}
	s.Write("<enable xmlns='urn:xmpp:sm:3'/>")
	if el := s.Next(); el.Local != "failed" || el.Child(stanza.NSStanzas, "unexpected-request") == nil {
		t.Fatalf("enable before bind: %s", el)
	}
	enableSM(t, s, "pc")
	s.Write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	if el := s.Next(); el.Local != "failed" || el.Child(stanza.NSStanzas, "unexpected-request") == nil {
		t.Fatalf("enable twice: %s", el)
	}
	// The client's count of what it received, on request.
	s.Write("<iq type='get' id='p1' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	s.Next()
	s.Write("<r xmlns='urn:xmpp:sm:3'/>")
	if el := s.Next(); el.Local != "a" || el.Attr("h") != "1" {
		t.Fatalf("ack after one stanza: %s", el)
	}
	// Acknowledging more than was sent ends the stream.
	s.Write("<a xmlns='urn:xmpp:sm:3' h='5'/>")
	el := s.Next()
	if el.Local != "error" || el.Child(c2s.NSSM, "handled-count-too-high") == nil || el.Child(stanza.NSStreams, "undefined-condition") == nil {
		t.Fatalf("ack of too much: %s", el)
	}

	// Resuming what does not exist.
	for _, previd := range []string{"no-such-session", ""} {
		r := smStream(t, srv, "alice")
		r.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>")
		if el := r.Next(); el.Local != "failed" || el.Child(stanza.NSStanzas, "item-not-found") == nil {
			t.Fatalf("resume %q: %s", previd, el)
		}
		// The stream goes on: the client binds afresh.
		r.Bind("fresh")
	}
}

// TestResumeAfterBrokenConnection cuts alice's connection in the middle
// of a conversation: bob's messages meanwhile wait, and on resumption
// she gets exactly those she had not acknowledged, once.
func TestResumeAfterBrokenConnection(t *testing.T) {
	srv := smServer(t, "")
	alice := "alice@" + srv.Domain
	s := smStream(t, srv, "alice")
	id := enableSM(t, s, "phone")
	b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	for i := range 7 {
		b.Sendf("<message to='%s/phone' type='chat'><body>m%d</body></message>", alice, i)
	}
	got, reqs := bodies(t, s, 7)
	if reqs == 0 {
		t.Fatalf("the server never asked for an ack of %d stanzas", len(got))
	}
	s.Write("<a xmlns='urn:xmpp:sm:3' h='4'/>") // m0..m3 acknowledged
	s.Conn.Close()                              // no closing tag: the connection broke
	srv.WaitLog(5*time.Second, "client session waits for resumption")
	for i := 7; i < 10; i++ {
		b.Sendf("<message to='%s/phone' type='chat'><body>m%d</body></message>", alice, i)
	}
	// alice's resource stays while the session waits: bob's ping waits
	// for her too.
	b.Sendf("<iq type='get' to='%s/phone' id='ping'><ping xmlns='urn:xmpp:ping'/></iq>", alice)

	r := smStream(t, srv, "alice")
	// She had received all seven, but acknowledged four.
	r.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='7'/>")
	el := r.Next()
	if el.Local != "resumed" || el.Attr("previd") != id || el.Attr("h") != "0" {
		t.Fatalf("resume: %s", el)
	}
	var after []string
	deadline := time.Now().Add(5 * time.Second)
	for len(after) < 4 && time.Now().Before(deadline) {
		el := r.Next()
		switch {
		case el.Local == "message":
			after = append(after, el.ChildText("", "body"))
		case el.Local == "iq" && el.Type() == "get":
			after = append(after, "iq")
			r.Write("<iq type='result' id='" + el.ID() + "' to='" + el.From() + "'/>")
		}
	}
	if fmt.Sprint(after) != "[iq m7 m8 m9]" && fmt.Sprint(after) != "[m7 m8 m9 iq]" && fmt.Sprint(after) != "[m7 iq m8 m9]" && fmt.Sprint(after) != "[m7 m8 iq m9]" {
		t.Fatalf("after resuming: %v, want m7 m8 m9 and bob's ping, each once", after)
	}
	if r := b.Expect(func(el *stanza.Element) bool { return el.ID() == "ping" }); r.Type() != "result" {
		t.Fatalf("bob's ping to the waiting session: %s", r)
	}
	// Stanzas sent now go to the resumed stream, counted on.
	b.Sendf("<message to='%s/phone' type='chat'><body>live</body></message>", alice)
	if got, _ := bodies(t, r, 1); got[0] != "live" {
		t.Fatalf("after resumption: %v", got)
	}
	r.Write("<r xmlns='urn:xmpp:sm:3'/>")
	for {
		el := r.Next()
		if el.Local == "a" {
			if el.Attr("h") != "1" { // the iq result alice sent
				t.Fatalf("count after resumption: %s", el)
			}
			break
		}
	}
}

// TestResumeTakesOverOpenStream resumes while the old connection still
// looks alive: the old stream is closed with conflict.
func TestResumeTakesOverOpenStream(t *testing.T) {
	srv := smServer(t, "")
	old := smStream(t, srv, "alice")
	id := enableSM(t, old, "phone")
	r := smStream(t, srv, "alice")
	r.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
	if el := r.Next(); el.Local != "resumed" {
		t.Fatalf("resume: %s", el)
	}
	if cond := old.ExpectStreamError(); cond != "conflict" {
		t.Fatalf("old stream ended with %q", cond)
	}
	// bob cannot resume alice's session.
	b := smStream(t, srv, "bob")
	b.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
	if el := b.Next(); el.Local != "failed" {
		t.Fatalf("another user resumed the session: %s", el)
	}
}

// TestResumptionExpires lets the window pass: what alice never
// acknowledged is stored offline, with the time it first came.
func TestResumptionExpires(t *testing.T) {
	srv := smServer(t, "resume_timeout = \"1s\"\n")
	alice := "alice@" + srv.Domain
	s := smStream(t, srv, "alice")
	id := enableSM(t, s, "phone")
	s.Write("<presence/>")
	s.Next()
	b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	b.Sendf("<message to='%s' type='chat'><body>unacked</body></message>", alice)
	bodies(t, s, 1)
	sent := time.Now().UTC()
	s.Conn.Close()
	srv.WaitLog(5*time.Second, "client session waits for resumption")
	b.Sendf("<message to='%s/phone' type='chat'><body>while away</body></message>", alice)
	srv.WaitLog(5*time.Second, "client session ended: not resumed in time", alice)

	r := smStream(t, srv, "alice")
	r.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='0'/>")
	if el := r.Next(); el.Local != "failed" || el.Child(stanza.NSStanzas, "item-not-found") == nil {
		t.Fatalf("resume after expiry: %s", el)
	}
	r.Bind("laptop")
	r.Write("<presence/>")
	var got []string
	for len(got) < 2 {
		el := r.Next()
		if el.Local != "message" {
			continue
		}
		d := el.Child(stanza.NSDelay, "delay")
		if d == nil {
			t.Fatalf("offline message without delay: %s", el)
		}
		if stamp, err := time.Parse(time.RFC3339, d.Attr("stamp")); err != nil || stamp.After(time.Now()) || stamp.Before(sent.Add(-5*time.Second)) {
			t.Fatalf("delay stamp %q", d.Attr("stamp"))
		}
		got = append(got, el.ChildText("", "body"))
	}
	if fmt.Sprint(got) != "[unacked while away]" {
		t.Fatalf("offline after expiry: %v", got)
	}
}

// TestNeverAckingClientIsCut keeps a client from making the server hold
// stanzas without end.
func TestNeverAckingClientIsCut(t *testing.T) {
	srv := smServer(t, "max_unacked = 100\n")
	s := smStream(t, srv, "alice")
	enableSM(t, s, "phone")
	b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	for i := range 101 {
		b.Sendf("<message to='alice@%s/phone' type='chat'><body>%s</body></message>", srv.Domain, strconv.Itoa(i))
	}
	if cond := s.ExpectStreamError(); cond != "policy-violation" {
		t.Fatalf("stream ended with %q", cond)
	}
}
