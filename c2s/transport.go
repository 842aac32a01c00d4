package c2s

import (
	"crypto/tls"
	"time"

	"parley/stanza"
	"parley/xmlstream"
)

// transport carries one client stream: its XML in both directions,
// encryption and the wait for input. tcpTransport is TCP with STARTTLS or
// direct TLS. WebSocket (RFC 7395) and BOSH (XEP-0206) carry the same
// stream with framing of their own (an <open/> element instead of the
// stream header, one element per message or request); they fit behind
// the same methods, so that negotiation, stanza handling and sessions do
// not change with them.
type transport interface {
	streamReader
	streamWriter
	// Opening returns the server's opening of a stream from the domain
	// from, with stream id id; Closing returns the end of the stream.
	Opening(from, id string) string
	Closing() string
	// StartTLS runs a TLS handshake as the server, to finish by deadline,
	// and goes on over TLS.
	StartTLS(cfg *tls.Config, deadline time.Time) error
	// Secure reports whether the stream is encrypted, by TLS of its own
	// or by the HTTPS or trusted listener that carries it.
	Secure() bool
	// TLSState returns the state of the stream's TLS connection, or nil
	// while it is not encrypted.
	TLSState() *tls.ConnectionState
	// RemoteAddr returns the client's address (host:port).
	RemoteAddr() string
	// SetReadDeadline bounds negotiation: reads after t fail with a
	// timeout; the zero time removes the bound.
	SetReadDeadline(t time.Time)
	// WaitInput returns once input is available. A stream quiet for
	// parkAfter may be parked instead, where the transport can: WaitInput
	// then reports true, the stream holds no goroutine and no read
	// buffer, and the transport calls the resume function it was made
	// with in a new goroutine once input arrives or it is closed.
	WaitInput(parkAfter time.Duration) (parked bool, err error)
	// Close closes the transport, once; with lingering the client may
	// still read what was written, such as a stream error, while its
	// input is discarded (see package linger). A parked stream is
	// resumed, so that its reader sees the end.
	Close(lingering bool)
}

// streamReader is the reading half of a transport.
type streamReader interface {
	// ReadHeader starts a new stream, at first and after each restart,
	// refusing stanzas larger than maxStanza bytes, and reads the
	// client's opening.
	ReadHeader(maxStanza int) (xmlstream.Header, error)
	// Next returns the next top-level element (see xmlstream.Reader).
	Next() (*stanza.Element, error)
}

// streamWriter is the writing half of a transport. It never blocks on
// the network.
type streamWriter interface {
	// Send queues a stanza; it reports false once the writer stopped
	// accepting them.
	Send(el *stanza.Element) bool
	// SendRaw queues serialized XML.
	SendRaw(s string) bool
	// Drain waits up to timeout until everything queued was written.
	Drain(timeout time.Duration)
	// Finish queues the parts of final (the opening, if it was not sent,
	// a stream error, the closing), refuses anything after them and waits
	// up to timeout for the queue to be written.
	Finish(timeout time.Duration, final ...string)
}
