package testutil

import (
	"crypto/sha1"
	"encoding/hex"
	"testing"
	"time"

	"parley/xmlstream"
)

// DialComponent connects an external component (XEP-0114) serving domain
// to the server's component listener at addr, authenticating it with
// secret, and returns it as a Client whose JID is the domain.
func DialComponent(t testing.TB, addr, domain, secret string) *Client {
	t.Helper()
	s := DialRaw(t, addr)
	s.Write("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "'>")
	s.RD = xmlstream.NewReader(s.BR, 1<<20)
	s.Conn.SetReadDeadline(time.Now().Add(Timeout))
	h, err := s.RD.ReadHeader()
	if err != nil {
		t.Fatalf("component %s: read the server's stream header: %v", domain, err)
	}
	sum := sha1.Sum([]byte(h.ID + secret))
	s.Write("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>")
	if el := s.Next(); el.Local != "handshake" {
		t.Fatalf("component %s: handshake answered with %s", domain, el)
	}
	return s.client(domain)
}
