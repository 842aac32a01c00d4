// Package stanza holds parley's in-memory XML element tree: the form every
// stanza takes between the stream that reads it and the stream that writes
// it, with namespace-aware lookups and a canonical serializer.
package stanza

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
)

// Namespaces used throughout the server.
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStream  = "http://etherx.jabber.org/streams"
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	NSXML     = "http://www.w3.org/XML/1998/namespace"
	NSDelay   = "urn:xmpp:delay"
)

// StampLayout is the XEP-0082 DateTime profile in UTC with milliseconds,
// as delay stamps (XEP-0203) and archive results are written.
const StampLayout = "2006-01-02T15:04:05.000Z"

// Attr is an attribute with its resolved namespace ("" for plain attributes).
type Attr struct {
	Space, Local, Value string
}

// Node is a child of an Element: either *Element or Text.
type Node interface{ node() }

// Text is character data inside an element (unescaped).
type Text string

func (Text) node() {}

// Element is an XML element with its namespace resolved. The stream content
// namespaces (jabber:client and jabber:server) are both held as the empty
// Space, so a stanza takes the namespace of whatever stream it is written to;
// where an explicit declaration is needed (a stanza nested in a payload, as
// XEP-0297 forwards) it is written as jabber:client.
type Element struct {
	Space, Local string
	Attrs        []Attr
	Children     []Node

	frozen string // e serialized by Freeze
}

func (*Element) node() {}

// New returns an element with the given namespace, name and plain attributes
// given as name/value pairs.
func New(space, local string, attrs ...string) *Element {
	e := &Element{Space: space, Local: local}
	if len(attrs) >= 2 {
		e.Attrs = make([]Attr, 0, len(attrs)/2)
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, Attr{Local: attrs[i], Value: attrs[i+1]})
	}
	return e
}

// Attr returns the value of the plain (namespace-less) attribute local.
func (e *Element) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Space == "" && a.Local == local {
			return a.Value
		}
	}
	return ""
}

// HasAttr reports whether the plain attribute local is present.
func (e *Element) HasAttr(local string) bool {
	for _, a := range e.Attrs {
		if a.Space == "" && a.Local == local {
			return true
		}
	}
	return false
}

