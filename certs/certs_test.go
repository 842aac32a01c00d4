package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var discard = zerolog.New(io.Discard)

// sanOID is id-ce-subjectAltName.
var sanOID = asn1.ObjectIdentifier{2, 5, 29, 17}

func TestGenerateOnceAndReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	names := []string{"a.test", "conference.a.test"}
	var logs bytes.Buffer
	first, err := LoadOrGenerate("", "", dir, names, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if first.Leaf == nil {
		t.Fatal("Leaf not set")
	}
	if !strings.Contains(logs.String(), `"level":"info"`) || !strings.Contains(logs.String(), "generated self-signed certificate") {
		t.Errorf("generation not logged at info: %s", logs.String())
	}

	for path, want := range map[string]os.FileMode{
		dir:                                0o700 | os.ModeDir,
		filepath.Join(dir, SelfSignedKey):  0o600,
		filepath.Join(dir, SelfSignedCert): 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}

	logs.Reset()
	second, err := LoadOrGenerate("", "", dir, names, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Error("certificate regenerated on second start")
	}
	if strings.Contains(logs.String(), "generated") {
		t.Errorf("second start logged generation: %s", logs.String())
	}

	// A subset of the names is still covered.
	third, err := LoadOrGenerate("", "", dir, names[:1], discard)
	if err != nil {
		t.Fatal(err)
	}
	if third.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Error("certificate regenerated for a subset of its names")
	}
}

func TestGeneratedCertificate(t *testing.T) {
	names := []string{"a.test", "conference.a.test", "bücher.test", "127.0.0.1", "[::1]"}
	cert, err := LoadOrGenerate("", "", t.TempDir(), names, discard)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf

	priv, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("private key is %T, want *ecdsa.PrivateKey", cert.PrivateKey)
	}
	if priv.Curve != elliptic.P256() {
		t.Errorf("curve %s, want P-256", priv.Curve.Params().Name)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("public key algorithm %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}

	if want := []string{"a.test", "conference.a.test", "xn--bcher-kva.test"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IPAddresses = %v", leaf.IPAddresses)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(leaf.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, want)
	}
	if leaf.IsCA {
		t.Error("generated certificate is a CA")
	}
	if d := leaf.NotAfter.Sub(time.Now()); d < 9*365*24*time.Hour || d > validity {
		t.Errorf("valid for %v more, want about 10 years", d)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	// Only dNSName [2] and iPAddress [7]: no otherName (id-on-xmppAddr).
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(sanOID) {
			continue
		}
		var seq []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			t.Fatal(err)
		}
		for _, gn := range seq {
			if gn.Class != asn1.ClassContextSpecific || (gn.Tag != 2 && gn.Tag != 7) {
				t.Errorf("unexpected subjectAltName entry class %d tag %d", gn.Class, gn.Tag)
			}
		}
	}

	for _, n := range []string{"a.test", "conference.a.test", "xn--bcher-kva.test", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(n); err != nil {
			t.Errorf("VerifyHostname(%q): %v", n, err)
		}
	}
}

func TestRegenerate(t *testing.T) {
	names := []string{"a.test"}
	tests := []struct {
		name   string
		names  []string
		modify func(t *testing.T, dir string)
	}{
		{
			name:  "new name",
			names: []string{"a.test", "b.test"},
		},
		{
			name:  "expired",
			names: names,
			modify: func(t *testing.T, dir string) {
				certPEM, keyPEM, err := generate(names, time.Now().Add(-2*365*24*time.Hour), 365*24*time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				writeTestFile(t, filepath.Join(dir, SelfSignedCert), certPEM)
				writeTestFile(t, filepath.Join(dir, SelfSignedKey), keyPEM)
			},
		},
		{
			name:  "corrupt certificate",
			names: names,
			modify: func(t *testing.T, dir string) {
				writeTestFile(t, filepath.Join(dir, SelfSignedCert), []byte("garbage"))
			},
		},
		{
			name:  "key missing",
			names: names,
			modify: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, SelfSignedKey)); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := LoadOrGenerate("", "", dir, names, discard)
			if err != nil {
				t.Fatal(err)
			}
			if tt.modify != nil {
				tt.modify(t, dir)
			}
			var logs bytes.Buffer
			second, err := LoadOrGenerate("", "", dir, tt.names, zerolog.New(&logs))
			if err != nil {
				t.Fatal(err)
			}
			if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
				t.Fatal("certificate not regenerated")
			}
			if !strings.Contains(logs.String(), "generated self-signed certificate") {
				t.Errorf("regeneration not logged: %s", logs.String())
			}
			if reason := unfit(second.Leaf, tt.names, time.Now()); reason != "" {
				t.Errorf("regenerated certificate %s", reason)
			}
			// The regenerated files are reused in turn.
			third, err := LoadOrGenerate("", "", dir, tt.names, discard)
			if err != nil {
				t.Fatal(err)
			}
			if third.Leaf.SerialNumber.Cmp(second.Leaf.SerialNumber) != 0 {
				t.Error("regenerated certificate not reused")
			}
		})
	}
}

