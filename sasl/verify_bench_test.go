package sasl

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"strings"
	"testing"
)

// BenchmarkVerify measures the server's side of one login's
// authentication, credentials and tokens held in memory (no storage):
// SCRAM's two steps with stored keys against HT's single step, as a
// reconnecting client with a FAST token (XEP-0484) takes it. Client work
// is not timed.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	const user, pass = "juliet@" + testDomain, "r0m30myr0m30"
	store := testStore(b)
	a := NewAuthenticator()

	for _, mech := range []struct {
		name string
		h    func() hash.Hash
	}{{"SCRAM-SHA-1", sha1.New}, {"SCRAM-SHA-256", sha256.New}} {
		b.Run(mech.name, func(b *testing.B) {
			cred, _ := store.Credential(ctx, user, strings.TrimPrefix(mech.name, "SCRAM-"))
			sp, err := pbkdf2.Key(mech.h, pass, cred.Salt, cred.Iterations, mech.h().Size())
			if err != nil {
				b.Fatal(err)
			}
			clientFirstBare := "n=juliet,r=fyko+d2lbbFgONRv9qkxdawL"
			b.ReportAllocs()
			for b.Loop() {
				ex, err := a.NewExchange(mech.name, testDomain, store, nil)
				if err != nil {
					b.Fatal(err)
				}
				serverFirst, _, err := ex.Step(ctx, []byte("n,,"+clientFirstBare))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				final := scramClientFinal(mech.h, sp, clientFirstBare, serverFirst)
				b.StartTimer()
				if _, done, err := ex.Step(ctx, final); err != nil || !done {
					b.Fatalf("final step: done %v, %v", done, err)
				}
			}
		})
	}

	for _, n := range []int{1, 2} { // a client's used token, and a pending one beside it
		name := "HT-SHA-256-NONE"
		if n == 2 {
			name += "/pending-token-too"
		}
		b.Run(name, func(b *testing.B) {
			token, digest := NewToken()
			keys := [][]byte{digest}
			if n == 2 {
				_, pending := NewToken()
				keys = [][]byte{pending, digest}
			}
			lookup := func(context.Context, string) ([][]byte, error) { return keys, nil }
			msg := append([]byte("juliet\x00"), htClient(token, htInitiator, nil)...)
			b.ReportAllocs()
			for b.Loop() {
				ex, err := a.NewHTExchange(MechHTNone, testDomain, nil, lookup)
				if err != nil {
					b.Fatal(err)
				}
				if _, done, err := ex.Step(ctx, msg); err != nil || !done {
					b.Fatalf("step: done %v, %v", done, err)
				}
			}
		})
	}
}

// scramClientFinal is a SCRAM client's final message without channel
// binding, from its salted password sp.
func scramClientFinal(h func() hash.Hash, sp []byte, clientFirstBare string, serverFirst []byte) []byte {
	var nonce string
	for _, attr := range strings.Split(string(serverFirst), ",") {
		if v, ok := strings.CutPrefix(attr, "r="); ok {
			nonce = v
		}
	}
	without := "c=biws,r=" + nonce
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(h, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	clientKey := mac(sp, "Client Key")
	d := h()
	d.Write(clientKey)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, mac(d.Sum(nil), clientFirstBare+","+string(serverFirst)+","+without))
	return []byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof))
}
