package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkReader returns its input n bytes per Read.
type chunkReader struct {
	s string
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	k := min(r.n, len(p), len(r.s))
	copy(p, r.s[:k])
	r.s = r.s[k:]
	return k, nil
}

func scanAll(t *testing.T, r io.Reader, size int) []string {
	t.Helper()
	sc := newScanner(r, size, 1<<16)
	var out []string
	for {
		tok, err := sc.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		prefix := map[tokenKind]string{tokHeader: "H:", tokStanza: "S:", tokEnd: "E:"}[tok.kind]
		out = append(out, prefix+string(tok.raw))
	}
}

func TestScannerBoundaries(t *testing.T) {
	header := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='d' version='1.0'>`
	stanzas := []string{
		`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
		`<presence/>`,
		`<presence from='a@b/r>x' to="c@d/e/f'"/>`,
		`<message from='a@b/x/' id="m'1"><body>a &lt;b&gt; &amp; c &#x263A; 'q' "dq" / ></body><x xmlns='y'><y><z/></y></x></message>`,
		`<iq type='get' id='p1' from='d'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<message><body>` + strings.Repeat("long text ", 300) + `</body></message>`,
	}
	input := header + "\n" + strings.Join(stanzas, " \n\t") + "  </stream:stream>"
	var want []string
	want = append(want, "H:"+header[len(`<?xml version='1.0'?>`):])
	for _, s := range stanzas {
		want = append(want, "S:"+s)
	}
	want = append(want, "E:</stream:stream>")

	for _, tc := range []struct {
		name string
		r    io.Reader
		size int
	}{
		{"whole", strings.NewReader(input), 64},
		{"one byte per read", iotest.OneByteReader(strings.NewReader(input)), 16},
		{"7 bytes per read", &chunkReader{input, 7}, 32},
		{"100 bytes per read", &chunkReader{input, 100}, 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scanAll(t, tc.r, tc.size)
			if len(got) != len(want) {
				t.Fatalf("got %d tokens, want %d:\n%q", len(got), len(want), got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("token %d:\n got %q\nwant %q", i, got[i], want[i])
				}
			}
		})
	}
}

func TestScannerRestart(t *testing.T) {
	in := `<stream:stream to='d'><success xmlns='s'/><stream:stream id='2'><stream:features/>`
	sc := newScanner(strings.NewReader(in), 8, 1024)
	var kinds []tokenKind
	for i := 0; i < 4; i++ {
		tok, err := sc.next()
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, tok.kind)
		if tok.kind == tokStanza && string(elemName(tok.raw)) == "success" {
			sc.restart()
		}
	}
	want := []tokenKind{tokHeader, tokStanza, tokHeader, tokStanza}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
}

func TestScannerErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"comment", `<stream:stream><!-- no --><presence/>`, "not allowed"},
		{"cdata", `<stream:stream><message><![CDATA[x]]></message>`, "not allowed"},
		{"text at stream level", `<stream:stream>hello<presence/>`, "unexpected text"},
		{"too large", `<stream:stream><message><body>` + strings.Repeat("x", 300) + `</body></message>`, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScanner(strings.NewReader(tc.in), 16, 128)
			var err error
			for err == nil {
				_, err = sc.next()
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAttr(t *testing.T) {
	raw := []byte(`<message type = "chat" from='a@b/x" id=&apos;' id='real' to="t&amp;u"><body id='inner'>hi &amp; bye</body></message>`)
	for _, tc := range []struct {
		name, want string
		found      bool
	}{
		{"type", "chat", true},
		{"from", `a@b/x" id='`, true},
		{"id", "real", true},
		{"to", "t&u", true},
		{"missing", "", false},
	} {
		v, ok := attr(raw, tc.name)
		if ok != tc.found || unescape(v) != tc.want {
			t.Errorf("attr %s = %q, %v; want %q, %v", tc.name, unescape(v), ok, tc.want, tc.found)
		}
	}
	if n := string(elemName(raw)); n != "message" {
		t.Errorf("elemName = %q", n)
	}
	if b, ok := childText(raw, "body"); !ok || unescape(b) != "hi & bye" {
		t.Errorf("childText body = %q, %v", b, ok)
	}
	if _, ok := childText([]byte(`<message><bodyx>no</bodyx></message>`), "body"); ok {
		t.Error("childText matched a longer element name")
	}
}

func TestUnescapeEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a &lt; b &gt; c &amp; &apos;&quot;", `a < b > c & '"`},
		{"&#65;&#x42;&#X43;", "ABC"},
		{"&bogus; & alone", "&bogus; & alone"},
	} {
		if got := unescape([]byte(tc.in)); got != tc.want {
			t.Errorf("unescape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	s := `<a href='x'>&"`
	if got := unescape([]byte(escape(s))); got != s {
		t.Errorf("escape round trip: %q", got)
	}
}

func TestErrorCondition(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`<iq type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, "conflict"},
		{`<iq type='error'><error type='cancel'><text xmlns='s'>why</text><not-allowed xmlns='s'/></error></iq>`, "not-allowed"},
		{`<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`, "host-unknown"},
		{`<iq type='error'/>`, "unknown"},
	} {
		if got := errorCondition([]byte(tc.raw)); got != tc.want {
			t.Errorf("errorCondition(%s) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}
