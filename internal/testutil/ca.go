package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a throwaway certificate authority for tests whose servers must
// verify each other's certificates (s2s with SASL EXTERNAL). Its key is
// ECDSA P-256, as are the keys of the certificates it issues.
type CA struct {
	// File is the path of the CA certificate, PEM-encoded: the file a
	// peer is told to trust.
	File string
	// Cert is the CA certificate.
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewCA creates a certificate authority in a temporary directory of t.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "parley test CA", Organization: []string{"parley tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, file, "CERTIFICATE", der, 0o644)
	return &CA{File: file, Cert: cert, key: key}
}

// Issue creates a certificate signed by ca for the DNS names (the first
// is also the subject's common name) and returns the paths of the
// certificate and of its private key (PKCS#8, mode 0600) in a temporary
// directory of t. The certificate is valid from an hour ago for a day,
// for both server and client authentication (a server presents it on
// the s2s streams it initiates too). It carries DNS names only: no
// id-on-xmppAddr, which ejabberd cannot handle.
func (ca *CA) Issue(t testing.TB, names ...string) (certFile, keyFile string) {
	t.Helper()
	return issue(t, ca.Cert, ca.key, names)
}

// IssueTo issues a certificate as Issue does and installs it at certFile
// and keyFile, as an admin renewing a certificate does.
func (ca *CA) IssueTo(t testing.TB, certFile, keyFile string, names ...string) {
	t.Helper()
	cert, key := ca.Issue(t, names...)
	for src, dst := range map[string]string{cert: certFile, key: keyFile} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// SelfSigned creates a self-signed leaf certificate for the DNS names, like
// CA.Issue: for peers that must not be able to verify each other and so
// fall back to dialback.
func SelfSigned(t testing.TB, names ...string) (certFile, keyFile string) {
	t.Helper()
	return issue(t, nil, nil, names)
}

// issue writes a leaf certificate for names signed by parent (nil: by
// itself) to a new temporary directory.
func issue(t testing.TB, parent *x509.Certificate, parentKey crypto.Signer, names []string) (certFile, keyFile string) {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("a certificate needs at least one name")
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("create certificate for %v: %v", names, err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	dir := t.TempDir()
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der, 0o644)
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8, 0o600)
	return certFile, keyFile
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

func writePEM(t testing.TB, file, typ string, der []byte, mode os.FileMode) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(file, data, mode); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
	// WriteFile leaves the mode of an existing file and is subject to
	// the umask: make sure a key is never readable by others.
	if err := os.Chmod(file, mode); err != nil {
		t.Fatalf("chmod %s: %v", file, err)
	}
}
