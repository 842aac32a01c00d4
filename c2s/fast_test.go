package c2s_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/c2s"
	"parley/internal/testutil"
	"parley/sasl"
	"parley/stanza"
	"parley/storage"
)

const phoneAgent = "<user-agent id='a7c3e0c1-6b1e-4b7a-9d0e-1f2a3b4c5d6e'><software>Tester</software></user-agent>"

// passwordToken logs local in with SCRAM over SASL2 asking for a token
// for mech, and returns it.
func passwordToken(t *testing.T, srv *testutil.Server, local, mech string) string {
	t.Helper()
	s := sasl2Stream(t, srv)
	r := scram2(t, s, msasl.ScramSha256, local, local+"-pw", phoneAgent+
		"<request-token xmlns='urn:xmpp:fast:0' mechanism='"+mech+"'/><bind xmlns='urn:xmpp:bind:0'/>")
	tok := r.el.Child(c2s.NSFast, "token")
	if r.el.Local != "success" || tok == nil || tok.Attr("token") == "" {
		t.Fatalf("no token: %s", r.el)
	}
	exp, err := time.Parse(time.RFC3339, tok.Attr("expiry"))
	if err != nil || exp.Before(time.Now().Add(20*24*time.Hour)) || exp.After(time.Now().Add(22*24*time.Hour)) {
		t.Fatalf("token expiry %q", tok.Attr("expiry"))
	}
	return tok.Attr("token")
}

func htMAC(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

// fastLogin authenticates with a token in one message and returns the
// answer, having checked that it came in one round trip and, on success,
// that the server proved it knows the token.
func fastLogin(t *testing.T, s *testutil.Stream, mech, name, token, inner string) *stanza.Element {
	t.Helper()
	var cb []byte
	switch mech {
	case sasl.MechHTExporter:
		st := s.Conn.(*tls.Conn).ConnectionState()
		var err error
		if cb, err = st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err != nil {
			t.Fatal(err)
		}
	case sasl.MechHTEndpoint:
		// RFC 5929: the hash of the server's certificate, SHA-256 for
		// the test server's.
		sum := sha256.Sum256(s.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw)
		cb = sum[:]
	}
	msg := append([]byte(name+"\x00"), htMAC(token, "Initiator", cb)...)
	s.Write("<authenticate xmlns='urn:xmpp:sasl:2' mechanism='" + mech + "'><initial-response>" +
		base64.StdEncoding.EncodeToString(msg) + "</initial-response>" + inner + "</authenticate>")
	el := s.Next() // the only answer: one round trip
	if el.Local == "success" {
		data, err := base64.StdEncoding.DecodeString(el.ChildText(c2s.NSSASL2, "additional-data"))
		if err != nil || !hmac.Equal(data, htMAC(token, "Responder", cb)) {
			t.Fatalf("server did not prove the token: %s", el)
		}
	} else if el.Local == "challenge" {
		t.Fatalf("FAST login took a second round trip: %s", el)
	}
	return el
}

func fastServer(t *testing.T) *testutil.Server {
	t.Helper()
	srv := smServer(t, "")
	return srv
}

// TestFastLogin obtains a token with a password login and logs in with it
// in one round trip, bound and with carbons, without the password.
func TestFastLogin(t *testing.T) {
	srv := fastServer(t)
	for _, mech := range []string{sasl.MechHTNone, sasl.MechHTExporter, sasl.MechHTEndpoint} {
		t.Run(mech, func(t *testing.T) {
			token := passwordToken(t, srv, "alice", mech)
			s := sasl2Stream(t, srv)
			el := fastLogin(t, s, mech, "alice", token, phoneAgent+"<fast xmlns='urn:xmpp:fast:0'/>"+
				"<bind xmlns='urn:xmpp:bind:0'><tag>Fast</tag><enable xmlns='urn:xmpp:carbons:2'/></bind>")
			if el.Local != "success" || !strings.HasPrefix(authzid(el), "alice@"+srv.Domain+"/Fast/") ||
				el.Child(c2s.NSFast, "token") != nil {
				t.Fatalf("FAST login: %s", el)
			}
			c := s.Client(authzid(el))
			if iq := c.IQ("<iq type='get' id='p' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); iq.Type() != "result" {
				t.Fatalf("session after FAST login: %s", iq)
			}
		})
	}
}

// TestFastRotation: a token issued on a FAST login waits beside the one
// in use; once used, it replaces it, and the old one is refused.
func TestFastRotation(t *testing.T) {
	srv := fastServer(t)
	t1 := passwordToken(t, srv, "alice", sasl.MechHTNone)
	rotate := phoneAgent + "<fast xmlns='urn:xmpp:fast:0' count='1'/><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"
	el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", t1, rotate)
	t2 := el.Child(c2s.NSFast, "token").Attr("token")
	if el.Local != "success" || t2 == "" || t2 == t1 {
		t.Fatalf("rotation: %s", el)
	}
	// The client may not have received t2: t1 still works, until t2 is used.
	if el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", t1, phoneAgent); el.Local != "success" {
		t.Fatalf("previous token before the new one was used: %s", el)
	}
	if el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", t2, phoneAgent); el.Local != "success" {
		t.Fatalf("new token: %s", el)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", t1, phoneAgent)); got != "not-authorized" {
		t.Fatalf("reused token after rotation: %s", got)
	}
	if el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", t2, phoneAgent); el.Local != "success" {
		t.Fatalf("new token again: %s", el)
	}
}

