package xmlstream

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"parley/stanza"
)

// parser is parley's XML tokenizer for streams: it reads the restricted
// XML that RFC 6120 §11 allows straight into stanza trees, resolving
// namespaces as it goes, without an intermediate token per node. It
// refuses comments, processing instructions, DTDs and entity references
// other than the predefined and numeric ones.
type parser struct {
	src    ByteSource
	peeked int // a byte pushed back, or -1

	scopes []binding // namespace bindings in scope, innermost last
	stack  []open    // open elements while reading a stanza
	text   []byte    // scratch for text and attribute values
	nbuf   []byte    // scratch for names
	header string    // the stream header's qualified name, e.g. "stream:stream"
}

type binding struct {
	prefix, uri string
}

type open struct {
	el     *stanza.Element
	qname  string
	scopes int // len(scopes) before this element's declarations
}

func newParser(src ByteSource) *parser {
	return &parser{src: src, peeked: -1}
}

func notWellFormed(text string) error { return &Error{Condition: "not-well-formed", Text: text} }

func restricted(text string) error { return &Error{Condition: "restricted-xml", Text: text} }

func (p *parser) next() (byte, error) {
	if p.peeked >= 0 {
		c := byte(p.peeked)
		p.peeked = -1
		return c, nil
	}
	return p.src.ReadByte()
}

func (p *parser) back(c byte) { p.peeked = int(c) }

// idle drops scratch space between stanzas; it is cheap to grow again.
func (p *parser) idle() {
	if cap(p.text) > 256 {
		p.text = nil
	}
	p.nbuf = nil
	p.stack = nil
}

// eofAsUnexpected turns io.EOF inside a construct into ErrUnexpectedEOF.
func eofAsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.'
}

// intern returns a shared string for b when it is one of the names and
// namespaces every stream repeats, and a new one otherwise.
func (p *parser) intern(b []byte) string {
	if s, ok := commonNames[string(b)]; ok {
		return s
	}
	return string(b)
}

// commonNames holds the names and namespaces XMPP traffic repeats, so
// parsing them allocates nothing. It is never modified.
var commonNames = func() map[string]string {
	m := make(map[string]string)
	for _, s := range []string{
		"message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority",
		"error", "query", "item", "group", "x", "c", "delay", "active", "composing", "paused",
		"inactive", "gone", "request", "received", "markable", "displayed", "stanza-id", "origin-id",
		"to", "from", "id", "type", "xmlns", "xml:lang", "jid", "name", "subscription", "ask", "ver",
		"node", "hash", "stamp", "by", "code", "role", "affiliation", "nick", "history", "password",
		"bind", "resource", "session", "ping", "vCard", "time", "auth", "response", "abort",
		"starttls", "stream:stream", "stream", "xmlns:stream",
		"jabber:client", "jabber:server", "jabber:iq:roster", "jabber:iq:version", "jabber:iq:last",
		"jabber:iq:private", "jabber:iq:register", "jabber:x:data", "vcard-temp",
		"http://etherx.jabber.org/streams", "urn:ietf:params:xml:ns:xmpp-stanzas",
		"urn:ietf:params:xml:ns:xmpp-streams", "urn:ietf:params:xml:ns:xmpp-tls",
		"urn:ietf:params:xml:ns:xmpp-sasl", "urn:ietf:params:xml:ns:xmpp-bind",
		"urn:ietf:params:xml:ns:xmpp-session", "urn:xmpp:ping", "urn:xmpp:time", "urn:xmpp:delay",
		"urn:xmpp:receipts", "urn:xmpp:chat-markers:0", "urn:xmpp:sid:0", "urn:xmpp:hints",
		"http://jabber.org/protocol/chatstates", "http://jabber.org/protocol/caps",
		"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
		"http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
		"http://jabber.org/protocol/muc#admin", "http://jabber.org/protocol/muc#owner",
	} {
		m[s] = s
	}
	return m
}()

