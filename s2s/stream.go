package s2s

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"parley/internal/linger"
	"parley/stanza"
	"parley/xmlstream"
)

// Namespaces used on server streams.
const (
	nsTLS         = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL        = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBidiFeature = "urn:xmpp:features:bidi"
	nsBidi        = "urn:xmpp:bidi"
)

// transport is one server-to-server connection: TCP, TLS once negotiated,
// and the XML stream reader and writer on top. It is owned by the
// goroutine that reads it; the writer may be used from any goroutine.
type transport struct {
	raw     net.Conn // TCP connection
	nc      net.Conn // current transport: raw, or TLS over it
	br      *bufio.Reader
	rd      *xmlstream.Reader
	w       *xmlstream.Writer
	maxSize int

	tls       bool
	peerCerts []*x509.Certificate
}

func newTransport(raw net.Conn, maxSize int, onWriteError func(error)) *transport {
	t := &transport{raw: raw, nc: raw, maxSize: maxSize}
	t.br = bufio.NewReaderSize(raw, 4096)
	t.w = xmlstream.NewWriter(raw, xmlstream.WriterOptions{Timeout: time.Minute, OnError: onWriteError})
	return t
}

// restart begins reading a new stream (after TLS or SASL success).
func (t *transport) restart() { t.rd = xmlstream.NewReader(t.br, t.maxSize) }

// upgrade switches the connection to TLS. Nothing may be pending in
// either direction: the writer is drained and the read buffer empty.
func (t *transport) upgrade(tc *tls.Conn, deadline time.Time) error {
	if t.br.Buffered() > 0 {
		return errors.New("peer sent data before the TLS handshake")
	}
	t.w.Drain(10 * time.Second)
	t.raw.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	t.raw.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	t.peerCerts = st.PeerCertificates
	t.nc, t.tls = tc, true
	t.br = bufio.NewReaderSize(tc, 4096)
	t.w.SetConn(tc)
	return nil
}

// close ends the stream with an optional stream error and closes the
// connection.
func (t *transport) close(condition, text string) {
	t.w.Close(closingTags(condition, text), 2*time.Second)
	t.raw.Close()
}

// closeOnInputError ends the stream with a stream error caused by what
// the peer sent, and lets the peer read it before the connection closes
// (see package linger). Only the reading goroutine may call it.
func (t *transport) closeOnInputError(condition, text string) {
	t.w.Close(closingTags(condition, text), 2*time.Second)
	linger.Close(t.raw)
}

func closingTags(condition, text string) string {
	if condition == "" {
		return "</stream:stream>"
	}
	return (&xmlstream.Error{Condition: condition, Text: text}).Element() + "</stream:stream>"
}

// streamHeader renders an opening server stream tag.
func streamHeader(from, to, id string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'")
	attr := func(name, v string) {
		if v != "" {
			b.WriteString(" " + name + "='" + xmlstream.Escape(v) + "'")
		}
	}
	attr("from", from)
	attr("to", to)
	attr("id", id)
	b.WriteString(" version='1.0' xml:lang='en'>")
	return b.String()
}

// features lists what a <stream:features/> element offers.
type features struct {
	startTLS, tlsRequired bool
	mechanisms            []string
	dialback              bool
	bidi                  bool
}

func parseFeatures(el *stanza.Element) features {
	var f features
	if st := el.Child(nsTLS, "starttls"); st != nil {
		f.startTLS = true
		f.tlsRequired = st.Child(nsTLS, "required") != nil
	}
	if m := el.Child(nsSASL, "mechanisms"); m != nil {
		for _, mech := range m.ChildrenNamed(nsSASL, "mechanism") {
			f.mechanisms = append(f.mechanisms, strings.TrimSpace(mech.Text()))
		}
	}
	f.dialback = el.Child(nsDialbackFeature, "dialback") != nil
	f.bidi = el.Child(nsBidiFeature, "bidi") != nil
	return f
}

func (f features) offers(mech string) bool {
	for _, m := range f.mechanisms {
		if m == mech {
			return true
		}
	}
	return false
}

// streamErrorOf returns the condition and text of a <stream:error/>.
func streamErrorOf(el *stanza.Element) (condition, text string) {
	for _, c := range el.Elements() {
		if c.Local == "text" {
			text = c.Text()
			continue
		}
		if condition == "" {
			condition = c.Local
		}
	}
	return condition, text
}

// isStreamError reports whether el is a <stream:error/>.
func isStreamError(el *stanza.Element) bool {
	return el.Space == stanza.NSStream && el.Local == "error"
}
