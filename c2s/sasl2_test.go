package c2s_test

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/c2s"
	"parley/internal/testutil"
	"parley/sasl"
	"parley/stanza"
)

const nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"

// sasl2Stream opens a stream, negotiates TLS and checks that SASL2 is
// offered.
func sasl2Stream(t *testing.T, srv *testutil.Server) *testutil.Stream {
	t.Helper()
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	if s.Features.Child(c2s.NSSASL2, "authentication") == nil {
		t.Fatalf("no SASL2 feature: %s", s.Features)
	}
	return s
}

// offered returns the mechanisms and channel-binding types the stream's
// features list, as SASL2 offers them.
func offered(t *testing.T, features *stanza.Element, space string) (mechs, cbTypes []string) {
	t.Helper()
	parent := features.Child(c2s.NSSASL2, "authentication")
	if space == nsSASL {
		parent = features.Child(nsSASL, "mechanisms")
	}
	for _, m := range parent.ChildrenNamed("", "mechanism") {
		mechs = append(mechs, m.Text())
	}
	if cb := features.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding"); cb != nil {
		cbTypes = []string{}
		for _, c := range cb.ChildrenNamed("", "channel-binding") {
			cbTypes = append(cbTypes, c.Attr("type"))
		}
	}
	return mechs, cbTypes
}

// checkDowngradeHash checks the XEP-0474 attribute of a SCRAM
// server-first-message against what the features offered.
func checkDowngradeHash(t *testing.T, mech string, serverFirst []byte, mechs, cbTypes []string) {
	t.Helper()
	var got string
	for _, a := range strings.Split(string(serverFirst), ",") {
		if v, ok := strings.CutPrefix(a, "h="); ok {
			got = v
		}
	}
	if want := sasl.DowngradeHash(mech, mechs, cbTypes); got != want {
		t.Fatalf("server-first %q: h=%q, want %q", serverFirst, got, want)
	}
}

// sasl2Result is the outcome of a SASL2 authentication.
type sasl2Result struct {
	el         *stanza.Element // <success/> or <failure/>
	roundTrips int             // client messages that waited for an answer
}

// scram2 authenticates with SASL2 and a SCRAM mechanism of mellium's
// client, sending inner (user agent, bind, ...) in <authenticate/>, and
// checks the downgrade-protection attribute and the server's signature.
func scram2(t *testing.T, s *testutil.Stream, mech msasl.Mechanism, user, password, inner string) sasl2Result {
	t.Helper()
	mechs, cbTypes := offered(t, s.Features, c2s.NSSASL2)
	opts := []msasl.Option{
		msasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(password), nil }),
		msasl.RemoteMechanisms(mechs...),
	}
	if tc, ok := s.Conn.(*tls.Conn); ok {
		opts = append(opts, msasl.TLSState(tc.ConnectionState()))
	}
	neg := msasl.NewClient(mech, opts...)
	_, resp, err := neg.Step(nil)
	if err != nil {
		t.Fatalf("sasl start: %v", err)
	}
	s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech.Name + "'><initial-response>" +
		base64.StdEncoding.EncodeToString(resp) + "</initial-response>" + inner + "</authenticate>")
	r := sasl2Result{roundTrips: 1}
	for {
		el := s.Next()
		switch el.Local {
		case "challenge":
			data, err := base64.StdEncoding.DecodeString(el.Text())
			if err != nil {
				t.Fatalf("challenge %s: %v", el, err)
			}
			checkDowngradeHash(t, mech.Name, data, mechs, cbTypes)
			_, resp, err := neg.Step(data)
			if err != nil {
				t.Fatalf("sasl step: %v", err)
			}
			s.Write("<response xmlns='urn:xmpp:sasl:2'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
			r.roundTrips++
		case "success":
			data, err := base64.StdEncoding.DecodeString(el.ChildText(c2s.NSSASL2, "additional-data"))
			if err != nil || len(data) == 0 {
				t.Fatalf("success without SCRAM server-final: %s", el)
			}
			if _, _, err := neg.Step(data); err != nil {
				t.Fatalf("server signature rejected: %v", err)
			}
			r.el = el
			return r
		default:
			r.el = el
			return r
		}
	}
}

func authzid(el *stanza.Element) string { return el.ChildText(c2s.NSSASL2, "authorization-identifier") }

func failureCondition(el *stanza.Element) string {
	if el.Local != "failure" || el.Space != c2s.NSSASL2 {
		return "not a failure: " + el.String()
	}
	for _, c := range el.Elements() {
		if c.Space == nsSASL {
			return c.Local
		}
	}
	return "no condition: " + el.String()
}