// name reads an XML name starting with c.
func (p *parser) name(c byte) (string, error) {
	if !isNameStart(c) {
		return "", notWellFormed("invalid name start character " + strconv.QuoteRune(rune(c)))
	}
	p.nbuf = append(p.nbuf[:0], c)
	for {
		c, err := p.next()
		if err != nil {
			return "", eofAsUnexpected(err)
		}
		if !isNameChar(c) {
			p.back(c)
			break
		}
		p.nbuf = append(p.nbuf, c)
		if len(p.nbuf) > 1024 {
			return "", notWellFormed("name too long")
		}
	}
	if !utf8.Valid(p.nbuf) {
		return "", notWellFormed("name is not valid UTF-8")
	}
	return p.intern(p.nbuf), nil
}

func (p *parser) skipSpace() (byte, error) {
	for {
		c, err := p.next()
		if err != nil {
			return 0, err
		}
		if !isSpace(c) {
			return c, nil
		}
	}
}

// markup handles what follows "<!" or "<?" outside a stanza's text.
func (p *parser) markup(c byte, inText bool) (cdata bool, err error) {
	if c == '?' {
		return false, restricted("processing instructions are not allowed")
	}
	c, err = p.next()
	if err != nil {
		return false, eofAsUnexpected(err)
	}
	switch c {
	case '-':
		return false, restricted("comments are not allowed")
	case '[':
		if !inText {
			return false, notWellFormed("CDATA outside an element")
		}
		for _, want := range []byte("CDATA[") {
			c, err := p.next()
			if err != nil {
				return false, eofAsUnexpected(err)
			}
			if c != want {
				return false, notWellFormed("malformed CDATA section")
			}
		}
		return true, nil
	default:
		return false, restricted("DTDs and entity declarations are not allowed")
	}
}

// readHeader reads an optional XML declaration and the stream's opening
// tag, keeping its namespace declarations in scope for the whole stream.
func (p *parser) readHeader() (*stanza.Element, error) {
	p.scopes = append(p.scopes[:0], binding{"xml", stanza.NSXML})
	p.stack = p.stack[:0]
	p.peeked = -1
	seenDecl := false
	for {
		c, err := p.skipSpace()
		if err != nil {
			return nil, err
		}
		if c != '<' {
			return nil, notWellFormed("text before the stream header")
		}
		c, err = p.next()
		if err != nil {
			return nil, eofAsUnexpected(err)
		}
		if c == '?' && !seenDecl {
			if err := p.xmlDecl(); err != nil {
				return nil, err
			}
			seenDecl = true
			continue
		}
		if c == '?' || c == '!' {
			_, err := p.markup(c, false)
			return nil, err
		}
		el, qname, selfClosing, err := p.startTag(c)
		if err != nil {
			return nil, err
		}
		if selfClosing {
			return nil, notWellFormed("the stream header must not be self-closing")
		}
		p.header = qname
		return el, nil
	}
}

// xmlDecl reads "<?xml ... ?>" after "<?".
func (p *parser) xmlDecl() error {
	c, err := p.next()
	if err != nil {
		return eofAsUnexpected(err)
	}
	target, err := p.name(c)
	if err != nil {
		return err
	}
	if target != "xml" {
		return restricted("processing instructions are not allowed")
	}
	var prev byte
	for i := 0; i < 256; i++ {
		c, err := p.next()
		if err != nil {
			return eofAsUnexpected(err)
		}
		if prev == '?' && c == '>' {
			return nil
		}
		prev = c
	}
	return notWellFormed("XML declaration too long")
}

