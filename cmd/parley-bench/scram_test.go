package main

import (
	"strings"
	"testing"
)

// TestSCRAMVectors runs the example exchanges of RFC 5802 §5 (SHA-1) and
// RFC 7677 §3 (SHA-256).
func TestSCRAMVectors(t *testing.T) {
	for _, tc := range []struct {
		mech, nonce, serverFirst, clientFinal, serverFinal string
	}{
		{
			"SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL",
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			"SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cache := newSCRAMCache()
			for round := range 2 { // the second round uses the cached keys
				c, err := newSCRAMClient(tc.mech, "user", "pencil", tc.nonce, cache)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := string(c.first()), "n,,n=user,r="+tc.nonce; got != want {
					t.Fatalf("client-first %q, want %q", got, want)
				}
				final, err := c.final([]byte(tc.serverFirst))
				if err != nil {
					t.Fatal(err)
				}
				if string(final) != tc.clientFinal {
					t.Fatalf("round %d: client-final %q, want %q", round, final, tc.clientFinal)
				}
				if err := c.verify([]byte(tc.serverFinal)); err != nil {
					t.Fatalf("verify: %v", err)
				}
				if err := c.verify([]byte("v=AAAA")); err == nil {
					t.Fatal("a wrong server signature verified")
				}
			}
			if len(cache.m) != 1 {
				t.Errorf("cache has %d entries, want 1", len(cache.m))
			}
		})
	}
}

func TestSCRAMRejects(t *testing.T) {
	for _, tc := range []struct{ name, serverFirst, want string }{
		{"foreign nonce", "r=other,s=QSXCR+Q6sek8bf92,i=4096", "nonce"},
		{"nonce not extended", "r=abc,s=QSXCR+Q6sek8bf92,i=4096", "nonce"},
		{"bad iterations", "r=abcdef,s=QSXCR+Q6sek8bf92,i=0", "iteration"},
		{"bad salt", "r=abcdef,s=!!,i=4096", "salt"},
		{"extension", "m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096", "extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newSCRAMClient("SCRAM-SHA-1", "user", "pencil", "abc", newSCRAMCache())
			c.first()
			_, err := c.final([]byte(tc.serverFirst))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
	c, _ := newSCRAMClient("SCRAM-SHA-1", "a=b,c", "pw", "n", newSCRAMCache())
	if got := string(c.first()); got != "n,,n=a=3Db=2Cc,r=n" {
		t.Errorf("escaped username: %q", got)
	}
}