// TestFastRefused checks the tokens that must not log in, and that a
// refused attempt changes nothing and counts as a failed login.
func TestFastRefused(t *testing.T) {
	srv := fastServer(t)
	alice := passwordToken(t, srv, "alice", sasl.MechHTNone)
	bob := passwordToken(t, srv, "bob", sasl.MechHTNone)
	forged, _ := sasl.NewToken()
	st := srv.Store()
	expired, digest := sasl.NewToken()
	if err := st.PutFastToken(t.Context(), storage.FastToken{User: "alice@" + srv.Domain, Client: "old-device",
		Mechanism: sasl.MechHTNone, Digest: digest, Expiry: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, mech, user, token, inner, cond string
	}{
		{"forged", sasl.MechHTNone, "alice", forged, phoneAgent, "not-authorized"},
		{"other user's", sasl.MechHTNone, "alice", bob, phoneAgent, "not-authorized"},
		{"in another's name", sasl.MechHTNone, "bob", alice, phoneAgent, "not-authorized"},
		{"other client", sasl.MechHTNone, "alice", alice, "<user-agent id='someone-else'/>", "not-authorized"},
		{"no user agent", sasl.MechHTNone, "alice", alice, "", "not-authorized"},
		{"other mechanism", sasl.MechHTExporter, "alice", alice, phoneAgent, "not-authorized"},
		{"expired", sasl.MechHTNone, "alice", expired, "<user-agent id='old-device'/>", "not-authorized"},
		{"unknown mechanism", "HT-SHA-256-UNIQ", "alice", alice, phoneAgent, "invalid-mechanism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sasl2Stream(t, srv)
			if got := failureCondition(fastLogin(t, s, tc.mech, tc.user, tc.token, tc.inner)); got != tc.cond {
				t.Fatalf("condition %s, want %s", got, tc.cond)
			}
		})
	}
	// Nothing changed: the real tokens work.
	for user, tok := range map[string]string{"alice": alice, "bob": bob} {
		if el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, user, tok, phoneAgent); el.Local != "success" {
			t.Fatalf("%s's token after refused attempts: %s", user, el)
		}
	}
	// Refused tokens count toward the stream's limit of attempts.
	s := sasl2Stream(t, srv)
	for range 5 {
		if got := failureCondition(fastLogin(t, s, sasl.MechHTNone, "alice", forged, phoneAgent)); got != "not-authorized" {
			t.Fatal(got)
		}
	}
	if cond := s.ExpectStreamError(); cond != "policy-violation" {
		t.Fatalf("after 5 forged tokens: %s", cond)
	}
}