// startTag reads a start tag after "<" and its first name byte c. It
// pushes the tag's namespace declarations onto p.scopes.
func (p *parser) startTag(c byte) (el *stanza.Element, qname string, selfClosing bool, err error) {
	qname, err = p.name(c)
	if err != nil {
		return nil, "", false, err
	}
	type rawAttr struct{ qname, value string }
	var attrs []rawAttr
	for {
		c, err := p.next()
		if err != nil {
			return nil, "", false, eofAsUnexpected(err)
		}
		sawSpace := false
		for isSpace(c) {
			sawSpace = true
			if c, err = p.next(); err != nil {
				return nil, "", false, eofAsUnexpected(err)
			}
		}
		if c == '>' {
			break
		}
		if c == '/' {
			if c, err = p.next(); err != nil {
				return nil, "", false, eofAsUnexpected(err)
			}
			if c != '>' {
				return nil, "", false, notWellFormed("expected > after /")
			}
			selfClosing = true
			break
		}
		if !sawSpace {
			return nil, "", false, notWellFormed("attributes must be separated by white space")
		}
		an, err := p.name(c)
		if err != nil {
			return nil, "", false, err
		}
		if c, err = p.skipSpace(); err != nil {
			return nil, "", false, eofAsUnexpected(err)
		}
		if c != '=' {
			return nil, "", false, notWellFormed("expected = after attribute " + an)
		}
		if c, err = p.skipSpace(); err != nil {
			return nil, "", false, eofAsUnexpected(err)
		}
		if c != '\'' && c != '"' {
			return nil, "", false, notWellFormed("attribute value must be quoted")
		}
		v, err := p.attrValue(c)
		if err != nil {
			return nil, "", false, err
		}
		for _, a := range attrs {
			if a.qname == an {
				return nil, "", false, notWellFormed("duplicate attribute " + an)
			}
		}
		attrs = append(attrs, rawAttr{an, v})
	}
	// Declarations first, then resolve names against them.
	for _, a := range attrs {
		switch {
		case a.qname == "xmlns":
			p.scopes = append(p.scopes, binding{"", a.value})
		case len(a.qname) > 6 && a.qname[:6] == "xmlns:":
			if a.value == "" {
				return nil, "", false, notWellFormed("a prefix cannot be bound to the empty namespace")
			}
			p.scopes = append(p.scopes, binding{a.qname[6:], a.value})
		}
	}
	el = &stanza.Element{}
	if !validQName(qname) {
		return nil, "", false, notWellFormed("invalid qualified name " + qname)
	}
	prefix, local := splitQName(qname)
	space, ok := p.lookup(prefix)
	if !ok {
		return nil, "", false, notWellFormed("unbound namespace prefix " + prefix)
	}
	if space == stanza.NSClient || space == stanza.NSServer {
		space = ""
	}
	el.Space, el.Local = space, local
	for _, a := range attrs {
		if a.qname == "xmlns" || len(a.qname) > 6 && a.qname[:6] == "xmlns:" {
			continue
		}
		if !validQName(a.qname) {
			return nil, "", false, notWellFormed("invalid qualified name " + a.qname)
		}
		ap, al := splitQName(a.qname)
		as := ""
		if ap != "" {
			if as, ok = p.lookup(ap); !ok {
				return nil, "", false, notWellFormed("unbound namespace prefix " + ap)
			}
		}
		for _, o := range el.Attrs {
			if o.Space == as && o.Local == al {
				return nil, "", false, notWellFormed("duplicate attribute " + a.qname)
			}
		}
		el.Attrs = append(el.Attrs, stanza.Attr{Space: as, Local: al, Value: a.value})
	}
	return el, qname, selfClosing, nil
}

// validQName reports whether q is a namespace-valid name: at most one
// colon, with a non-empty prefix and local part around it.
func validQName(q string) bool {
	i := strings.IndexByte(q, ':')
	if i < 0 {
		return true
	}
	return i > 0 && i < len(q)-1 && strings.IndexByte(q[i+1:], ':') < 0 && isNameStart(q[i+1]) && q[i+1] != ':'
}

func splitQName(q string) (prefix, local string) {
	for i := 0; i < len(q); i++ {
		if q[i] == ':' {
			return q[:i], q[i+1:]
		}
	}
	return "", q
}

