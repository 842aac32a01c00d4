package c2s_test

import (
	"bufio"
	"crypto/tls"
	"strings"
	"testing"

	"parley/c2s"
	"parley/internal/testutil"
	"parley/stanza"
)

// fastMechanisms lists the FAST mechanisms of a stream's features.
func fastMechanisms(features *stanza.Element) string {
	var m []string
	fast := features.Child(c2s.NSSASL2, "authentication").Child(c2s.NSSASL2, "inline").Child(c2s.NSFast, "fast")
	for _, el := range fast.ChildrenNamed(c2s.NSFast, "mechanism") {
		m = append(m, el.Text())
	}
	return strings.Join(m, " ")
}

// TestAuthFeaturesPerConnection checks that the authentication features,
// rendered once per kind of connection, are each connection's own: a
// TLS 1.2 stream, which has no tls-exporter binding, after TLS 1.3
// streams that do, and a TLS 1.3 stream again.
func TestAuthFeaturesPerConnection(t *testing.T) {
	srv := smServer(t, "")
	for _, c := range []struct {
		version                  uint16
		cbTypes, mechs, fastMech string
	}{
		{tls.VersionTLS13, "tls-exporter tls-server-end-point",
			"SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
			"HT-SHA-256-EXPR HT-SHA-256-ENDP HT-SHA-256-NONE"},
		{tls.VersionTLS13, "tls-exporter tls-server-end-point",
			"SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
			"HT-SHA-256-EXPR HT-SHA-256-ENDP HT-SHA-256-NONE"},
		{tls.VersionTLS12, "tls-server-end-point",
			"SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
			"HT-SHA-256-ENDP HT-SHA-256-NONE"},
		{tls.VersionTLS13, "tls-exporter tls-server-end-point",
			"SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1 PLAIN",
			"HT-SHA-256-EXPR HT-SHA-256-ENDP HT-SHA-256-NONE"},
	} {
		s := testutil.DialStream(t, srv.Addr, srv.Domain)
		s.Write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		if el := s.Next(); el.Local != "proceed" {
			t.Fatalf("starttls: got %s", el)
		}
		tc := tls.Client(s.Conn, &tls.Config{ServerName: srv.Domain, InsecureSkipVerify: true, MaxVersion: c.version})
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		s.Conn, s.BR = tc, bufio.NewReader(tc)
		features := s.Open(srv.Domain)

		legacy, cbTypes := offered(t, features, nsSASL)
		mechs, _ := offered(t, features, c2s.NSSASL2)
		if got := strings.Join(cbTypes, " "); got != c.cbTypes {
			t.Errorf("TLS %x: channel-binding types %q, want %q", c.version, got, c.cbTypes)
		}
		if got := strings.Join(legacy, " "); got != c.mechs {
			t.Errorf("TLS %x: SASL mechanisms %q, want %q", c.version, got, c.mechs)
		}
		if got := strings.Join(mechs, " "); got != c.mechs {
			t.Errorf("TLS %x: SASL2 mechanisms %q, want %q", c.version, got, c.mechs)
		}
		if got := fastMechanisms(features); got != c.fastMech {
			t.Errorf("TLS %x: FAST mechanisms %q, want %q", c.version, got, c.fastMech)
		}
		s.Conn.Close()
	}
}
