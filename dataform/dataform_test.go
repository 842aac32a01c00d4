package dataform

import (
	"testing"

	"parley/stanza"
)

func TestParseAndBuild(t *testing.T) {
	x := New("submit", "urn:xmpp:mam:2")
	x.Append(Field("with", "jid-single", "", "juliet@capulet.lit"))
	x.Append(Field("ids", "list-multi", "", "a", "b"))
	x.Append(Field("empty", "text-single", ""))
	x.Append(stanza.New(NS, "field")) // no var: skipped
	f := Parse(x)
	if f.Type != "submit" || f.FormType() != "urn:xmpp:mam:2" {
		t.Fatalf("type %q, FORM_TYPE %q", f.Type, f.FormType())
	}
	if v, ok := f.Value("with"); !ok || v != "juliet@capulet.lit" {
		t.Fatalf("with = %q, %v", v, ok)
	}
	if ids := f.Values["ids"]; len(ids) != 2 || ids[1] != "b" {
		t.Fatalf("ids = %v", ids)
	}
	if v, ok := f.Value("empty"); !ok || v != "" {
		t.Fatalf("empty = %q, %v", v, ok)
	}
	if _, ok := f.Value("missing"); ok {
		t.Fatal("a missing field is present")
	}
	if len(f.Values) != 4 {
		t.Fatalf("%d fields, want 4", len(f.Values))
	}
}

func TestBooleans(t *testing.T) {
	for _, c := range []struct {
		in        string
		want, ok_ bool
	}{{"1", true, true}, {"true", true, true}, {" 0 ", false, true}, {"false", false, true}, {"yes", false, false}} {
		got, ok := ParseBoolean(c.in)
		if got != c.want || ok != c.ok_ {
			t.Errorf("ParseBoolean(%q) = %v, %v", c.in, got, ok)
		}
	}
	if FormatBoolean(true) != "1" || FormatBoolean(false) != "0" {
		t.Error("FormatBoolean")
	}
}