func TestLoadExplicit(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := generate([]string{"a.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "a.crt")
	keyFile := filepath.Join(dir, "a.key")
	writeTestFile(t, certFile, certPEM)
	writeTestFile(t, keyFile, keyPEM)

	dataDir := filepath.Join(dir, "data")
	cert, err := LoadOrGenerate(certFile, keyFile, dataDir, []string{"a.test"}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Leaf == nil || !slices.Equal(cert.Leaf.DNSNames, []string{"a.test"}) {
		t.Errorf("Leaf = %+v", cert.Leaf)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data directory touched with an explicit certificate: %v", err)
	}

	// A certificate not covering every name is still used, with a warning.
	var logs bytes.Buffer
	if _, err := LoadOrGenerate(certFile, keyFile, dataDir, []string{"a.test", "b.test"}, zerolog.New(&logs)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "b.test") {
		t.Errorf("no warning about the uncovered name: %s", logs.String())
	}
}

func TestLoadExplicitErrors(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := generate([]string{"a.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKeyPEM, err := generate([]string{"a.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"good.crt":    certPEM,
		"good.key":    keyPEM,
		"other.key":   otherKeyPEM,
		"garbage.crt": []byte("not PEM"),
		"garbage.key": []byte("not PEM"),
		"key-as.crt":  keyPEM,
		"bad-der.crt": []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	}
	for name, data := range files {
		writeTestFile(t, filepath.Join(dir, name), data)
	}
	tests := []struct {
		cert, key string
		want      []string // file names the error must contain
	}{
		{"missing.crt", "good.key", []string{"missing.crt"}},
		{"good.crt", "missing.key", []string{"missing.key"}},
		{"garbage.crt", "good.key", []string{"garbage.crt"}},
		{"key-as.crt", "good.key", []string{"key-as.crt"}},
		{"bad-der.crt", "good.key", []string{"bad-der.crt"}},
		{"good.crt", "garbage.key", []string{"garbage.key"}},
		{"good.crt", "other.key", []string{"other.key", "good.crt"}},
		{"good.crt", "", []string{"good.crt"}},
		{"", "good.key", []string{"good.key"}},
	}
	for _, tt := range tests {
		t.Run(tt.cert+"+"+tt.key, func(t *testing.T) {
			join := func(name string) string {
				if name == "" {
					return ""
				}
				return filepath.Join(dir, name)
			}
			_, err := LoadOrGenerate(join(tt.cert), join(tt.key), t.TempDir(), []string{"a.test"}, discard)
			if err == nil {
				t.Fatal("LoadOrGenerate succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := LoadOrGenerate("", "", t.TempDir(), nil, discard); err == nil {
		t.Error("no names: succeeded")
	}
	if _, err := LoadOrGenerate("", "", "", []string{"a.test"}, discard); err == nil {
		t.Error("no data directory: succeeded")
	}
	// The data directory cannot be created under a regular file.
	file := filepath.Join(t.TempDir(), "file")
	writeTestFile(t, file, nil)
	if _, err := LoadOrGenerate("", "", filepath.Join(file, "data"), []string{"a.test"}, discard); err == nil {
		t.Error("data directory under a file: succeeded")
	}
}

func TestLoadPool(t *testing.T) {
	system, err := LoadPool("")
	if err != nil || system == nil {
		t.Fatalf("LoadPool(\"\") = %v, %v", system, err)
	}

	dir := t.TempDir()
	certPEM, _, err := generate([]string{"peer.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	writeTestFile(t, caFile, certPEM)
	pool, err := LoadPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := parseLeaf(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "peer.test"}); err != nil {
		t.Errorf("certificate from the CA file not trusted: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: system, DNSName: "peer.test"}); err == nil {
		t.Error("system pool was modified")
	}

	garbage := filepath.Join(dir, "garbage.pem")
	writeTestFile(t, garbage, []byte("not PEM"))
	for _, file := range []string{garbage, filepath.Join(dir, "missing.pem")} {
		if _, err := LoadPool(file); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("LoadPool(%q) error = %v, want one naming the file", file, err)
		}
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
