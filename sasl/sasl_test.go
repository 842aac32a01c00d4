package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"hash"
	"slices"
	"strings"
	"testing"
)

func TestNewCredentials(t *testing.T) {
	const password = "r0m30myr0m30"
	for _, tc := range []struct {
		in, want int
	}{{0, 4096}, {-1, 4096}, {1000, 4096}, {4096, 4096}, {5000, 5000}} {
		creds, err := NewCredentials(password, tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if len(creds) != 2 || creds[0].Hash != "SHA-1" || creds[1].Hash != "SHA-256" {
			t.Fatalf("hashes: %+v", creds)
		}
		if bytes.Equal(creds[0].Salt, creds[1].Salt) {
			t.Error("both credentials share a salt")
		}
		for _, c := range creds {
			if c.Iterations != tc.want {
				t.Errorf("iterations(%d) = %d, want %d", tc.in, c.Iterations, tc.want)
			}
			if len(c.Salt) != 16 {
				t.Errorf("salt length %d", len(c.Salt))
			}
			h := map[string]func() hash.Hash{"SHA-1": sha1.New, "SHA-256": sha256.New}[c.Hash]
			sp, err := pbkdf2.Key(h, password, c.Salt, c.Iterations, h().Size())
			if err != nil {
				t.Fatal(err)
			}
			mac := hmac.New(h, sp)
			mac.Write([]byte("Client Key"))
			clientKey := mac.Sum(nil)
			d := h()
			d.Write(clientKey)
			mac = hmac.New(h, sp)
			mac.Write([]byte("Server Key"))
			if !bytes.Equal(c.StoredKey, d.Sum(nil)) || !bytes.Equal(c.ServerKey, mac.Sum(nil)) {
				t.Errorf("%s: keys do not follow RFC 5802", c.Hash)
			}
			// Nothing password-equivalent is stored.
			for _, field := range [][]byte{c.Salt, c.StoredKey, c.ServerKey} {
				if bytes.Equal(field, sp) || bytes.Equal(field, clientKey) || bytes.Contains(field, []byte(password)) {
					t.Errorf("%s: password-equivalent data stored", c.Hash)
				}
			}
		}
	}
	a, _ := NewCredentials(password, 0)
	b, _ := NewCredentials(password, 0)
	if bytes.Equal(a[0].Salt, b[0].Salt) || bytes.Equal(a[1].StoredKey, b[1].StoredKey) {
		t.Error("salts repeat between calls")
	}
	for _, bad := range []string{"", "bell\x07"} {
		if _, err := NewCredentials(bad, 0); err == nil {
			t.Errorf("NewCredentials(%q) succeeded", bad)
		}
	}
	// The password is normalized: U+00A0 and U+0020 give the same keys.
	nb, _ := NewCredentials("a\u00a0b", 0)
	c, err := deriveCredential("SHA-256", "a b", nb[1].Salt, nb[1].Iterations)
	if err != nil || !bytes.Equal(c.StoredKey, nb[1].StoredKey) {
		t.Errorf("password not normalized with OpaqueString (err %v)", err)
	}
}

func TestMechanisms(t *testing.T) {
	cb := map[string][]byte{"tls-exporter": {1}}
	for _, tc := range []struct {
		name string
		cb   map[string][]byte
		tls  bool
		want string
	}{
		{"no TLS", nil, false, ""},
		{"no TLS with cb", cb, false, ""},
		{"TLS", nil, true, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"},
		{"TLS empty cb data", map[string][]byte{"tls-exporter": nil}, true, "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"},
		{"TLS with cb", cb, true, "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"},
	} {
		if got := strings.Join(Mechanisms(tc.cb, tc.tls), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNewExchangeMechanism(t *testing.T) {
	store := testStore(t)
	cb := map[string][]byte{"tls-exporter": {1}}
	for _, tc := range []struct {
		mech string
		cb   map[string][]byte
		want string
	}{
		{"PLAIN", nil, ""},
		{"SCRAM-SHA-1", nil, ""},
		{"SCRAM-SHA-256", cb, ""},
		{"SCRAM-SHA-1-PLUS", cb, ""},
		{"SCRAM-SHA-256-PLUS", cb, ""},
		{"SCRAM-SHA-256-PLUS", nil, "invalid-mechanism"},
		{"SCRAM-SHA-1-PLUS", map[string][]byte{}, "invalid-mechanism"},
		{"SCRAM-SHA-512", nil, "invalid-mechanism"},
		{"scram-sha-1", nil, "invalid-mechanism"},
		{"DIGEST-MD5", nil, "invalid-mechanism"},
		{"ANONYMOUS", nil, "invalid-mechanism"},
		{"", nil, "invalid-mechanism"},
	} {
		ex, err := NewExchange(tc.mech, testDomain, store, tc.cb)
		if got := condition(t, err); got != tc.want {
			t.Errorf("%q: condition %q, want %q", tc.mech, got, tc.want)
		}
		if (err == nil) != (ex != nil) {
			t.Errorf("%q: exchange %v with error %v", tc.mech, ex, err)
		}
	}
	if _, err := NewExchange("PLAIN", testDomain, nil, nil); err == nil {
		t.Error("nil credential source accepted")
	}
}

func TestChannelBindings(t *testing.T) {
	if cb := ChannelBindings(nil, nil); cb != nil {
		t.Errorf("nil state: %v", cb)
	}
	for _, tc := range []struct {
		name  string
		v     uint16
		leaf  bool
		types string
	}{
		{"TLS1.3", tls.VersionTLS13, true, "tls-exporter tls-server-end-point"},
		{"TLS1.3 no leaf", tls.VersionTLS13, false, "tls-exporter"},
		{"TLS1.2", tls.VersionTLS12, true, "tls-server-end-point"},
		{"TLS1.2 no leaf", tls.VersionTLS12, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTLSPair(t, tc.v)
			var leaf *x509.Certificate
			if tc.leaf {
				leaf = p.leaf
			}
			cb := ChannelBindings(&p.server, leaf)
			var types []string
			for k := range cb {
				types = append(types, k)
			}
			slices.Sort(types)
			if got := strings.Join(types, " "); got != tc.types {
				t.Fatalf("types %q, want %q", got, tc.types)
			}
			for typ, data := range cb {
				if want := p.clientCB(t, typ); !bytes.Equal(data, want) {
					t.Errorf("%s: server %x, client %x", typ, data, want)
				}
			}
		})
	}
}

func TestEndPointHash(t *testing.T) {
	for _, tc := range []struct {
		alg  x509.SignatureAlgorithm
		want int // digest size, 0 for none
	}{
		{x509.MD5WithRSA, 32}, {x509.SHA1WithRSA, 32}, {x509.ECDSAWithSHA1, 32},
		{x509.SHA256WithRSA, 32}, {x509.ECDSAWithSHA256, 32}, {x509.SHA256WithRSAPSS, 32},
		{x509.SHA384WithRSA, 48}, {x509.ECDSAWithSHA384, 48},
		{x509.SHA512WithRSA, 64}, {x509.ECDSAWithSHA512, 64},
		{x509.PureEd25519, 0}, {x509.UnknownSignatureAlgorithm, 0},
	} {
		h, ok := endPointHash(tc.alg)
		got := 0
		if ok {
			got = h.Size()
		}
		if got != tc.want {
			t.Errorf("%v: digest size %d, want %d", tc.alg, got, tc.want)
		}
	}
}

func TestFailureError(t *testing.T) {
	f := &Failure{Condition: "not-authorized", Text: "nope"}
	if f.Error() != "sasl: not-authorized: nope" {
		t.Errorf("Error() = %q", f.Error())
	}
	if (&Failure{Condition: "aborted"}).Error() != "sasl: aborted" {
		t.Error("Error() without text")
	}
}
