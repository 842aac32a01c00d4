package xmlstream

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"parley/stanza"
)

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>"

func reader(s string, limit int) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(s)), limit)
}

func TestReadHeader(t *testing.T) {
	h, err := reader(header, 1000).ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.To != "example.test" || h.Version != "1.0" || h.Namespace != "jabber:client" {
		t.Fatalf("header %+v", h)
	}
}

func TestReaderConditions(t *testing.T) {
	cases := []struct {
		name, body string
		limit      int
		want       string // stream error condition; "" means the stanza reads fine
	}{
		{"stanza", "<message><body>hi</body></message>", 1000, ""},
		{"keepalive then stanza", " \n\t <presence/>", 1000, ""},
		{"mismatched tags", "<message><body></message>", 1000, "not-well-formed"},
		{"bad attribute", "<message to=x/>", 1000, "not-well-formed"},
		{"undefined entity", "<message><body>&foo;</body></message>", 1000, "restricted-xml"},
		{"comment", "<!-- x --><presence/>", 1000, "restricted-xml"},
		{"comment inside stanza", "<message><!-- x --></message>", 1000, "restricted-xml"},
		{"processing instruction", "<?php x?>", 1000, "restricted-xml"},
		{"DTD", "<!DOCTYPE foo>", 1000, "restricted-xml"},
		{"text between stanzas", "hello<presence/>", 1000, "bad-format"},
		{"oversized stanza", "<message><body>" + strings.Repeat("x", 2000) + "</body></message>", 1000, "policy-violation"},
		{"oversized attribute", "<message id='" + strings.Repeat("x", 2000) + "'/>", 1000, "policy-violation"},
		{"unbound prefix", "<message><x:y/></message>", 1000, "not-well-formed"},
		{"prefixed payload", "<message><x:y xmlns:x='urn:x'/></message>", 1000, ""},
		{"CDATA", "<message><body><![CDATA[a < b]]></body></message>", 1000, ""},
		{"numeric references", "<message><body>&#x41;&#66;</body></message>", 1000, ""},
		{"bad numeric reference", "<message><body>&#0;</body></message>", 1000, "not-well-formed"},
		{"control character", "<message><body>\x01</body></message>", 1000, "not-well-formed"},
		{"invalid UTF-8", "<message><body>\xff</body></message>", 1000, "not-well-formed"},
		{"duplicate attribute", "<message id='a' id='b'/>", 1000, "not-well-formed"},
		{"attribute without space", "<message id='a'to='b'/>", 1000, "not-well-formed"},
		{"unquoted attribute", "<message id=a/>", 1000, "not-well-formed"},
		{"less-than in attribute", "<message id='a<b'/>", 1000, "not-well-formed"},
		{"stray end tag", "</message>", 1000, "not-well-formed"},
		{"deep nesting", strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300), 100000, "policy-violation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := reader(header+c.body, c.limit+len(header))
			if _, err := r.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			r.src.limit = int64(c.limit)
			el, err := r.Next()
			var se *Error
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.want == "":
				if el == nil {
					t.Fatal("no element")
				}
			case !errors.As(err, &se):
				t.Fatalf("got %v (%T), want stream error %s", err, err, c.want)
			case se.Condition != c.want:
				t.Fatalf("got %s, want %s", se.Condition, c.want)
			}
		})
	}
}

func TestLimitIsPerStanza(t *testing.T) {
	stanza := "<message><body>" + strings.Repeat("x", 500) + "</body></message>"
	r := reader(header+strings.Repeat(stanza, 20), 100000)
	if _, err := r.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	r.src.limit = 600
	for i := 0; i < 20; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatalf("stanza %d: %v", i, err)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after last stanza: %v", err)
	}
}

func TestStreamClose(t *testing.T) {
	r := reader(header+"<presence/></stream:stream>", 1000)
	r.ReadHeader()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("got %v, want ErrStreamClosed", err)
	}
}

func TestErrorElement(t *testing.T) {
	got := (&Error{Condition: "host-unknown", Text: "a<b"}).Element()
	want := "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>a&lt;b</text></stream:error>"
	if got != want {
		t.Fatalf("got %s", got)
	}
}

// FuzzReader feeds arbitrary bytes after a valid header: the reader must
// return elements or errors, never panic or loop.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"<message><body>hi</body></message>", "<iq type='get'><q xmlns='a'/></iq>", "<!--", "&amp;", "<a b='&#0;'/>", "</stream:stream>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := reader(header+body, 4096)
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			el, err := r.Next()
			if err != nil {
				return
			}
			_ = el.String()
		}
	})
}

func BenchmarkReadMessage(b *testing.B) {
	msg := "<message to='bob@example.test' type='chat' id='abc123'><body>Hello there, how are you today?</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
	in := header + strings.Repeat(msg, b.N)
	r := reader(in, 1<<20)
	r.ReadHeader()
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAgainstEncodingXML compares the parser with the standard library's
// decoder (through stanza.Parse): where both accept a stanza they must
// build the same tree.
func FuzzAgainstEncodingXML(f *testing.F) {
	for _, s := range []string{
		"<message to='a@b' type='chat'><body>hi &amp; &lt;x&gt; &#x263A;</body></message>",
		"<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='x@y' name='X'><group>G</group></item></query></iq>",
		"<message><p:x xmlns:p='urn:p' p:a='1' b='2'><p:y/></p:x></message>",
		"<presence xml:lang='de'><status>Weg</status></presence>",
		"<message><body><![CDATA[a < b]]></body></message>",
		"<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>x</body></message></forwarded></message>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := reader(header+in, 1<<16)
		if _, err := r.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		ours, err := r.Next()
		if err != nil {
			return
		}
		std, err := stanza.Parse("<wrap xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + in + "</wrap>")
		if err != nil {
			return
		}
		first := std.FirstElement()
		if first == nil {
			return
		}
		if got, want := ours.String(), first.String(); got != want {
			t.Fatalf("parser disagrees with encoding/xml\ninput %q\nours  %s\nstd   %s", in, got, want)
		}
	})
}

// BenchmarkStdlibParse is the same message through encoding/xml, for
// comparing ratios in one run.
func BenchmarkStdlibParse(b *testing.B) {
	msg := "<message to='bob@example.test' type='chat' id='abc123'><body>Hello there, how are you today?</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if _, err := stanza.Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
