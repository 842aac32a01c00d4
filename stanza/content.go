package stanza

import "strings"

// Namespaces of message payloads that carry what a person wrote in a form
// other than a plain body.
const (
	NSOMEMO       = "eu.siacs.conversations.axolotl" // OMEMO 0.3 (legacy)
	NSOMEMO2      = "urn:xmpp:omemo:2"               // OMEMO 2 (XEP-0384)
	NSOpenPGP     = "urn:xmpp:openpgp:0"             // XEP-0373 OpenPGP for XMPP
	NSLegacyPGP   = "jabber:x:encrypted"             // XEP-0027
	NSEME         = "urn:xmpp:eme:0"                 // XEP-0380 explicit message encryption
	NSOOB         = "jabber:x:oob"                   // XEP-0066 out-of-band data (attachment links)
	NSFileSharing = "urn:xmpp:sfs:0"                 // XEP-0447 stateless file sharing
)

// Content tells what a message carries that a person wrote: a body, an
// end-to-end encrypted payload or an attachment link. Chat states,
// receipts, markers and other signalling carry none.
type Content struct {
	Body      bool
	Encrypted string // the encryption scheme ("OMEMO", "OpenPGP", "OTR", ...), "" if none
	Link      bool
}

// Any reports whether the message carries content at all.
func (c Content) Any() bool { return c.Body || c.Encrypted != "" || c.Link }

// MessageContent tells what content the message el carries; it looks at
// el's direct children only, as the payloads above are always there.
func MessageContent(el *Element) Content {
	var c Content
	for _, n := range el.Children {
		ch, ok := n.(*Element)
		if !ok {
			continue
		}
		switch {
		case ch.Local == "body" && (ch.Space == "" || ch.Space == "jabber:client" || ch.Space == "jabber:server"):
			c.Body = true
			if c.Encrypted == "" && strings.HasPrefix(ch.Text(), "?OTR") {
				c.Encrypted = "OTR"
			}
		case ch.Local == "encrypted" && ch.Space == NSOMEMO, ch.Local == "encrypted" && ch.Space == NSOMEMO2:
			c.Encrypted = "OMEMO"
		case ch.Local == "openpgp" && ch.Space == NSOpenPGP, ch.Local == "x" && ch.Space == NSLegacyPGP:
			c.Encrypted = "OpenPGP"
		case ch.Local == "encryption" && ch.Space == NSEME:
			if c.Encrypted == "" {
				c.Encrypted = ch.Attr("name")
				if c.Encrypted == "" {
					c.Encrypted = ch.Attr("namespace")
				}
			}
		case ch.Local == "x" && ch.Space == NSOOB, ch.Local == "file-sharing" && ch.Space == NSFileSharing:
			c.Link = true
		}
	}
	return c
}
