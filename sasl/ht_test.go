package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// htClient computes what an HT client sends and expects, keyed with the
// token itself as clients do.
func htClient(token, label string, cbData []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cbData)
	return m.Sum(nil)
}

func TestNewTokenDigestIsHMACKey(t *testing.T) {
	token, digest := NewToken()
	if len(token) <= 64 {
		t.Fatalf("token of %d bytes is not longer than the HMAC block", len(token))
	}
	if !hmac.Equal(htHMAC(digest, htInitiator, []byte("cb")), htClient(token, htInitiator, []byte("cb"))) {
		t.Fatal("HMAC keyed with the digest differs from HMAC keyed with the token")
	}
	other, _ := NewToken()
	if other == token {
		t.Fatal("two tokens alike")
	}
}

func TestHTMechanisms(t *testing.T) {
	p := newTLSPair(t, 0x0304)
	got := HTMechanisms(p.serverCB())
	want := []string{MechHTExporter, MechHTEndpoint, MechHTNone}
	if len(got) != len(want) {
		t.Fatalf("mechanisms %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("mechanisms %v, want %v", got, want)
		}
	}
	if got := HTMechanisms(nil); len(got) != 1 || got[0] != MechHTNone {
		t.Fatalf("without TLS bindings: %v", got)
	}
}

func TestHTExchange(t *testing.T) {
	ctx := context.Background()
	p := newTLSPair(t, 0x0304)
	cb := p.serverCB()
	token, digest := NewToken()
	other, otherDigest := NewToken()
	keys := func(_ context.Context, user string) ([][]byte, error) {
		switch user {
		case "juliet@" + testDomain:
			return [][]byte{otherDigest, digest}, nil
		case "broken@" + testDomain:
			return nil, errors.New("disk on fire")
		}
		return nil, nil
	}
	msg := func(name, tok, label string, cbData []byte) []byte {
		return append([]byte(name+"\x00"), htClient(tok, label, cbData)...)
	}
	exporter := p.clientCB(t, cbTLSExporter)
	for _, tc := range []struct {
		name, mech string
		in         []byte
		cbData     []byte
		cond       string
		matched    int
	}{
		{"none", MechHTNone, msg("juliet", token, htInitiator, nil), nil, "", 1},
		{"bare JID", MechHTNone, msg("juliet@"+testDomain, other, htInitiator, nil), nil, "", 0},
		{"exporter", MechHTExporter, msg("juliet", token, htInitiator, exporter), exporter, "", 1},
		{"wrong binding", MechHTExporter, msg("juliet", token, htInitiator, nil), nil, "not-authorized", -1},
		{"responder label", MechHTNone, msg("juliet", token, htResponder, nil), nil, "not-authorized", -1},
		{"forged", MechHTNone, msg("juliet", "forged-token", htInitiator, nil), nil, "not-authorized", -1},
		{"other user", MechHTNone, msg("romeo", token, htInitiator, nil), nil, "not-authorized", -1},
		{"foreign domain", MechHTNone, msg("juliet@example.net", token, htInitiator, nil), nil, "not-authorized", -1},
		{"no NUL", MechHTNone, []byte("juliet"), nil, "malformed-request", -1},
		{"short hash", MechHTNone, []byte("juliet\x00abc"), nil, "malformed-request", -1},
		{"empty", MechHTNone, nil, nil, "malformed-request", -1},
		{"storage", MechHTNone, msg("broken", token, htInitiator, nil), nil, "temporary-auth-failure", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewAuthenticator().NewHTExchange(tc.mech, testDomain, cb, keys)
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := ex.Step(ctx, tc.in)
			if got := condition(t, err); got != tc.cond {
				t.Fatalf("condition %q, want %q (%v)", got, tc.cond, err)
			}
			if ex.Matched() != tc.matched {
				t.Fatalf("matched %d, want %d", ex.Matched(), tc.matched)
			}
			if tc.cond != "" {
				if done || ex.User() != "" {
					t.Fatalf("failed exchange done=%v user=%q", done, ex.User())
				}
				return
			}
			tok := token
			if tc.matched == 0 {
				tok = other
			}
			if !done || ex.User() != "juliet@"+testDomain {
				t.Fatalf("done=%v user=%q", done, ex.User())
			}
			if !hmac.Equal(out, htClient(tok, htResponder, tc.cbData)) {
				t.Fatal("server answer is not HMAC(token, Responder || cb)")
			}
			if _, _, err := ex.Step(ctx, tc.in); condition(t, err) != "malformed-request" {
				t.Fatalf("second step: %v", err)
			}
		})
	}
	if _, err := NewAuthenticator().NewHTExchange(MechHTEndpoint, testDomain, nil, keys); condition(t, err) != "invalid-mechanism" {
		t.Fatalf("ENDP without TLS: %v", err)
	}
	if _, err := NewAuthenticator().NewHTExchange("HT-SHA-256-UNIQ", testDomain, cb, keys); condition(t, err) != "invalid-mechanism" {
		t.Fatalf("UNIQ: %v", err)
	}
}
