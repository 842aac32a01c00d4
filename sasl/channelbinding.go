package sasl

import (
	"crypto"
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for crypto.Hash.New
	"crypto/tls"
	"crypto/x509"
)

// Channel-binding types.
const (
	cbTLSExporter       = "tls-exporter"
	cbTLSServerEndPoint = "tls-server-end-point"
	exporterLabel       = "EXPORTER-Channel-Binding"
	exporterLength      = 32
)

// ChannelBindings returns the channel-binding data the TLS connection
// supports, keyed by type: "tls-exporter" (RFC 9266; TLS 1.3 only) and
// "tls-server-end-point" (RFC 5929: the hash of the server's own leaf
// certificate, SHA-256 for MD5 or SHA-1 signatures, else the signature's
// hash; omitted for signature algorithms without a single hash, such as
// Ed25519). It returns nil when cs is nil or nothing is supported.
func ChannelBindings(cs *tls.ConnectionState, leaf *x509.Certificate) map[string][]byte {
	if cs == nil {
		return nil
	}
	cb := make(map[string][]byte)
	if cs.Version == tls.VersionTLS13 {
		if ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, exporterLength); err == nil && len(ekm) > 0 {
			cb[cbTLSExporter] = ekm
		}
	}
	if leaf != nil {
		if h, ok := endPointHash(leaf.SignatureAlgorithm); ok {
			d := h.New()
			d.Write(leaf.Raw)
			cb[cbTLSServerEndPoint] = d.Sum(nil)
		}
	}
	if len(cb) == 0 {
		return nil
	}
	return cb
}

// endPointHash picks the tls-server-end-point hash (RFC 5929 §4.1).
func endPointHash(alg x509.SignatureAlgorithm) (crypto.Hash, bool) {
	switch alg {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.DSAWithSHA256, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS:
		return crypto.SHA256, true
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		return crypto.SHA384, true
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		return crypto.SHA512, true
	}
	return 0, false
}
