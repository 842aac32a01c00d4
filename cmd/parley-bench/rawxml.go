package main

import (
	"bytes"
	"strings"
)

// elemName returns the qualified name of the element raw starts with,
// e.g. "message" or "stream:features".
func elemName(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '<' {
		return nil
	}
	i := 1
	for i < len(raw) && !isSpace(raw[i]) && raw[i] != '/' && raw[i] != '>' {
		i++
	}
	return raw[1:i]
}

// attr returns the still-escaped value of attribute name on the element
// raw starts with. It walks the attributes in order, so a name appearing
// inside another attribute's value is never mistaken for an attribute.
func attr(raw []byte, name string) ([]byte, bool) {
	end, ok := tagEnd(raw)
	if !ok {
		return nil, false
	}
	tag := raw[:end]
	i := 1 + len(elemName(raw))
	for i < len(tag) {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		ns := i
		for i < len(tag) && tag[i] != '=' && !isSpace(tag[i]) && tag[i] != '/' {
			i++
		}
		an := tag[ns:i]
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			return nil, false
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '\'' && tag[i] != '"') {
			return nil, false
		}
		q := tag[i]
		vs := i + 1
		ve := bytes.IndexByte(tag[vs:], q)
		if ve < 0 {
			return nil, false
		}
		if string(an) == name {
			return tag[vs : vs+ve], true
		}
		i = vs + ve + 1
	}
	return nil, false
}

// attrString returns the unescaped value of attribute name, or "".
func attrString(raw []byte, name string) string {
	v, _ := attr(raw, name)
	return unescape(v)
}

// childText returns the raw (escaped) text of the first element named
// name anywhere below the element raw starts with.
func childText(raw []byte, name string) ([]byte, bool) {
	open := "<" + name
	i := 0
	for {
		j := bytes.Index(raw[i+1:], []byte(open))
		if j < 0 {
			return nil, false
		}
		i += 1 + j
		k := i + len(open)
		if k >= len(raw) {
			return nil, false
		}
		switch c := raw[k]; {
		case c == '/':
			return nil, true // <name/>: present, empty
		case c == '>' || isSpace(c):
			e, ok := tagEnd(raw[i:])
			if !ok {
				return nil, false
			}
			if raw[i+e-1] == '/' {
				return nil, true
			}
			start := i + e + 1
			stop := bytes.Index(raw[start:], []byte("</"+name+">"))
			if stop < 0 {
				return nil, false
			}
			return raw[start : start+stop], true
		}
	}
}

// unescape resolves the five predefined entities and character
// references in text or attribute values.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			sb.Write(b)
			break
		}
		sb.Write(b[:i])
		b = b[i:]
		j := bytes.IndexByte(b, ';')
		if j < 0 {
			sb.Write(b)
			break
		}
		if r, ok := entity(string(b[1:j])); ok {
			sb.WriteRune(r)
		} else {
			sb.Write(b[:j+1])
		}
		b = b[j+1:]
	}
	return sb.String()
}

func entity(name string) (rune, bool) {
	switch name {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(name) > 1 && name[0] == '#' {
		n, base := name[1:], 10
		if n[0] == 'x' || n[0] == 'X' {
			n, base = n[1:], 16
		}
		var r rune
		for _, c := range n {
			d := strings.IndexRune("0123456789abcdef", c|0x20)
			if d < 0 || d >= base {
				return 0, false
			}
			r = r*rune(base) + rune(d)
			if r > 0x10FFFF {
				return 0, false
			}
		}
		return r, n != ""
	}
	return 0, false
}

// escape makes s safe inside a quoted attribute value or text.
func escape(s string) string {
	if !strings.ContainsAny(s, "<>&'\"") {
		return s
	}
	return xmlEscaper.Replace(s)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")
