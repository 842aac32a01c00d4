package stanza

import "testing"

func TestMessageContent(t *testing.T) {
	cases := []struct {
		name, xml string
		want      Content
	}{
		{"body", `<message><body>hi</body></message>`, Content{Body: true}},
		{"chat state only", `<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>`, Content{}},
		{"receipt", `<message><received xmlns='urn:xmpp:receipts' id='x'/></message>`, Content{}},
		{"omemo", `<message><encrypted xmlns='eu.siacs.conversations.axolotl'><header/></encrypted><body>I sent you an OMEMO encrypted message</body></message>`, Content{Body: true, Encrypted: "OMEMO"}},
		{"omemo 2", `<message><encrypted xmlns='urn:xmpp:omemo:2'/></message>`, Content{Encrypted: "OMEMO"}},
		{"openpgp", `<message><openpgp xmlns='urn:xmpp:openpgp:0'>abc</openpgp></message>`, Content{Encrypted: "OpenPGP"}},
		{"legacy pgp", `<message><body>x</body><x xmlns='jabber:x:encrypted'>abc</x></message>`, Content{Body: true, Encrypted: "OpenPGP"}},
		{"otr", `<message><body>?OTR:AAMD</body></message>`, Content{Body: true, Encrypted: "OTR"}},
		{"eme", `<message><encryption xmlns='urn:xmpp:eme:0' namespace='urn:example' name='Example'/></message>`, Content{Encrypted: "Example"}},
		{"link", `<message><x xmlns='jabber:x:oob'><url>https://a.test/f</url></x></message>`, Content{Link: true}},
		{"nested body is not content", `<message><result xmlns='urn:xmpp:mam:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'><body>old</body></message></forwarded></result></message>`, Content{}},
	}
	for _, c := range cases {
		el, err := Parse(c.xml)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := MessageContent(el)
		if got != c.want {
			t.Errorf("%s: MessageContent = %+v, want %+v", c.name, got, c.want)
		}
		if got.Any() != (c.want != Content{}) {
			t.Errorf("%s: Any() = %v", c.name, got.Any())
		}
	}
}
