package muc

import (
	"strings"

	"parley/stanza"
)

// form is a parsed XEP-0004 data form: its type and field values.
type form struct {
	typ    string
	values map[string][]string
}

// parseForm reads a <x xmlns='jabber:x:data'/> element.
func parseForm(x *stanza.Element) form {
	f := form{typ: x.Attr("type"), values: make(map[string][]string)}
	for _, field := range x.ChildrenNamed(NSData, "field") {
		v := field.Attr("var")
		if v == "" {
			continue
		}
		vals := []string{}
		for _, val := range field.ChildrenNamed(NSData, "value") {
			vals = append(vals, val.Text())
		}
		f.values[v] = vals
	}
	return f
}

// formType returns the form's FORM_TYPE.
func (f form) formType() string {
	v, _ := f.value("FORM_TYPE")
	return v
}

// value returns a field's first value and whether the field was present.
func (f form) value(name string) (string, bool) {
	vals, ok := f.values[name]
	if !ok {
		return "", false
	}
	if len(vals) == 0 {
		return "", true
	}
	return vals[0], true
}

// parseBoolean reads an XEP-0004 boolean ("1", "true", "0", "false").
func parseBoolean(s string) (bool, bool) {
	switch strings.TrimSpace(s) {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// formatBoolean writes an XEP-0004 boolean.
func formatBoolean(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// newForm starts a data form of type typ with a hidden FORM_TYPE field.
func newForm(typ, formType string) *stanza.Element {
	x := stanza.New(NSData, "x", "type", typ)
	x.Append(stanza.New(NSData, "field", "var", "FORM_TYPE", "type", "hidden").
		Append(stanza.New(NSData, "value").AppendText(formType)))
	return x
}

// field builds a form field; typ and label may be empty.
func field(name, typ, label string, values ...string) *stanza.Element {
	f := stanza.New(NSData, "field", "var", name)
	f.SetAttr("type", typ).SetAttr("label", label)
	for _, v := range values {
		f.Append(stanza.New(NSData, "value").AppendText(v))
	}
	return f
}

// withOptions adds list options, given as label/value pairs, to a field.
func withOptions(f *stanza.Element, pairs ...string) *stanza.Element {
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Append(stanza.New(NSData, "option", "label", pairs[i]).
			Append(stanza.New(NSData, "value").AppendText(pairs[i+1])))
	}
	return f
}
