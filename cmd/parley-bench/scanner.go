package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// tokenKind says what a scanner token is.
type tokenKind int

const (
	// tokHeader is the opening <stream:stream ...> tag.
	tokHeader tokenKind = iota + 1
	// tokStanza is one complete top-level element (a child of the stream).
	tokStanza
	// tokEnd is the closing </stream:stream> tag.
	tokEnd
)

// token is one unit of an XMPP stream. raw is only valid until the next
// call to scanner.next.
type token struct {
	kind tokenKind
	raw  []byte
}

// errTooLarge is returned for a stanza larger than the scanner's limit.
var errTooLarge = errors.New("stanza too large")

// scanner finds top-level element boundaries in an XMPP stream without
// building a tree: it only tracks tags, quotes and nesting depth. Over
// WebSocket it reads the messages' elements as one run: the server's
// <open/> is the stream header and its <close/> the stream's end. XMPP
// forbids comments, processing instructions after the header, DTDs and
// CDATA sections, so text never contains a raw '<'.
type scanner struct {
	r        io.Reader
	buf      []byte
	beg, end int  // unconsumed bytes are buf[beg:end]
	pos      int  // buf[beg:pos] is the scanned part of the current element
	depth    int  // open elements inside the current stanza
	inStream bool // the stream header was read
	framed   bool // XMPP over WebSocket: a top-level <close/> ends the stream
	max      int
}

// newScanner reads from r with an initial buffer of size bytes and a
// limit of max bytes per stanza.
func newScanner(r io.Reader, size, max int) *scanner {
	return &scanner{r: r, buf: make([]byte, size), max: max}
}

// restart prepares for a new stream header on the same transport (after
// SASL success), keeping any bytes already read.
func (s *scanner) restart() {
	s.inStream = false
	s.depth = 0
	s.pos = s.beg
}

// next returns the next token, reading as needed.
func (s *scanner) next() (token, error) {
	for {
		tok, ok, err := s.scan()
		if err != nil || ok {
			return tok, err
		}
		if err := s.fill(); err != nil {
			return token{}, err
		}
	}
}

// fill reads more input, compacting or growing the buffer first.
func (s *scanner) fill() error {
	if s.beg > 0 {
		n := copy(s.buf, s.buf[s.beg:s.end])
		s.pos -= s.beg
		s.end = n
		s.beg = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.max {
			return errTooLarge
		}
		nb := make([]byte, min(2*len(s.buf), s.max))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// scan tries to complete a token from buffered bytes; ok is false when
// more input is needed.
func (s *scanner) scan() (tok token, ok bool, err error) {
	for {
		if s.depth == 0 && s.pos == s.beg {
			// Between stanzas: skip whitespace keepalives.
			for s.beg < s.end && isSpace(s.buf[s.beg]) {
				s.beg++
			}
			s.pos = s.beg
		}
		if s.pos >= s.end {
			return token{}, false, nil
		}
		if s.buf[s.pos] != '<' {
			if s.depth == 0 {
				return token{}, false, fmt.Errorf("unexpected text %q at stream level", clip(s.buf[s.pos:s.end]))
			}
			i := bytes.IndexByte(s.buf[s.pos:s.end], '<')
			if i < 0 {
				s.pos = s.end
				return token{}, false, nil
			}
			s.pos += i
		}
		close, ok := tagEnd(s.buf[s.pos:s.end])
		if !ok {
			if s.end-s.beg >= s.max {
				return token{}, false, errTooLarge
			}
			return token{}, false, nil
		}
		tag := s.buf[s.pos : s.pos+close+1]
		s.pos += close + 1
		switch {
		case len(tag) < 3:
			return token{}, false, fmt.Errorf("malformed tag %q", tag)
		case tag[1] == '?':
			if s.inStream {
				return token{}, false, errors.New("processing instruction inside the stream")
			}
			s.beg = s.pos
		case tag[1] == '!':
			return token{}, false, fmt.Errorf("comments, DTDs and CDATA are not allowed in XMPP: %q", clip(tag))
		case tag[1] == '/':
			if s.depth == 0 {
				s.beg = s.pos
				return token{kind: tokEnd, raw: tag}, true, nil
			}
			s.depth--
			if s.depth == 0 {
				raw := s.buf[s.beg:s.pos]
				s.beg = s.pos
				if s.framed && string(elemName(raw)) == "close" {
					return token{kind: tokEnd, raw: raw}, true, nil
				}
				return token{kind: tokStanza, raw: raw}, true, nil
			}
		case !s.inStream:
			s.inStream = true
			s.beg = s.pos
			return token{kind: tokHeader, raw: tag}, true, nil
		case tag[len(tag)-2] == '/':
			if s.depth == 0 {
				raw := s.buf[s.beg:s.pos]
				s.beg = s.pos
				if s.framed && string(elemName(raw)) == "close" {
					return token{kind: tokEnd, raw: raw}, true, nil
				}
				return token{kind: tokStanza, raw: raw}, true, nil
			}
		default:
			s.depth++
		}
	}
}

// tagEnd returns the index of the '>' closing the tag that b starts with,
// skipping quoted attribute values, which may contain '>' and '/'.
func tagEnd(b []byte) (int, bool) {
	var quote byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			return i, true
		}
	}
	return 0, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// clip shortens b for error messages.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