func (p *parser) lookup(prefix string) (string, bool) {
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if p.scopes[i].prefix == prefix {
			return p.scopes[i].uri, true
		}
	}
	if prefix == "" {
		return "", true
	}
	return "", false
}

// attrValue reads a quoted attribute value after its opening quote.
func (p *parser) attrValue(quote byte) (string, error) {
	p.text = p.text[:0]
	for {
		c, err := p.next()
		if err != nil {
			return "", eofAsUnexpected(err)
		}
		switch c {
		case quote:
			return p.finishText()
		case '<':
			return "", notWellFormed("< in attribute value")
		case '&':
			if err := p.entity(); err != nil {
				return "", err
			}
		case '\r':
			if err := p.skipLF(); err != nil {
				return "", err
			}
			p.text = append(p.text, ' ')
		case '\t', '\n':
			p.text = append(p.text, ' ') // attribute-value normalization
		default:
			p.text = append(p.text, c)
		}
	}
}

// skipLF consumes a line feed following a carriage return, if any.
func (p *parser) skipLF() error {
	c, err := p.next()
	if err != nil {
		return eofAsUnexpected(err)
	}
	if c != '\n' {
		p.back(c)
	}
	return nil
}

// finishText validates the scratch text and returns it as a string.
func (p *parser) finishText() (string, error) {
	if err := checkChars(p.text); err != nil {
		return "", err
	}
	return string(p.text), nil
}

func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return notWellFormed("illegal character " + strconv.QuoteRune(rune(c)))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return notWellFormed("invalid UTF-8")
		}
		if r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return notWellFormed("illegal character " + strconv.QuoteRune(r))
		}
		i += n
	}
	return nil
}

// entity reads a reference after "&" and appends its character.
func (p *parser) entity() error {
	var name [16]byte
	n := 0
	for {
		c, err := p.next()
		if err != nil {
			return eofAsUnexpected(err)
		}
		if c == ';' {
			break
		}
		if n == len(name) {
			return restricted("unknown entity reference")
		}
		name[n] = c
		n++
	}
	switch ref := string(name[:n]); ref {
	case "lt":
		p.text = append(p.text, '<')
	case "gt":
		p.text = append(p.text, '>')
	case "amp":
		p.text = append(p.text, '&')
	case "apos":
		p.text = append(p.text, '\'')
	case "quot":
		p.text = append(p.text, '"')
	default:
		if n < 2 || ref[0] != '#' {
			if n > 0 && isNameStart(ref[0]) {
				return restricted("entity references other than the predefined ones are not allowed")
			}
			return notWellFormed("malformed character reference")
		}
		var v uint64
		var err error
		if ref[1] == 'x' {
			v, err = strconv.ParseUint(ref[2:], 16, 32)
		} else {
			v, err = strconv.ParseUint(ref[1:], 10, 32)
		}
		r := rune(v)
		if err != nil || !validChar(r) {
			return notWellFormed("invalid character reference &" + ref + ";")
		}
		p.text = utf8.AppendRune(p.text, r)
	}
	return nil
}

func validChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// nextElement reads the next top-level element of the stream, skipping
// white space between elements. It returns ErrStreamClosed at the
// stream's closing tag.
func (p *parser) nextElement(atStart func()) (*stanza.Element, error) {
	var c byte
	var err error
	for {
		if c, err = p.next(); err != nil {
			return nil, err
		}
		if !isSpace(c) {
			break
		}
		atStart()
	}
	if c != '<' {
		return nil, &Error{Condition: "bad-format", Text: "text between stanzas"}
	}
	if c, err = p.next(); err != nil {
		return nil, eofAsUnexpected(err)
	}
	switch c {
	case '/':
		q, err := p.endTagName()
		if err != nil {
			return nil, err
		}
		if q != p.header {
			return nil, notWellFormed("unexpected end tag </" + q + ">")
		}
		return nil, ErrStreamClosed
	case '!', '?':
		_, err := p.markup(c, false)
		return nil, err
	}
	base := len(p.scopes)
	root, qname, selfClosing, err := p.startTag(c)
	if err != nil {
		return nil, err
	}
	if selfClosing {
		p.scopes = p.scopes[:base]
		return root, nil
	}
	p.stack = append(p.stack[:0], open{el: root, qname: qname, scopes: base})
	if err := p.content(); err != nil {
		p.scopes = p.scopes[:base]
		return nil, err
	}
	return root, nil
}

