package stanza

import "testing"

func TestText(t *testing.T) {
	cases := []struct {
		name string
		el   *Element
		want string
	}{
		{"none", New("", "body"), ""},
		{"one text node", New("", "body").AppendText("hello"), "hello"},
		{"several text nodes", New("", "body").AppendText("hel").AppendText("lo"), "hello"},
		{"text around an element", New("", "p").AppendText("a").Append(New("", "b").AppendText("x")).AppendText("c"), "ac"},
		{"only an element", New("", "p").Append(New("", "b").AppendText("x")), ""},
	}
	for _, c := range cases {
		if got := c.el.Text(); got != c.want {
			t.Errorf("%s: Text() = %q, want %q", c.name, got, c.want)
		}
	}
	one := New("", "body").AppendText("hello")
	if n := testing.AllocsPerRun(100, func() { _ = one.Text() }); n != 0 {
		t.Errorf("Text of one text node allocates %v times", n)
	}
}