// AttrsWithout returns a copy of e's attributes without the plain ones
// named, with room for two more: what a stanza passed on keeps of the
// original before it is readdressed.
func (e *Element) AttrsWithout(locals ...string) []Attr {
	out := make([]Attr, 0, len(e.Attrs)+2)
	for _, a := range e.Attrs {
		if a.Space == "" && slices.Contains(locals, a.Local) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Lang returns the xml:lang attribute.
func (e *Element) Lang() string {
	for _, a := range e.Attrs {
		if a.Space == NSXML && a.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

// SetAttr sets (or, with an empty value, removes) the plain attribute local
// and returns e.
func (e *Element) SetAttr(local, value string) *Element {
	for i, a := range e.Attrs {
		if a.Space == "" && a.Local == local {
			if value == "" {
				e.Attrs = append(e.Attrs[:i:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, Attr{Local: local, Value: value})
	}
	return e
}

// Name is the element's local name.
func (e *Element) Name() string { return e.Local }

// Kind returns the stanza kind ("message", "presence", "iq") when e is a
// stanza in a content namespace, and "" otherwise.
func (e *Element) Kind() string {
	if e.Space != "" {
		return ""
	}
	switch e.Local {
	case "message", "presence", "iq":
		return e.Local
	}
	return ""
}

// Type is the stanza's type attribute.
func (e *Element) Type() string { return e.Attr("type") }

// ID is the stanza's id attribute.
func (e *Element) ID() string { return e.Attr("id") }

// To is the stanza's to attribute.
func (e *Element) To() string { return e.Attr("to") }

// From is the stanza's from attribute.
func (e *Element) From() string { return e.Attr("from") }

// Child returns the first child element with the given namespace and local
// name; an empty space or local matches any.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && (space == "" || c.Space == space) && (local == "" || c.Local == local) {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns every child element with the given namespace and
// local name; an empty space or local matches any.
func (e *Element) ChildrenNamed(space, local string) []*Element {
	var out []*Element
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && (space == "" || c.Space == space) && (local == "" || c.Local == local) {
			out = append(out, c)
		}
	}
	return out
}

// Elements returns every child element.
func (e *Element) Elements() []*Element { return e.ChildrenNamed("", "") }

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element { return e.Child("", "") }

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	if len(e.Children) == 1 {
		// The usual element of one text node: its text, not a copy.
		if t, ok := e.Children[0].(Text); ok {
			return string(t)
		}
	}
	var b strings.Builder
	for _, n := range e.Children {
		if t, ok := n.(Text); ok {
			b.WriteString(string(t))
		}
	}
	return b.String()
}

// ChildText returns the text of the first child with the given name, or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text()
	}
	return ""
}

// Append adds children to e and returns e.
func (e *Element) Append(children ...Node) *Element {
	e.Children = append(e.Children, children...)
	return e
}

// AppendText adds character data to e and returns e.
func (e *Element) AppendText(s string) *Element {
	if s != "" {
		e.Children = append(e.Children, Text(s))
	}
	return e
}

// RemoveChildren removes every child element with the given namespace and
// local name (an empty local removes the whole namespace).
func (e *Element) RemoveChildren(space, local string) {
	out := e.Children[:0]
	for _, n := range e.Children {
		if c, ok := n.(*Element); ok && c.Space == space && (local == "" || c.Local == local) {
			continue
		}
		out = append(out, n)
	}
	for i := len(out); i < len(e.Children); i++ {
		e.Children[i] = nil
	}
	e.Children = out
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	c := &Element{Space: e.Space, Local: e.Local}
	if len(e.Attrs) > 0 {
		c.Attrs = append([]Attr(nil), e.Attrs...)
	}
	if len(e.Children) > 0 {
		c.Children = make([]Node, len(e.Children))
		for i, n := range e.Children {
			if ce, ok := n.(*Element); ok {
				c.Children[i] = ce.Copy()
			} else {
				c.Children[i] = n
			}
		}
	}
	return c
}

// ShallowCopy returns a copy of e with its own attribute slice but sharing
// the children, for re-addressing a stanza without copying its payload.
func (e *Element) ShallowCopy() *Element {
	c := &Element{Space: e.Space, Local: e.Local, Children: e.Children}
	c.Attrs = append(make([]Attr, 0, len(e.Attrs)+1), e.Attrs...)
	return c
}

// Freeze serializes e once and returns it: from then on, wherever e is
// written inside an element of another namespace, those bytes are copied
// instead of e being serialized again. It is for an element shared by
// many stanzas, such as the event of the notifications that one publish
// sends to many recipients. Neither e nor anything in it may change
// afterwards; a Copy is not frozen.
func (e *Element) Freeze() *Element {
	e.frozen = ""
	e.frozen = string(e.appendTo(nil, "\x00")) // a parent namespace that is never e's
	return e
}

// String serializes e.
func (e *Element) String() string { return string(e.appendTo(nil, "")) }

// Bytes serializes e.
func (e *Element) Bytes() []byte { return e.appendTo(nil, "") }

// Writer is what serialization writes to; *bytes.Buffer and *bufio.Writer
// satisfy it.
type Writer interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}

// WriteTo serializes e as a top-level element of a stream.
func (e *Element) WriteTo(w Writer) error {
	return writeBytes(w, e, "")
}

// WriteQualified writes e as a document of its own, its namespace
// declared even when it is the client stream's default (jabber:client),
// as framings that carry one element per message need (RFC 7395).
func (e *Element) WriteQualified(w Writer) error {
	return writeBytes(w, e, "\x00")
}

// AppendTo appends e, serialized as a top-level element of a stream, to b.
func (e *Element) AppendTo(b []byte) []byte { return e.appendTo(b, "") }

// writeBytes serializes e into w's own buffer where w has one, and writes
// it.
func writeBytes(w Writer, e *Element, parentSpace string) error {
	switch w := w.(type) {
	case *bufio.Writer:
		_, err := w.Write(e.appendTo(w.AvailableBuffer(), parentSpace))
		return err
	case *bytes.Buffer:
		_, err := w.Write(e.appendTo(w.AvailableBuffer(), parentSpace))
		return err
	}
	_, err := w.WriteString(string(e.appendTo(nil, parentSpace)))
	return err
}

func (e *Element) appendTo(b []byte, parentSpace string) []byte {
	if e.frozen != "" && e.Space != parentSpace {
		return append(b, e.frozen...)
	}
	b = append(b, '<')
	b = append(b, e.Local...)
	if e.Space != parentSpace {
		b = append(b, " xmlns='"...)
		if e.Space == "" {
			b = append(b, NSClient...)
		} else {
			b = appendAttr(b, e.Space)
		}
		b = append(b, '\'')
	}
	prefixes := 0
	for _, a := range e.Attrs {
		b = append(b, ' ')
		switch a.Space {
		case "":
		case NSXML:
			b = append(b, "xml:"...)
		default:
			prefixes++
			p := "ns" + string(rune('0'+prefixes%10))
			b = append(b, "xmlns:"+p+"='"...)
			b = appendAttr(b, a.Space)
			b = append(b, "' "+p+":"...)
		}
		b = append(b, a.Local...)
		b = append(b, "='"...)
		b = appendAttr(b, a.Value)
		b = append(b, '\'')
	}
	if len(e.Children) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, n := range e.Children {
		switch n := n.(type) {
		case *Element:
			b = n.appendTo(b, e.Space)
		case Text:
			b = appendText(b, string(n))
		}
	}
	b = append(b, "</"...)
	b = append(b, e.Local...)
	return append(b, '>')
}

func appendAttr(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\'':
			esc = "&apos;"
		case '"':
			esc = "&quot;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		case '\t':
			esc = "&#x9;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

func appendText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// FromStart builds an element from a decoded start tag, dropping namespace
// declarations (the namespace is kept resolved on names instead).
func FromStart(start xml.StartElement) *Element {
	e := &Element{Space: start.Name.Space, Local: start.Name.Local}
	if e.Space == NSClient || e.Space == NSServer {
		e.Space = ""
	}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		space := a.Name.Space
		if space == "xml" {
			space = NSXML
		}
		e.Attrs = append(e.Attrs, Attr{Space: space, Local: a.Name.Local, Value: a.Value})
	}
	return e
}
