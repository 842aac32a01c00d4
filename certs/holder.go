package certs

import (
	"crypto/tls"
	"sync/atomic"
)

// Holder holds the server certificate that every TLS listener and
// outgoing link presents, and replaces it on Reload: connections made
// afterwards get the new one, established ones keep theirs.
type Holder struct {
	load func() (tls.Certificate, error)
	cur  atomic.Pointer[tls.Certificate]
}

// NewHolder loads the certificate with load, which Reload calls again.
func NewHolder(load func() (tls.Certificate, error)) (*Holder, error) {
	h := &Holder{load: load}
	if err := h.Reload(); err != nil {
		return nil, err
	}
	return h, nil
}

// Reload loads the certificate again; on failure the current one stays
// and the error says why.
func (h *Holder) Reload() error {
	c, err := h.load()
	if err != nil {
		return err
	}
	h.cur.Store(&c)
	return nil
}

// Certificate returns the current certificate.
func (h *Holder) Certificate() *tls.Certificate { return h.cur.Load() }

// GetCertificate returns the current certificate, for tls.Config.
func (h *Holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.cur.Load(), nil
}

// GetClientCertificate returns the current certificate, for tls.Config
// of outgoing connections.
func (h *Holder) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return h.cur.Load(), nil
}
