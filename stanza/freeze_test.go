package stanza

import "testing"

func TestFreeze(t *testing.T) {
	build := func() *Element {
		return New("urn:test:event", "event").Append(
			New("urn:test:event", "items", "node", "n&<'").Append(
				New("urn:test:payload", "tune").AppendText("a < b & 'c'")))
	}
	shared := build().Freeze()
	for _, tc := range []struct {
		name  string
		write func(*Element) string
	}{
		{"in a stream", func(e *Element) string { return e.String() }},
		{"qualified", func(e *Element) string {
			var b stringsBuilder
			e.WriteQualified(&b)
			return b.String()
		}},
	} {
		want := tc.write(New("", "message", "to", "a@b").Append(build()))
		for range 2 {
			if got := tc.write(New("", "message", "to", "a@b").Append(shared)); got != want {
				t.Errorf("%s: frozen child written as\n%s\nwant\n%s", tc.name, got, want)
			}
		}
		if got, want := tc.write(shared), tc.write(build()); got != want {
			t.Errorf("%s: frozen element on its own written as\n%s\nwant\n%s", tc.name, got, want)
		}
	}
	// A frozen element keeps its children for those who read it, and a
	// copy of it may change.
	if shared.Child("urn:test:event", "items").Attr("node") != "n&<'" {
		t.Error("frozen element lost its children")
	}
	c := shared.Copy()
	c.Child("urn:test:event", "items").SetAttr("node", "other")
	if got := c.String(); got == shared.String() {
		t.Errorf("a changed copy is written as the frozen original: %s", got)
	}
	// An element of the parent's own namespace is written as usual.
	child := New("", "body").AppendText("hi").Freeze()
	if got, want := New("", "message").Append(child).String(), "<message><body>hi</body></message>"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// stringsBuilder is a Writer collecting a string.
type stringsBuilder struct{ b []byte }

func (s *stringsBuilder) WriteString(x string) (int, error) {
	s.b = append(s.b, x...)
	return len(x), nil
}
func (s *stringsBuilder) WriteByte(c byte) error { s.b = append(s.b, c); return nil }
func (s *stringsBuilder) String() string         { return string(s.b) }
