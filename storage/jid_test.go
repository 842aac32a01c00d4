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
