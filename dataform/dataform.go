// Package dataform reads and writes XEP-0004 data forms, the
// <x xmlns='jabber:x:data'/> payloads that configuration, queries and
// commands use.
package dataform

import (
	"strings"

	"parley/stanza"
)

// NS is the XEP-0004 namespace.
const NS = "jabber:x:data"

// Form is a parsed data form: its type and field values.
type Form struct {
	Type   string              // form, submit, cancel or result
	Values map[string][]string // by field var, in document order
}

// Parse reads a <x xmlns='jabber:x:data'/> element. Fields without a var
// are skipped.
func Parse(x *stanza.Element) Form {
	f := Form{Type: x.Attr("type"), Values: make(map[string][]string)}
	for _, field := range x.ChildrenNamed(NS, "field") {
		v := field.Attr("var")
		if v == "" {
			continue
		}
		vals := []string{}
		for _, val := range field.ChildrenNamed(NS, "value") {
			vals = append(vals, val.Text())
		}
		f.Values[v] = vals
	}
	return f
}

// FormType returns the form's FORM_TYPE.
func (f Form) FormType() string {
	v, _ := f.Value("FORM_TYPE")
	return v
}

// Value returns a field's first value and whether the field was present.
func (f Form) Value(name string) (string, bool) {
	vals, ok := f.Values[name]
	if !ok {
		return "", false
	}
	if len(vals) == 0 {
		return "", true
	}
	return vals[0], true
}

// ParseBoolean reads a boolean value ("1", "true", "0", "false") and
// reports whether it was one.
func ParseBoolean(s string) (bool, bool) {
	switch strings.TrimSpace(s) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// FormatBoolean writes a boolean value.
func FormatBoolean(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// New starts a form of type typ with a hidden FORM_TYPE field.
func New(typ, formType string) *stanza.Element {
	x := stanza.New(NS, "x", "type", typ)
	x.Append(stanza.New(NS, "field", "var", "FORM_TYPE", "type", "hidden").
		Append(stanza.New(NS, "value").AppendText(formType)))
	return x
}

// Field builds a form field; typ and label may be empty.
func Field(name, typ, label string, values ...string) *stanza.Element {
	f := stanza.New(NS, "field", "var", name)
	f.SetAttr("type", typ).SetAttr("label", label)
	for _, v := range values {
		f.Append(stanza.New(NS, "value").AppendText(v))
	}
	return f
}

// WithOptions adds list options, given as label/value pairs, to a field.
func WithOptions(f *stanza.Element, pairs ...string) *stanza.Element {
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Append(stanza.New(NS, "option", "label", pairs[i]).
			Append(stanza.New(NS, "value").AppendText(pairs[i+1])))
	}
	return f
}
