package testutil

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"slices"
	"testing"
	"time"
)

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("%s: want exactly one CERTIFICATE block", file)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkLeaf checks what every issued certificate must be: a key file
// that only its owner reads and that matches, DNS names only (no
// otherName such as id-on-xmppAddr), both EKUs, valid now for about a
// day.
func checkLeaf(t *testing.T, certFile, keyFile string, names []string) *x509.Certificate {
	t.Helper()
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatalf("load key pair: %v", err)
	}
	if _, ok := pair.PrivateKey.(*ecdsa.PrivateKey); !ok {
		t.Errorf("key is %T, want ECDSA", pair.PrivateKey)
	}
	data, _ := os.ReadFile(keyFile)
	if b, _ := pem.Decode(data); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("key file is not a PKCS#8 PEM block")
	}
	c := readCert(t, certFile)
	if !slices.Equal(c.DNSNames, names) || c.Subject.CommonName != names[0] {
		t.Errorf("names %v (CN %q), want %v", c.DNSNames, c.Subject.CommonName, names)
	}
	if len(c.EmailAddresses)+len(c.IPAddresses)+len(c.URIs) != 0 {
		t.Errorf("unexpected subject alternative names: %v %v %v", c.EmailAddresses, c.IPAddresses, c.URIs)
	}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			t.Fatal(err)
		}
		for rest := seq.Bytes; len(rest) > 0; {
			var gn asn1.RawValue
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				t.Fatal(err)
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 2 {
				t.Errorf("subjectAltName entry with tag %d: only dNSName (2) is allowed", gn.Tag)
			}
		}
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("ExtKeyUsage %v, want serverAuth and clientAuth", c.ExtKeyUsage)
	}
	if c.IsCA {
		t.Error("leaf certificate is a CA")
	}
	now := time.Now()
	if !now.After(c.NotBefore.Add(50*time.Minute)) || c.NotAfter.Sub(now) < 20*time.Hour {
		t.Errorf("valid %v to %v", c.NotBefore, c.NotAfter)
	}
	return c
}

func TestCAIssue(t *testing.T) {
	ca := NewCA(t)
	names := []string{"pr.example.test", "conference.pr.example.test"}
	certFile, keyFile := ca.Issue(t, names...)
	leaf := checkLeaf(t, certFile, keyFile, names)

	caCert := readCert(t, ca.File)
	if !caCert.IsCA || !caCert.Equal(ca.Cert) {
		t.Fatalf("%s is not the CA certificate", ca.File)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	for _, name := range names {
		for _, eku := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{eku}}); err != nil {
				t.Errorf("verify %s for EKU %v: %v", name, eku, err)
			}
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.example.test", Roots: roots}); err == nil {
		t.Error("the certificate verifies for a name it does not carry")
	}
	// Another CA's certificates do not verify against this one.
	otherCert, _ := NewCA(t).Issue(t, names[0])
	if _, err := readCert(t, otherCert).Verify(x509.VerifyOptions{DNSName: names[0], Roots: roots}); err == nil {
		t.Error("a certificate of another CA verifies")
	}
}

func TestSelfSigned(t *testing.T) {
	names := []string{"ej.example.test"}
	certFile, keyFile := SelfSigned(t, names...)
	c := checkLeaf(t, certFile, keyFile, names)
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if _, err := c.Verify(x509.VerifyOptions{DNSName: names[0], Roots: x509.NewCertPool()}); err == nil {
		t.Error("a self-signed certificate verifies without being trusted")
	}
}
