package s2s_test

import (
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/xmlstream"
)

// TestShutdownErrorFollowsAStreamHeader: a stream closed by a shutdown
// before its header was answered still gets a header before the
// system-shutdown error, or the error would not be well-formed (RFC 6120
// §4.9.1.1).
func TestShutdownErrorFollowsAStreamHeader(t *testing.T) {
	b := federate(t, peer{domain: "b.test"})[0]
	p := dialRawPeer(t, b.Server.Addr("s2s"))
	p.write("<?xml version='1.0'?>") // the header is still to come
	time.Sleep(200 * time.Millisecond)
	b.Stop()
	p.rd = xmlstream.NewReader(p.br, 1<<20)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := p.rd.ReadHeader(); err != nil {
		t.Fatalf("expected a stream header before the shutdown error: %v", err)
	}
	if got := p.streamError(); got != "system-shutdown" {
		t.Errorf("stream error %q, want system-shutdown", got)
	}
}

// TestMalformedToFromAnUnauthenticatedPeer: a stanza from a peer that has
// not authenticated gets invalid-from whatever its to, and nothing is
// sent back over the incoming stream.
func TestMalformedToFromAnUnauthenticatedPeer(t *testing.T) {
	b := federate(t, peer{domain: "b.test"})[0]
	p := dialbackPeer(t, b.Server.Addr("s2s"), "evil.test")
	p.write("<message from='mallory@evil.test' to='bob@@b.test' type='chat'><body>x</body></message>")
	el := p.next()
	if !isStreamErrorEl(el) || el.FirstElement().Local != "invalid-from" {
		t.Errorf("got %s, want an invalid-from stream error", el)
	}
}

// TestMalformedToFromAnAuthenticatedPeer: a malformed to between servers
// is a stream error (RFC 6120 §4.9.3.14); an error stanza cannot go back
// over an incoming stream that is not bidirectional.
func TestMalformedToFromAnAuthenticatedPeer(t *testing.T) {
	ca := testutil.NewCA(t)
	b := federate(t, peer{domain: "b.test", tls: tlsKeys(t, ca, "b.test")})[0]
	p := externalPeer(t, b.Server.Addr("s2s"), "evil.test", "b.test", ca)
	p.write("<message from='mallory@evil.test' to='bob@@b.test' type='chat'><body>x</body></message>")
	el := p.next()
	if !isStreamErrorEl(el) || el.FirstElement().Local != "improper-addressing" {
		t.Errorf("got %s, want an improper-addressing stream error", el)
	}
}
