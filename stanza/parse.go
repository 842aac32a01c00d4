package stanza

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// ErrRestricted is returned when the input uses XML that XMPP forbids
// (comments, processing instructions, DTDs, entity declarations).
var ErrRestricted = errors.New("restricted XML")

// TokenReader is the subset of *xml.Decoder that parsing needs.
type TokenReader interface {
	Token() (xml.Token, error)
}

// ReadElement reads the rest of the element whose start tag was start and
// returns it as a tree. Comments, processing instructions and directives
// return an error wrapping ErrRestricted.
func ReadElement(d TokenReader, start xml.StartElement) (*Element, error) {
	root := FromStart(start)
	stack := []*Element{root}
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			e := FromStart(t)
			top.Children = append(top.Children, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil
			}
		case xml.CharData:
			if len(t) == 0 {
				continue
			}
			if n := len(top.Children); n > 0 {
				if prev, ok := top.Children[n-1].(Text); ok {
					top.Children[n-1] = prev + Text(t)
					continue
				}
			}
			top.Children = append(top.Children, Text(t))
		case xml.Comment:
			return nil, fmt.Errorf("%w: comment", ErrRestricted)
		case xml.ProcInst:
			return nil, fmt.Errorf("%w: processing instruction", ErrRestricted)
		case xml.Directive:
			return nil, fmt.Errorf("%w: directive", ErrRestricted)
		}
	}
}

// Parse parses a single element from s; for tests and stored stanzas.
func Parse(s string) (*Element, error) {
	return ParseBytes([]byte(s))
}

// ParseBytes parses a single element from b. Stored stanzas are written
// without a content namespace, so top-level elements parse into "".
func ParseBytes(b []byte) (*Element, error) {
	d := xml.NewDecoder(bytesReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("parse element: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return ReadElement(d, t)
		case xml.CharData, xml.ProcInst:
			continue
		default:
			return nil, fmt.Errorf("parse element: unexpected %T", tok)
		}
	}
}

type byteSliceReader struct {
	b []byte
}

func bytesReader(b []byte) *byteSliceReader { return &byteSliceReader{b: b} }

func (r *byteSliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *byteSliceReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}
