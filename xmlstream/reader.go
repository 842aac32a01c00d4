// Package xmlstream reads and writes XMPP streams (RFC 6120 §4): the stream
// header, top-level elements as stanza trees with size limits and XML
// restrictions enforced, and a coalescing writer that costs no goroutine
// while a stream is idle.
package xmlstream

import (
	"bufio"
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
	if e.Text != "" {
		b.WriteString("<text xmlns='" + stanza.NSStreams + "'>")
		b.WriteString(escape(e.Text))
		b.WriteString("</text>")
	}
	b.WriteString("</stream:error>")
	return b.String()
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Header is an opening stream tag.
type Header struct {
	To, From, ID, Version, Lang string
	Namespace                   string // default namespace (jabber:client, jabber:server)
}

// Reader reads one XMPP stream from a byte source.
type Reader struct {
	src *limitedReader
	dec *xml.Decoder
}

// NewReader returns a reader over br that refuses top-level elements larger
// than maxElement bytes.
func NewReader(br *bufio.Reader, maxElement int) *Reader {
	src := &limitedReader{br: br, limit: int64(maxElement)}
	dec := xml.NewDecoder(src)
	dec.Strict = true
	return &Reader{src: src, dec: dec}
}

// ReadHeader reads an optional XML declaration and the opening stream tag.
func (r *Reader) ReadHeader() (Header, error) {
	r.src.n = 0
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return Header{}, r.classify(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return Header{}, &Error{Condition: "restricted-xml", Text: "processing instructions are not allowed"}
			}
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return Header{}, &Error{Condition: "not-well-formed", Text: "text before stream header"}
			}
		case xml.Comment, xml.Directive:
			return Header{}, &Error{Condition: "restricted-xml", Text: "comments and DTDs are not allowed"}
		case xml.StartElement:
			if t.Name.Space != stanza.NSStream || t.Name.Local != "stream" {
				return Header{}, &Error{Condition: "invalid-namespace", Text: "expected stream:stream in " + stanza.NSStream}
			}
			h := Header{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "to":
					h.To = a.Value
				case a.Name.Space == "" && a.Name.Local == "from":
					h.From = a.Value
				case a.Name.Space == "" && a.Name.Local == "id":
					h.ID = a.Value
				case a.Name.Space == "" && a.Name.Local == "version":
					h.Version = a.Value
				case (a.Name.Space == "xml" || a.Name.Space == stanza.NSXML) && a.Name.Local == "lang":
					h.Lang = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					h.Namespace = a.Value
				}
			}
			return h, nil
		default:
			return Header{}, &Error{Condition: "not-well-formed", Text: "unexpected content before stream header"}
		}
	}
}

// Next returns the next top-level element. Whitespace between elements
// (keepalives) is skipped. It returns ErrStreamClosed at </stream:stream>,
// a *Error for protocol violations, and other errors for transport failure.
func (r *Reader) Next() (*stanza.Element, error) {
	r.src.n = 0
	for {
		tok, err := r.dec.Token()
		if err != nil {
			return nil, r.classify(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el, err := stanza.ReadElement(r.dec, t)
			if err != nil {
				return nil, r.classify(err)
			}
			r.src.n = 0
			return el, nil
		case xml.EndElement:
			return nil, ErrStreamClosed
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return nil, &Error{Condition: "bad-format", Text: "text between stanzas"}
			}
			r.src.n = 0
		case xml.Comment, xml.ProcInst, xml.Directive:
			return nil, &Error{Condition: "restricted-xml", Text: "comments, processing instructions and DTDs are not allowed"}
		}
	}
}

func (r *Reader) classify(err error) error {
	var se *xml.SyntaxError
	switch {
	case errors.Is(err, errTooLarge):
		return &Error{Condition: "policy-violation", Text: fmt.Sprintf("stanza larger than %d bytes", r.src.limit)}
	case errors.Is(err, stanza.ErrRestricted):
		return &Error{Condition: "restricted-xml", Text: err.Error()}
	case errors.As(err, &se) && se.Msg == "unexpected EOF":
		return io.EOF
	case errors.As(err, &se):
		if strings.Contains(se.Msg, "entity") {
			return &Error{Condition: "restricted-xml", Text: "entity references other than the predefined ones are not allowed"}
		}
		return &Error{Condition: "not-well-formed", Text: se.Msg}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return io.EOF
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return err
	}
	if strings.Contains(err.Error(), "xml:") {
		return &Error{Condition: "not-well-formed", Text: err.Error()}
	}
	return err
}

var errTooLarge = errors.New("element too large")

// limitedReader counts bytes since the last reset and fails once the count
// exceeds the limit, so an oversized stanza is refused before it is
// buffered whole.
type limitedReader struct {
	br    *bufio.Reader
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