func (p *parser) endTagName() (string, error) {
	c, err := p.next()
	if err != nil {
		return "", eofAsUnexpected(err)
	}
	q, err := p.name(c)
	if err != nil {
		return "", err
	}
	if c, err = p.skipSpace(); err != nil {
		return "", eofAsUnexpected(err)
	}
	if c != '>' {
		return "", notWellFormed("expected > in end tag")
	}
	return q, nil
}

// content reads the children of the open elements until the outermost
// one closes.
func (p *parser) content() error {
	p.text = p.text[:0]
	flush := func() error {
		if len(p.text) == 0 {
			return nil
		}
		s, err := p.finishText()
		if err != nil {
			return err
		}
		top := p.stack[len(p.stack)-1].el
		top.Children = append(top.Children, stanza.Text(s))
		p.text = p.text[:0]
		return nil
	}
	for {
		c, err := p.next()
		if err != nil {
			return eofAsUnexpected(err)
		}
		switch c {
		case '&':
			if err := p.entity(); err != nil {
				return err
			}
			continue
		case '\r':
			// End-of-line handling (XML 1.0 §2.11): CR LF and lone CR become LF.
			if err := p.skipLF(); err != nil {
				return eofAsUnexpected(err)
			}
			p.text = append(p.text, '\n')
			continue
		case '>':
			if n := len(p.text); n >= 2 && p.text[n-1] == ']' && p.text[n-2] == ']' {
				return notWellFormed("]]> in text")
			}
			p.text = append(p.text, c)
			continue
		default:
			if c != '<' {
				p.text = append(p.text, c)
				continue
			}
		}
		if c, err = p.next(); err != nil {
			return eofAsUnexpected(err)
		}
		switch c {
		case '/':
			q, err := p.endTagName()
			if err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			top := p.stack[len(p.stack)-1]
			if q != top.qname {
				return notWellFormed("end tag </" + q + "> does not match <" + top.qname + ">")
			}
			p.scopes = p.scopes[:top.scopes]
			p.stack = p.stack[:len(p.stack)-1]
			if len(p.stack) == 0 {
				return nil
			}
		case '!', '?':
			cdata, err := p.markup(c, true)
			if err != nil {
				return err
			}
			if cdata {
				if err := p.cdata(); err != nil {
					return err
				}
			}
		default:
			if err := flush(); err != nil {
				return err
			}
			base := len(p.scopes)
			el, qname, selfClosing, err := p.startTag(c)
			if err != nil {
				return err
			}
			p.text = p.text[:0] // attribute values used the scratch
			parent := p.stack[len(p.stack)-1].el
			parent.Children = append(parent.Children, el)
			if selfClosing {
				p.scopes = p.scopes[:base]
				continue
			}
			if len(p.stack) >= 256 {
				return &Error{Condition: "policy-violation", Text: "elements nested too deeply"}
			}
			p.stack = append(p.stack, open{el: el, qname: qname, scopes: base})
		}
	}
}

// cdata appends a CDATA section's content, read after "<![CDATA[".
func (p *parser) cdata() error {
	start := len(p.text)
	for {
		c, err := p.next()
		if err != nil {
			return eofAsUnexpected(err)
		}
		p.text = append(p.text, c)
		if n := len(p.text); c == '>' && n-3 >= start && p.text[n-2] == ']' && p.text[n-3] == ']' {
			p.text = p.text[:n-3]
			return nil
		}
	}
}