func TestSASL2Features(t *testing.T) {
	srv := smServer(t, "")
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	if s.Features.Child(c2s.NSSASL2, "authentication") != nil {
		t.Fatal("SASL2 offered before TLS")
	}
	s.StartTLS(srv.Domain)
	legacy, cbTypes := offered(t, s.Features, nsSASL)
	mechs, _ := offered(t, s.Features, c2s.NSSASL2)
	if strings.Join(mechs, " ") != strings.Join(legacy, " ") || !strings.Contains(strings.Join(mechs, " "), "SCRAM-SHA-256-PLUS") {
		t.Fatalf("SASL2 mechanisms %v, legacy %v", mechs, legacy)
	}
	if strings.Join(cbTypes, " ") != "tls-exporter tls-server-end-point" {
		t.Fatalf("channel-binding types %v", cbTypes)
	}
	inline := s.Features.Child(c2s.NSSASL2, "authentication").Child(c2s.NSSASL2, "inline")
	bind := inline.Child(c2s.NSBind2, "bind")
	var vars []string
	for _, f := range bind.Child(c2s.NSBind2, "inline").ChildrenNamed(c2s.NSBind2, "feature") {
		vars = append(vars, f.Attr("var"))
	}
	if got := strings.Join(vars, " "); got != "urn:xmpp:carbons:2 urn:xmpp:csi:0 urn:xmpp:sm:3" {
		t.Fatalf("Bind 2 inline features %q", got)
	}
	if inline.Child(c2s.NSSM, "sm") == nil {
		t.Fatal("no inline stream management")
	}
	var fast []string
	for _, m := range inline.Child(c2s.NSFast, "fast").ChildrenNamed(c2s.NSFast, "mechanism") {
		fast = append(fast, m.Text())
	}
	if got := strings.Join(fast, " "); got != "HT-SHA-256-EXPR HT-SHA-256-ENDP HT-SHA-256-NONE" {
		t.Fatalf("FAST mechanisms %q", got)
	}
}

// TestSASL2WithoutBind authenticates with SASL2 alone: the bare JID is
// the identity, the authenticated features follow without a stream
// restart, and the client binds as usual.
func TestSASL2WithoutBind(t *testing.T) {
	srv := smServer(t, "")
	s := sasl2Stream(t, srv)
	r := scram2(t, s, msasl.ScramSha256, "alice", "alice-pw",
		"<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>Tester</software><device>Lab</device></user-agent>")
	if r.el.Local != "success" || authzid(r.el) != "alice@"+srv.Domain || r.roundTrips != 2 {
		t.Fatalf("success %s after %d round trips", r.el, r.roundTrips)
	}
	features := s.Next()
	if features.Local != "features" || features.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil ||
		features.Child(c2s.NSSASL2, "authentication") != nil {
		t.Fatalf("features after success: %s", features)
	}
	full := s.Bind("desk")
	c := s.Client(full)
	if iq := c.IQ("<iq type='get' id='p1' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); iq.Type() != "result" {
		t.Fatalf("ping: %s", iq)
	}
}

// TestSASL2PlusBind binds with SCRAM-SHA-256-PLUS over TLS and Bind 2:
// the identity is the full JID, made of the tag and a random part, and
// the session is live at once.
func TestSASL2PlusBind(t *testing.T) {
	srv := smServer(t, "")
	for _, mech := range []msasl.Mechanism{msasl.ScramSha256Plus, msasl.ScramSha1Plus, msasl.ScramSha1, msasl.Plain} {
		t.Run(mech.Name, func(t *testing.T) {
			s := sasl2Stream(t, srv)
			if mech.Name == "PLAIN" {
				s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
					base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice-pw")) +
					"</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>Tester</tag></bind></authenticate>")
			} else {
				r := scram2(t, s, mech, "alice", "alice-pw", "<bind xmlns='urn:xmpp:bind:0'><tag>Tester</tag></bind>")
				checkBound(t, srv, r.el)
				return
			}
			checkBound(t, srv, s.Next())
		})
	}
}

func checkBound(t *testing.T, srv *testutil.Server, el *stanza.Element) {
	t.Helper()
	full := authzid(el)
	if el.Local != "success" || el.Child(c2s.NSBind2, "bound") == nil || !strings.HasPrefix(full, "alice@"+srv.Domain+"/Tester/") ||
		len(full) <= len("alice@"+srv.Domain+"/Tester/") {
		t.Fatalf("bound success %s", el)
	}
}

