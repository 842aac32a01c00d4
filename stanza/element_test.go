package stanza

import (
	"bytes"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"content namespace dropped", `<message xmlns='jabber:client' to='a@b' type='chat'><body>hi &amp; &lt;you&gt;</body></message>`,
			`<message to='a@b' type='chat'><body>hi &amp; &lt;you&gt;</body></message>`},
		{"payload namespace kept", `<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='x@y'/></query></iq>`,
			`<iq type='get' id='1'><query xmlns='jabber:iq:roster'><item jid='x@y'/></query></iq>`},
		{"prefixed payload resolved", `<message><x:foo xmlns:x='urn:x'><x:bar/></x:foo></message>`,
			`<message><foo xmlns='urn:x'><bar/></foo></message>`},
		{"xml:lang kept", `<message xml:lang='en'><body xml:lang='de'>x</body></message>`,
			`<message xml:lang='en'><body xml:lang='de'>x</body></message>`},
		{"forwarded stanza declares jabber:client", `<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='a'/></forwarded></message>`,
			`<message><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='a'/></forwarded></message>`},
		{"attribute quoting", `<message id="a'b&quot;c"/>`, `<message id='a&apos;b&quot;c'/>`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := Parse(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.String(); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			again, err := Parse(e.String())
			if err != nil || again.String() != c.want {
				t.Fatalf("second round trip: %v %s", err, again)
			}
		})
	}
}

func TestParseRestricted(t *testing.T) {
	for _, in := range []string{`<a><!-- c --></a>`, `<a><?pi x?></a>`, `<a><!DOCTYPE a></a>`} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), "restricted") {
			t.Errorf("%s: got %v, want restricted error", in, err)
		}
	}
}

func TestErrorReply(t *testing.T) {
	in, _ := Parse(`<message xmlns='jabber:client' from='a@x/r' to='b@x' id='7' type='chat'><body>hi</body></message>`)
	r := ErrorReply(in, Err("service-unavailable"))
	want := `<message id='7' to='a@x/r' from='b@x' type='error'><body>hi</body><error type='cancel' code='503'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`
	if r.String() != want {
		t.Fatalf("got  %s\nwant %s", r, want)
	}
	if ErrorReply(r, Err("bad-request")) != nil {
		t.Fatal("an error stanza was answered with an error")
	}
	res, _ := Parse(`<iq xmlns='jabber:client' from='a@x/r' to='b@x/s' id='8' type='result'/>`)
	if ErrorReply(res, Err("service-unavailable")) != nil {
		t.Fatal("an iq result was answered with an error (RFC 6120 8.2.3)")
	}
}

func TestAccessors(t *testing.T) {
	e, _ := Parse(`<iq xmlns='jabber:client' type='set' id='x'><query xmlns='jabber:iq:roster'><item jid='a@b'><group>G1</group><group>G2</group></item></query></iq>`)
	if e.Kind() != "iq" || e.Type() != "set" || e.ID() != "x" {
		t.Fatalf("kind/type/id: %q %q %q", e.Kind(), e.Type(), e.ID())
	}
	q := e.Child("jabber:iq:roster", "query")
	if q == nil {
		t.Fatal("query not found by namespace")
	}
	item := q.Child("", "item")
	if gs := item.ChildrenNamed("jabber:iq:roster", "group"); len(gs) != 2 || gs[1].Text() != "G2" {
		t.Fatalf("groups: %v", gs)
	}
	e.SetAttr("id", "")
	if e.HasAttr("id") {
		t.Fatal("SetAttr with empty value did not remove")
	}
}

func BenchmarkSerializeMessage(b *testing.B) {
	m, err := Parse("<message from='alice@example.test/a' to='bob@example.test/b' type='chat' id='abc'><body>Hello there, how are you today? &amp; more</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf.Reset()
		m.WriteTo(&buf)
	}
	b.SetBytes(int64(buf.Len()))
}

func TestAttrsWithout(t *testing.T) {
	e := &Element{Local: "message", Attrs: []Attr{
		{Local: "to", Value: "a@b"}, {Local: "from", Value: "c@d"}, {Local: "id", Value: "1"},
		{Space: NSXML, Local: "lang", Value: "en"}, {Space: "urn:x", Local: "to", Value: "kept"},
	}}
	got := e.AttrsWithout("to", "from")
	want := []Attr{{Local: "id", Value: "1"}, {Space: NSXML, Local: "lang", Value: "en"}, {Space: "urn:x", Local: "to", Value: "kept"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// The copy is the caller's: changing it leaves e as it was.
	got[0].Value = "changed"
	if e.ID() != "1" {
		t.Errorf("AttrsWithout shares its result with the element: id is now %q", e.ID())
	}
}

func TestErrorLegacyCodes(t *testing.T) {
	cases := []struct{ condition, code string }{
		{"item-not-found", "404"},
		{"service-unavailable", "503"},
		{"not-acceptable", "406"},
		{"bad-request", "400"},
		{"forbidden", "403"},
	}
	for _, c := range cases {
		if got := Err(c.condition).Element().Attr("code"); got != c.code {
			t.Errorf("%s: code %q, want %q", c.condition, got, c.code)
		}
	}
	if Err("no-such-condition").Element().HasAttr("code") {
		t.Error("an unknown condition got a legacy code")
	}
}
