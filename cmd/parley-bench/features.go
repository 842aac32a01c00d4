package main

import "bytes"

// features is what the generator needs from <stream:features/>, found
// without building a tree (features are read on every login).
type features struct {
	starttls        bool
	mechanisms      []string
	bind            bool
	sessionRequired bool // legacy session (RFC 3921) without <optional/>
	sasl2           bool // SASL2 (XEP-0388) is offered
	fast            bool // FAST (XEP-0484) with HT-SHA-256-NONE is offered
}

// parseFeatures reads the features element raw.
func parseFeatures(raw []byte) features {
	var f features
	f.starttls = hasChild(raw, "starttls")
	f.bind = hasChild(raw, "bind")
	f.sasl2 = hasChild(raw, "authentication")
	f.fast = hasChild(raw, "fast") && bytes.Contains(raw, []byte(">"+mechHT+"<"))
	rest := raw
	for {
		i := bytes.Index(rest, []byte("<mechanism>"))
		if i < 0 {
			break
		}
		rest = rest[i+len("<mechanism>"):]
		j := bytes.IndexByte(rest, '<')
		if j < 0 {
			break
		}
		f.mechanisms = append(f.mechanisms, string(bytes.TrimSpace(rest[:j])))
		rest = rest[j:]
	}
	if i := elementStart(raw, "session"); i >= 0 {
		sess := raw[i:]
		if end := bytes.Index(sess, []byte("</session>")); end >= 0 {
			f.sessionRequired = !hasChild(sess[:end], "optional")
		} else if e, ok := tagEnd(sess); ok && sess[e-1] == '/' {
			f.sessionRequired = true // <session/>: no <optional/> inside
		}
	}
	return f
}

// hasChild reports whether an element named name (without prefix)
// starts anywhere after raw's first byte.
func hasChild(raw []byte, name string) bool { return elementStart(raw, name) >= 0 }

// elementStart returns the index of the first start tag named name after
// raw's first byte, or -1.
func elementStart(raw []byte, name string) int {
	open := []byte("<" + name)
	for i := 1; i < len(raw); {
		j := bytes.Index(raw[i:], open)
		if j < 0 {
			return -1
		}
		k := i + j + len(open)
		if k < len(raw) && (raw[k] == '>' || raw[k] == '/' || isSpace(raw[k])) {
			return i + j
		}
		i = k
	}
	return -1
}