// TestFastRevocation: the client ends its token; the admin ends an
// account's tokens; a new password and deleting the account end them.
func TestFastRevocation(t *testing.T) {
	srv := fastServer(t)
	ctx := t.Context()
	alice := "alice@" + srv.Domain

	tok := passwordToken(t, srv, "alice", sasl.MechHTNone)
	el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", tok, phoneAgent+"<fast xmlns='urn:xmpp:fast:0' invalidate='true'/>")
	if el.Local != "success" || el.Child(c2s.NSFast, "token") != nil {
		t.Fatalf("invalidating login: %s", el)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", tok, phoneAgent)); got != "not-authorized" {
		t.Fatalf("token after the client ended it: %s", got)
	}

	tok = passwordToken(t, srv, "alice", sasl.MechHTNone)
	if n, err := srv.Store().DeleteFastTokens(ctx, alice, ""); err != nil || n != 1 {
		t.Fatalf("admin revocation: %d, %v", n, err)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", tok, phoneAgent)); got != "not-authorized" {
		t.Fatalf("token after the admin ended it: %s", got)
	}

	tok = passwordToken(t, srv, "alice", sasl.MechHTNone)
	creds, err := sasl.NewCredentials("alice-pw", sasl.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().SetCredentials(ctx, alice, creds); err != nil {
		t.Fatal(err)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", tok, phoneAgent)); got != "not-authorized" {
		t.Fatalf("token after a password change: %s", got)
	}

	tok = passwordToken(t, srv, "bob", sasl.MechHTNone)
	if err := srv.Store().DeleteAccount(ctx, "bob@"+srv.Domain); err != nil {
		t.Fatal(err)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "bob", tok, phoneAgent)); got != "not-authorized" {
		t.Fatalf("token of a deleted account: %s", got)
	}
}

// TestFastOff: with fast_token_lifetime 0 FAST is neither offered nor
// accepted, and token requests are ignored.
func TestFastOff(t *testing.T) {
	srv := smServer(t, "fast_token_lifetime = \"0s\"\n")
	s := sasl2Stream(t, srv)
	if s.Features.Child(c2s.NSSASL2, "authentication").Child(c2s.NSSASL2, "inline").Child(c2s.NSFast, "fast") != nil {
		t.Fatal("FAST offered")
	}
	r := scram2(t, s, msasl.ScramSha256, "alice", "alice-pw", phoneAgent+"<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>")
	if r.el.Local != "success" || r.el.Child(c2s.NSFast, "token") != nil {
		t.Fatalf("success %s", r.el)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", "whatever", phoneAgent)); got != "invalid-mechanism" {
		t.Fatalf("FAST login while off: %s", got)
	}
}

// TestFastServerRotation: a token past half its lifetime is replaced on
// its next use, though the client did not ask.
func TestFastServerRotation(t *testing.T) {
	srv := fastServer(t)
	old, digest := sasl.NewToken()
	if err := srv.Store().PutFastToken(t.Context(), storage.FastToken{User: "alice@" + srv.Domain, Client: "a7c3e0c1-6b1e-4b7a-9d0e-1f2a3b4c5d6e",
		Mechanism: sasl.MechHTNone, Digest: digest, Expiry: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", old, phoneAgent)
	tok := el.Child(c2s.NSFast, "token")
	if el.Local != "success" || tok == nil || tok.Attr("token") == old {
		t.Fatalf("no new token for one near its expiry: %s", el)
	}
	if el := fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", tok.Attr("token"), phoneAgent); el.Local != "success" ||
		el.Child(c2s.NSFast, "token") != nil {
		t.Fatalf("fresh token: %s", el)
	}
	if got := failureCondition(fastLogin(t, sasl2Stream(t, srv), sasl.MechHTNone, "alice", old, phoneAgent)); got != "not-authorized" {
		t.Fatalf("replaced token: %s", got)
	}
}
