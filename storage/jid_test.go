package storage

import "testing"

func TestSplitJID(t *testing.T) {
	for _, tc := range []struct{ jid, bare, resource string }{
		{"alice@example.org", "alice@example.org", ""},
		{"alice@example.org/phone", "alice@example.org", "phone"},
		{"room@conference.example.org/nick/with/slashes", "room@conference.example.org", "nick/with/slashes"},
		{"example.org/res@x", "example.org", "res@x"},
		{"", "", ""},
	} {
		bare, resource := SplitJID(tc.jid)
		if bare != tc.bare || resource != tc.resource {
			t.Errorf("SplitJID(%q) = %q, %q; want %q, %q", tc.jid, bare, resource, tc.bare, tc.resource)
		}
	}
}

func TestStanzaFrom(t *testing.T) {
	for _, tc := range []struct{ stanza, want string }{
		{`<message from='r@muc.example.org/nick' type='groupchat'><body>hi</body></message>`, "r@muc.example.org/nick"},
		{`<message xmlns='jabber:client' type='groupchat' from="r@muc.example.org/a &amp; b"/>`, "r@muc.example.org/a & b"},
		{`<?xml version='1.0'?><message from='r@m/x'/>`, "r@m/x"},
		// Only the top-level element's own, unprefixed from counts.
		{`<message xmlns:o='urn:other' o:from='x@y'><body from='z@y'/></message>`, ""},
		{`<message type='groupchat'/>`, ""},
		{``, ""},
		{`not xml`, ""},
		{`<message from='unterminated`, ""},
	} {
		if got := StanzaFrom([]byte(tc.stanza)); got != tc.want {
			t.Errorf("StanzaFrom(%s) = %q, want %q", tc.stanza, got, tc.want)
		}
	}
}
