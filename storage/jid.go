package storage

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// SplitJID splits a JID into its bare part and its resource ("" if it
// has none); backends store them apart to select archived messages by
// bare or full JID.
func SplitJID(jid string) (bare, resource string) {
	bare, resource, _ = strings.Cut(jid, "/")
	return bare, resource
}

// StanzaFrom returns the from attribute of a serialized stanza's
// top-level element: for a group-chat message the sender's occupant JID,
// which backends archive as the message's With. It returns "" if the
// element has no from or cannot be read.
func StanzaFrom(stanza []byte) string {
	d := xml.NewDecoder(bytes.NewReader(stanza))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return ""
		}
		if start, ok := tok.(xml.StartElement); ok {
			for _, a := range start.Attr {
				if a.Name.Space == "" && a.Name.Local == "from" {
					return a.Value
				}
			}
			return ""
		}
	}
}