func TestSASL2Failures(t *testing.T) {
	srv := smServer(t, "")
	t.Run("wrong password", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		r := scram2(t, s, msasl.ScramSha256, "alice", "wrong", "")
		if got := failureCondition(r.el); got != "not-authorized" {
			t.Fatalf("condition %s", got)
		}
		// The stream stays, and a second try succeeds.
		if r := scram2(t, s, msasl.ScramSha256, "alice", "alice-pw", ""); r.el.Local != "success" {
			t.Fatalf("second try: %s", r.el)
		}
		s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'/>")
		if cond := s.ExpectStreamError(); cond != "policy-violation" {
			t.Fatalf("second authentication: %s", cond)
		}
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='BLURDYBLOOP'/>")
		if got := failureCondition(s.Next()); got != "invalid-mechanism" {
			t.Fatalf("condition %s", got)
		}
	})
	t.Run("bad base64", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>!!!</initial-response></authenticate>")
		if got := failureCondition(s.Next()); got != "incorrect-encoding" {
			t.Fatalf("condition %s", got)
		}
	})
	t.Run("abort", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'/>")
		if el := s.Next(); el.Local != "challenge" || el.Space != c2s.NSSASL2 {
			t.Fatalf("no challenge: %s", el)
		}
		s.Write("<abort xmlns='urn:xmpp:sasl:2'/>")
		if got := failureCondition(s.Next()); got != "aborted" {
			t.Fatalf("condition %s", got)
		}
	})
	t.Run("stanza during authentication", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'/>")
		s.Next()
		s.Write("<message to='bob@" + srv.Domain + "'><body>hi</body></message>")
		if cond := s.ExpectStreamError(); cond != "policy-violation" {
			t.Fatalf("stream error %s", cond)
		}
	})
	t.Run("too many failures", func(t *testing.T) {
		s := sasl2Stream(t, srv)
		for i := range 5 {
			s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>" +
				base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("\x00alice\x00wrong%d", i))) + "</initial-response></authenticate>")
			if got := failureCondition(s.Next()); got != "not-authorized" {
				t.Fatalf("attempt %d: %s", i, got)
			}
		}
		if cond := s.ExpectStreamError(); cond != "policy-violation" {
			t.Fatalf("stream error %s", cond)
		}
	})
}

// TestLegacySCRAMDowngradeProtection checks the XEP-0474 attribute on
// the legacy SASL profile, whose offer lacks nothing SASL2 has.
func TestLegacySCRAMDowngradeProtection(t *testing.T) {
	srv := smServer(t, "")
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	mechs, cbTypes := offered(t, s.Features, nsSASL)
	s.Write("<auth xmlns='" + nsSASL + "' mechanism='SCRAM-SHA-256'>" +
		base64.StdEncoding.EncodeToString([]byte("n,,n=alice,r=abcdefghijklmnop")) + "</auth>")
	el := s.Next()
	data, err := base64.StdEncoding.DecodeString(el.Text())
	if el.Local != "challenge" || err != nil {
		t.Fatalf("challenge %s", el)
	}
	checkDowngradeHash(t, "SCRAM-SHA-256", data, mechs, cbTypes)
	// Legacy clients are unaffected: mellium's client logs in.
	testutil.Login(t, srv.Addr, "alice", "alice-pw", "legacy")
}

