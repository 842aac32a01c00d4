package s2s

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// verifyPeerCert checks that a peer's certificate chain is valid for
// domain under roots (nil means the system roots). Any extended key usage
// is accepted: public CAs are dropping clientAuth, so a server certificate
// with serverAuth only still identifies the peer on an incoming link.
func verifyPeerCert(chain []*x509.Certificate, domain string, roots *x509.CertPool) error {
	if len(chain) == 0 {
		return errors.New("no certificate presented")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       domain,
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("certificate not valid for %s: %w", domain, err)
	}
	return nil
}
