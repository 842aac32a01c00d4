// Package certs provides parley's TLS certificate: the configured one, or a
// self-signed one generated on first start and kept in the data directory.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/idna"
)

// Names of the generated files inside the data directory.
const (
	SelfSignedCert = "selfsigned.crt" // PEM certificate
	SelfSignedKey  = "selfsigned.key" // PEM PKCS#8 private key, mode 0600
)

// validity is the lifetime of a generated certificate.
const validity = 10 * 365 * 24 * time.Hour

// LoadOrGenerate returns the server's certificate with Leaf set.
//
// If certFile or keyFile is set, both must be, and the PEM pair is loaded
// from them. Otherwise a self-signed ECDSA P-256 certificate for names (the
// served domains and other hosted services) is kept in dataDir as
// selfsigned.crt and selfsigned.key: it is generated on first use, reused
// later, and regenerated when it no longer covers every name or has
// expired. dataDir is created (mode 0700) if needed.
func LoadOrGenerate(certFile, keyFile, dataDir string, names []string, log zerolog.Logger) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		cert, err := loadPair(certFile, keyFile)
		if err != nil {
			return tls.Certificate{}, err
		}
		if reason := unfit(cert.Leaf, names, time.Now()); reason != "" {
			log.Warn().Str("file", certFile).Msgf("configured certificate %s", reason)
		}
		return cert, nil
	}
	if len(names) == 0 {
		return tls.Certificate{}, errors.New("generate certificate: no names to certify")
	}
	if dataDir == "" {
		return tls.Certificate{}, errors.New("generate certificate: no data directory")
	}
	certFile = filepath.Join(dataDir, SelfSignedCert)
	keyFile = filepath.Join(dataDir, SelfSignedKey)

	var reason string
	cert, err := loadPair(certFile, keyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "first start"
	case errors.Is(err, fs.ErrPermission):
		return tls.Certificate{}, err
	case err != nil:
		log.Warn().Err(err).Msg("existing self-signed certificate is unusable; generating a new one")
		reason = "existing one unusable"
	default:
		reason = unfit(cert.Leaf, names, time.Now())
		if reason == "" {
			log.Debug().Str("file", certFile).Msg("using self-signed certificate")
			return cert, nil
		}
	}

	certPEM, keyPEM, err := generate(names, time.Now(), validity)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate certificate: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("create data directory: %w", err)
	}
	// Write the key first: if interrupted between the two, the pair does
	// not match and is regenerated at the next start.
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generated certificate: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("generated certificate: %w", err)
		}
	}
	log.Info().Str("file", certFile).Strs("names", names).Str("reason", reason).
		Msg("generated self-signed certificate")
	return cert, nil
}

// LoadPool returns the system's trusted roots plus the PEM certificates in
// caFile, or only the system's roots if caFile is empty.
func LoadPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate found", caFile)
	}
	return pool, nil
}

// loadPair loads a PEM certificate chain and private key, with Leaf set.
// Errors name the file at fault.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	switch {
	case certFile == "":
		return tls.Certificate{}, fmt.Errorf("certificate file not set for key %s", keyFile)
	case keyFile == "":
		return tls.Certificate{}, fmt.Errorf("key file not set for certificate %s", certFile)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read key: %w", err)
	}
	leaf, err := parseLeaf(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certFile, err)
	}
	if !hasPEM(keyPEM, "PRIVATE KEY") {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM private key found", keyFile)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s with %s: %w", keyFile, certFile, err)
	}
	cert.Leaf = leaf
	return cert, nil
}

// parseLeaf returns the first certificate in PEM data.
func parseLeaf(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// hasPEM reports whether data holds a PEM block whose type ends in suffix.
func hasPEM(data []byte, suffix string) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, suffix) {
			return true
		}
	}
}

// unfit returns why leaf cannot serve names at time now, or "" if it can.
func unfit(leaf *x509.Certificate, names []string, now time.Time) string {
	if now.After(leaf.NotAfter) {
		return "expired on " + leaf.NotAfter.UTC().Format(time.DateOnly)
	}
	if now.Before(leaf.NotBefore) {
		return "is not valid before " + leaf.NotBefore.UTC().Format(time.DateOnly)
	}
	var missing []string
	for _, n := range names {
		ascii, err := asciiName(n)
		if err != nil || leaf.VerifyHostname(ascii) != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "does not cover " + strings.Join(missing, ", ")
	}
	return ""
}

// asciiName returns n as certificates spell it: IP addresses unchanged,
// internationalized domain names as A-labels.
func asciiName(n string) (string, error) {
	if net.ParseIP(strings.Trim(n, "[]")) != nil {
		return n, nil
	}
	return idna.Lookup.ToASCII(n)
}

// generate creates a self-signed ECDSA P-256 certificate for names, valid
// from shortly before start for the given duration, usable by servers and
// by clients (server-to-server). It returns the PEM certificate and PKCS#8
// key.
func generate(names []string, start time.Time, valid time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             start.Add(-time.Hour),
		NotAfter:              start.Add(valid),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, n := range names {
		if ip := net.ParseIP(strings.Trim(n, "[]")); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		ascii, err := asciiName(n)
		if err != nil {
			return nil, nil, fmt.Errorf("name %q: %w", n, err)
		}
		if !slices.Contains(tmpl.DNSNames, ascii) {
			tmpl.DNSNames = append(tmpl.DNSNames, ascii)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// writeFile atomically replaces path with data, with the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
