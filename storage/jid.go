package storage

import "strings"

// SplitJID splits a JID into its bare part and its resource ("" if it
// has none); backends store them apart to select archived messages by
// bare or full JID.
func SplitJID(jid string) (bare, resource string) {
	bare, resource, _ = strings.Cut(jid, "/")
	return bare, resource
}
