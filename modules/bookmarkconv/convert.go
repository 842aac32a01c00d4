package bookmarkconv

import (
	"parley/stanza"
)

// Namespaces and nodes.
const (
	// NSLegacy is the XEP-0048 namespace, of the <storage/> element kept
	// in private storage (XEP-0049) and in the NodeLegacy node.
	NSLegacy = "storage:bookmarks"
	// NSNative is the XEP-0402 namespace, of the node keeping one
	// <conference/> item per room.
	NSNative = "urn:xmpp:bookmarks:1"

	// NodeLegacy is the PEP node of XEP-0048 bookmarks (XEP-0223).
	NodeLegacy = NSLegacy
	// NodeNative is the PEP node of XEP-0402 bookmarks.
	NodeNative = NSNative

	// FeatureConversion is the XEP-0411 feature of accounts.
	FeatureConversion = "urn:xmpp:bookmarks-conversion:0"
	// FeatureCompat and FeatureCompatPEP are the XEP-0402 features of an
	// account whose XEP-0402 bookmarks are unified with private storage
	// and with the XEP-0048 PEP node.
	FeatureCompat    = NSNative + "#compat"
	FeatureCompatPEP = NSNative + "#compat-pep"
)

// legacyItemID is the ID of the single item of NodeLegacy.
const legacyItemID = "current"

// bookmark is one conference bookmark, whichever form it came in.
type bookmark struct {
	jid      string
	name     string
	autojoin bool
	nick     string
	password string
	// extensions are the elements neither form defines: XEP-0402's
	// <extensions/> children, a legacy conference's unknown children.
	extensions []*stanza.Element
}

// fromLegacy reads a XEP-0048 <conference/>; ok is false without a jid.
func fromLegacy(c *stanza.Element) (b bookmark, ok bool) {
	b = bookmark{jid: c.Attr("jid"), name: c.Attr("name"), autojoin: boolean(c.Attr("autojoin"))}
	for _, ch := range c.Elements() {
		switch {
		case ch.Space == NSLegacy && ch.Local == "nick":
			b.nick = ch.Text()
		case ch.Space == NSLegacy && ch.Local == "password":
			b.password = ch.Text()
		default:
			b.extensions = append(b.extensions, ch)
		}
	}
	return b, b.jid != ""
}

// fromNative reads a XEP-0402 item: its ID is the room's JID.
func fromNative(id string, c *stanza.Element) (b bookmark, ok bool) {
	if c == nil || c.Space != NSNative || c.Local != "conference" || id == "" {
		return bookmark{}, false
	}
	b = bookmark{jid: id, name: c.Attr("name"), autojoin: boolean(c.Attr("autojoin"))}
	for _, ch := range c.Elements() {
		switch {
		case ch.Space == NSNative && ch.Local == "nick":
			b.nick = ch.Text()
		case ch.Space == NSNative && ch.Local == "password":
			b.password = ch.Text()
		case ch.Space == NSNative && ch.Local == "extensions":
			b.extensions = append(b.extensions, ch.Elements()...)
		}
	}
	return b, true
}

// legacy renders b as a XEP-0048 <conference/>.
func (b bookmark) legacy() *stanza.Element {
	c := stanza.New(NSLegacy, "conference", "jid", b.jid)
	c.SetAttr("name", b.name)
	if b.autojoin {
		c.SetAttr("autojoin", "true")
	}
	if b.nick != "" {
		c.Append(stanza.New(NSLegacy, "nick").AppendText(b.nick))
	}
	if b.password != "" {
		c.Append(stanza.New(NSLegacy, "password").AppendText(b.password))
	}
	for _, e := range b.extensions {
		c.Append(e.Copy())
	}
	return c
}

// native renders b as the payload of its XEP-0402 item.
func (b bookmark) native() *stanza.Element {
	c := stanza.New(NSNative, "conference")
	c.SetAttr("name", b.name)
	if b.autojoin {
		c.SetAttr("autojoin", "true")
	}
	if b.nick != "" {
		c.Append(stanza.New(NSNative, "nick").AppendText(b.nick))
	}
	if b.password != "" {
		c.Append(stanza.New(NSNative, "password").AppendText(b.password))
	}
	if len(b.extensions) > 0 {
		x := stanza.New(NSNative, "extensions")
		for _, e := range b.extensions {
			x.Append(e.Copy())
		}
		c.Append(x)
	}
	return c
}

// same reports whether a and b are the same bookmark.
func same(a, b bookmark) bool {
	return a.jid == b.jid && a.native().String() == b.native().String()
}

// boolean reads an XML Schema boolean, false unless "true" or "1".
func boolean(s string) bool { return s == "true" || s == "1" }

// splitLegacy returns the conferences of a XEP-0048 <storage/>, in order
// and each room once (the first), and its other children (URL bookmarks,
// conferences without a jid, unknown elements), to be kept as they are.
func splitLegacy(storage *stanza.Element) (confs []bookmark, others []*stanza.Element) {
	if storage == nil {
		return nil, nil
	}
	seen := make(map[string]bool)
	for _, ch := range storage.Elements() {
		if ch.Space == NSLegacy && ch.Local == "conference" {
			if b, ok := fromLegacy(ch); ok {
				if !seen[b.jid] {
					seen[b.jid] = true
					confs = append(confs, b)
				}
				continue
			}
		}
		others = append(others, ch)
	}
	return confs, others
}

// legacyStorage builds a XEP-0048 <storage/> of confs followed by others.
func legacyStorage(confs []bookmark, others []*stanza.Element) *stanza.Element {
	s := stanza.New(NSLegacy, "storage")
	for _, b := range confs {
		s.Append(b.legacy())
	}
	for _, o := range others {
		s.Append(o.Copy())
	}
	return s
}