// TestBind2Inline binds with carbons, stream management and an inactive
// client state inline, then checks that each took effect, and that a
// broken connection resumes inline in the next authentication.
func TestBind2Inline(t *testing.T) {
	srv := smServer(t, "")
	bob := testutil.Login(t, srv.Addr, "bob", "bob-pw", "pc")
	other := testutil.Login(t, srv.Addr, "alice", "alice-pw", "desk")

	s := sasl2Stream(t, srv)
	r := scram2(t, s, msasl.ScramSha256, "alice", "alice-pw",
		"<user-agent id='phone-1'/><bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag>"+
			"<enable xmlns='urn:xmpp:carbons:2'/><enable xmlns='urn:xmpp:sm:3' resume='true'/>"+
			"<inactive xmlns='urn:xmpp:csi:0'/></bind>")
	full := authzid(r.el)
	enabled := r.el.Child(c2s.NSBind2, "bound").Child(c2s.NSSM, "enabled")
	if r.el.Local != "success" || !strings.HasPrefix(full, "alice@"+srv.Domain+"/Phone/") || enabled == nil ||
		enabled.Attr("resume") != "true" || enabled.Attr("id") == "" {
		t.Fatalf("success %s", r.el)
	}
	// Carbons: what the account's other client sends is copied.
	other.Sendf("<message type='chat' to='bob@%s/pc' id='c1'><body>from desk</body></message>", srv.Domain)
	bob.Expect(testutil.IsKind("message"))
	if el := s.Next(); el.Local != "message" || el.Child("urn:xmpp:carbons:2", "sent") == nil {
		t.Fatalf("no carbon copy: %s", el)
	}
	// Client state: a chat state waits while inactive.
	bob.Sendf("<message type='chat' to='%s'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", full)
	bob.Sendf("<iq type='get' id='sync' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", srv.Domain)
	bob.Expect(testutil.IsKind("iq"))
	s.Write("<r xmlns='urn:xmpp:sm:3'/>")
	if el := s.Next(); el.Local != "a" || el.Attr("h") != "0" {
		t.Fatalf("ack: %s (a held chat state must not come first)", el)
	}
	s.Write("<active xmlns='urn:xmpp:csi:0'/>")
	for {
		el := s.Next()
		if el.Local == "r" {
			continue
		}
		if el.Local != "message" || el.Child("http://jabber.org/protocol/chatstates", "composing") == nil {
			t.Fatalf("after going active: %s", el)
		}
		break
	}
	// The connection breaks; a message waits for the session.
	s.Conn.Close()
	waitWaiting(t, srv, full)
	bob.Sendf("<message type='chat' to='%s' id='m2'><body>while away</body></message>", full)
	time.Sleep(100 * time.Millisecond)

	s2 := sasl2Stream(t, srv)
	r = scram2(t, s2, msasl.ScramSha256, "alice", "alice-pw", "<user-agent id='phone-1'/>"+
		"<resume xmlns='urn:xmpp:sm:3' previd='"+enabled.Attr("id")+"' h='0'/>"+
		"<bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>")
	resumed := r.el.Child(c2s.NSSM, "resumed")
	if r.el.Local != "success" || authzid(r.el) != full || resumed == nil || resumed.Attr("previd") != enabled.Attr("id") ||
		r.el.Child(c2s.NSBind2, "bound") != nil {
		t.Fatalf("inline resumption: %s", r.el)
	}
	got, _ := bodies(t, s2, 3)
	if strings.Join(got, "|") != "|from desk|while away" && strings.Join(got, "|") != "from desk||while away" {
		// The copy and the chat state were never acknowledged: they come
		// again, before the new message.
		t.Logf("resent %q", got)
	}
	if got[len(got)-1] != "while away" {
		t.Fatalf("resent %q, want the waiting message last", got)
	}

	// A failed inline resumption answers <failed/> and binds anew.
	s3 := sasl2Stream(t, srv)
	r = scram2(t, s3, msasl.ScramSha256, "alice", "alice-pw", "<resume xmlns='urn:xmpp:sm:3' previd='nope' h='0'/>"+
		"<bind xmlns='urn:xmpp:bind:0'/>")
	if r.el.Local != "success" || r.el.Child(c2s.NSSM, "failed") == nil || r.el.Child(c2s.NSBind2, "bound") == nil ||
		authzid(r.el) == full {
		t.Fatalf("failed resumption: %s", r.el)
	}
}

// TestBind2ReplacesSameClient ends the earlier session of a client that
// binds again with the same user-agent id.
func TestBind2ReplacesSameClient(t *testing.T) {
	srv := smServer(t, "")
	bind := "<user-agent id='same-client'/><bind xmlns='urn:xmpp:bind:0'><tag>Phone</tag></bind>"
	s1 := sasl2Stream(t, srv)
	if r := scram2(t, s1, msasl.ScramSha256, "alice", "alice-pw", bind); r.el.Local != "success" {
		t.Fatal(r.el)
	}
	keep := sasl2Stream(t, srv)
	if r := scram2(t, keep, msasl.ScramSha256, "alice", "alice-pw", "<user-agent id='other-client'/><bind xmlns='urn:xmpp:bind:0'/>"); r.el.Local != "success" {
		t.Fatal(r.el)
	}
	s2 := sasl2Stream(t, srv)
	if r := scram2(t, s2, msasl.ScramSha256, "alice", "alice-pw", bind); r.el.Local != "success" {
		t.Fatal(r.el)
	}
	if cond := s1.ExpectStreamError(); cond != "conflict" {
		t.Fatalf("earlier session: %s", cond)
	}
	keep.Write("<r xmlns='urn:xmpp:sm:3'/><iq type='get' id='p' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := keep.Next(); el.Local != "iq" || el.Type() != "result" {
		t.Fatalf("other client's session: %s", el)
	}
}

// waitWaiting waits until the session of full waits for resumption.
func waitWaiting(t *testing.T, srv *testutil.Server, full string) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for time.Now().Before(deadline) {
		for _, res := range srv.Router().Resources(strings.Split(full, "/")[0]) {
			if res.JID.String() == full && res.Waiting() {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("session %s does not wait for resumption", full)
}
