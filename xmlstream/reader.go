// Package xmlstream reads and writes XMPP streams (RFC 6120 §4): the stream
// header, top-level elements as stanza trees with size limits and XML
// restrictions enforced, and a coalescing writer that costs no goroutine
// while a stream is idle.
package xmlstream

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"parley/stanza"
)

// ErrStreamClosed is returned by Next when the peer closed its stream with
// </stream:stream>.
var ErrStreamClosed = errors.New("stream closed by peer")

// Error is a stream error (RFC 6120 §4.9) to send before closing.
type Error struct {
	Condition string // e.g. "not-well-formed", "host-unknown"
	Text      string
	// Extra is an application-specific condition element, serialized,
	// written after the defined condition (RFC 6120 §4.9.4).
	Extra string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Text != "" {
		return "stream error " + e.Condition + ": " + e.Text
	}
	return "stream error " + e.Condition
}

// Errorf returns a stream error with a formatted text.
func Errorf(condition, format string, args ...any) *Error {
	return &Error{Condition: condition, Text: fmt.Sprintf(format, args...)}
}

// Element renders the <stream:error/> element.
func (e *Error) Element() string {
	var b strings.Builder
	b.WriteString("<stream:error><")
	b.WriteString(e.Condition)
	b.WriteString(" xmlns='" + stanza.NSStreams + "'/>")
	b.WriteString(e.Extra)
	if e.Text != "" {
		b.WriteString("<text xmlns='" + stanza.NSStreams + "'>")
		b.WriteString(Escape(e.Text))
		b.WriteString("</text>")
	}
	b.WriteString("</stream:error>")
	return b.String()
}

// Escape escapes s for use as XML character data or inside a quoted
// attribute value.
func Escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// NewStreamID returns a random stream ID (RFC 6120 §4.7.3): 128 bits, hex.
func NewStreamID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Header is an opening stream tag.
type Header struct {
	To, From, ID, Version, Lang string
	Namespace                   string // default namespace (jabber:client, jabber:server)
}

// Reader reads one XMPP stream from a byte source.
type Reader struct {
	src *limitedReader
	p   *parser
}

// ByteSource is what a Reader reads from: a *Source or a *bufio.Reader.
type ByteSource interface {
	io.Reader
	io.ByteReader
}

// NewReader returns a reader over br that refuses top-level elements larger
// than maxElement bytes.
func NewReader(br ByteSource, maxElement int) *Reader {
	src := &limitedReader{br: br, limit: int64(maxElement)}
	return &Reader{src: src, p: newParser(src)}
}

// NewFragmentReader returns a reader of top-level elements that come
// without a stream header, as in framings that carry one element per
// message (RFC 7395): elements are read as if inside a client stream
// header, with jabber:client as the default namespace and the stream
// prefix bound. ReadHeader must not be called on it.
func NewFragmentReader(br ByteSource, maxElement int) *Reader {
	r := NewReader(br, maxElement)
	r.p.scopes = append(r.p.scopes[:0], binding{"xml", stanza.NSXML}, binding{"", stanza.NSClient}, binding{"stream", stanza.NSStream})
	r.p.peeked = -1
	return r
}

// ReadHeader reads an optional XML declaration and the opening stream tag.
func (r *Reader) ReadHeader() (Header, error) {
	r.src.n = 0
	el, err := r.p.readHeader()
	if err != nil {
		return Header{}, r.classify(err)
	}
	if el.Space != stanza.NSStream || el.Local != "stream" {
		return Header{}, &Error{Condition: "invalid-namespace", Text: "expected stream:stream in " + stanza.NSStream}
	}
	h := Header{To: el.Attr("to"), From: el.Attr("from"), ID: el.Attr("id"), Version: el.Attr("version"), Lang: el.Lang()}
	h.Namespace, _ = r.p.lookup("")
	return h, nil
}

// Next returns the next top-level element. Whitespace between elements
// (keepalives) is skipped. It returns ErrStreamClosed at </stream:stream>,
// a *Error for protocol violations, and other errors for transport failure.
func (r *Reader) Next() (*stanza.Element, error) {
	r.src.n = 0
	el, err := r.p.nextElement(func() { r.src.n = 0 })
	if err != nil {
		return nil, r.classify(err)
	}
	return el, nil
}

// Idle releases the parser's scratch buffers while the stream waits.
func (r *Reader) Idle() { r.p.idle() }

func (r *Reader) classify(err error) error {
	var se *Error
	switch {
	case errors.As(err, &se):
		return se
	case errors.Is(err, ErrStreamClosed):
		return err
	case errors.Is(err, errTooLarge):
		return &Error{Condition: "policy-violation", Text: fmt.Sprintf("stanza larger than %d bytes", r.src.limit)}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return io.EOF
	}
	return err
}

var errTooLarge = errors.New("element too large")

// limitedReader counts bytes since the last reset and fails once the count
// exceeds the limit, so an oversized stanza is refused before it is
// buffered whole.
type limitedReader struct {
	br    ByteSource
	n     int64
	limit int64
}

func (l *limitedReader) ReadByte() (byte, error) {
	if l.n >= l.limit {
		return 0, errTooLarge
	}
	l.n++
	return l.br.ReadByte()
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n >= l.limit {
		return 0, errTooLarge
	}
	if rem := l.limit - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.br.Read(p)
	l.n += int64(n)
	return n, err
}
