package sasl

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"strings"
	"testing"
)

// TestDowngradeHashExample checks the example of XEP-0474 §4.3: SHA-1 of
// "SCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1ftls-exporter\x1etls-server-end-point".
func TestDowngradeHashExample(t *testing.T) {
	got := DowngradeHash("SCRAM-SHA-1-PLUS",
		[]string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
		[]string{"tls-server-end-point", "tls-exporter"})
	if want := "G6k/rBLDqgOhRRaCuuatSDFkJ08="; got != want {
		t.Fatalf("hash %q, want %q", got, want)
	}
	// Without XEP-0440 no separator is hashed; an empty list is one.
	if DowngradeHash("SCRAM-SHA-256", []string{"PLAIN"}, nil) == DowngradeHash("SCRAM-SHA-256", []string{"PLAIN"}, []string{}) {
		t.Fatal("an advertised empty channel-binding list hashes like none")
	}
}

// TestDowngradeProtectionAttribute runs SCRAM exchanges with the option:
// server-first carries h= and the client's proof over it succeeds; a
// client that saw a different offer computes a different value.
func TestDowngradeProtectionAttribute(t *testing.T) {
	ctx := context.Background()
	p := newTLSPair(t, 0x0304)
	cb := p.serverCB()
	mechs := Mechanisms(cb, true)
	types := ChannelBindingTypes(cb)
	if len(types) != 2 {
		t.Fatalf("channel-binding types %v", types)
	}
	for _, tc := range []struct {
		mech, gs2, cbType string
	}{
		{"SCRAM-SHA-256", "n,,", ""},
		{"SCRAM-SHA-1", "n,,", ""},
		{"SCRAM-SHA-256-PLUS", "p=tls-exporter,,", "tls-exporter"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			ex, err := NewAuthenticator().NewExchange(tc.mech, testDomain, testStore(t), cb, DowngradeProtection(mechs, types))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New
			if strings.HasPrefix(tc.mech, "SCRAM-SHA-1") {
				h = sha1.New
			}
			c := &rawClient{h: h, user: "juliet", pass: "r0m30myr0m30", gs2: tc.gs2}
			if tc.cbType != "" {
				c.cbData = p.clientCB(t, tc.cbType)
			}
			sf, _, err := ex.Step(ctx, c.first())
			if err != nil {
				t.Fatal(err)
			}
			want := ",h=" + DowngradeHash(tc.mech, mechs, types)
			if !strings.HasSuffix(string(sf), want) {
				t.Fatalf("server-first %q does not end in %q", sf, want)
			}
			if DowngradeHash(tc.mech, mechs[len(mechs)-3:], types) == DowngradeHash(tc.mech, mechs, types) {
				t.Fatal("a reduced offer hashes like the full one")
			}
			out, done, err := ex.Step(ctx, c.final(t, sf, nil))
			if err != nil || !done {
				t.Fatalf("client-final: done=%v err=%v", done, err)
			}
			c.verify(t, out)
		})
	}
}

// TestNoDowngradeProtectionByDefault keeps server-first as it was for
// callers that do not ask.
func TestNoDowngradeProtectionByDefault(t *testing.T) {
	ex, err := NewExchange("SCRAM-SHA-256", testDomain, testStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{h: sha256.New, user: "juliet", pass: "r0m30myr0m30", gs2: "n,,"}
	sf, _, err := ex.Step(context.Background(), c.first())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sf), ",h=") {
		t.Fatalf("server-first %q has h=", sf)
	}
}
