package disco

import (
	"sync"

	"parley/entitycaps"
	"parley/router"
	"parley/stanza"
)

// NSCaps is the namespace of Entity Capabilities (XEP-0115).
const NSCaps = "http://jabber.org/protocol/caps"

// CapsNode names parley in its entity capabilities.
const CapsNode = "https://parley.invalid/caps"

// caps holds the server's entity capabilities, computed once every module
// has registered its features (the first time a stream asks).
type caps struct {
	once sync.Once
	ver  string
	el   *stanza.Element
}

// serverCaps returns the server's capabilities element for stream
// features (XEP-0115 §6.3).
func (d *Disco) serverCaps() *stanza.Element {
	d.caps.once.Do(func() {
		d.caps.ver = CapsVer(d.r.Identities(router.TargetServer), d.r.Features(router.TargetServer), d.r.InfoForms(router.TargetServer)...)
		d.caps.el = stanza.New(NSCaps, "c", "hash", "sha-1", "node", CapsNode, "ver", d.caps.ver)
	})
	return d.caps.el
}

// capsNode returns the disco node the capabilities point to, "node#ver".
func (d *Disco) capsNode() string {
	d.serverCaps()
	return CapsNode + "#" + d.caps.ver
}

// CapsVer computes the XEP-0115 §5.1 verification string of identities,
// features and extended information forms (XEP-0128, §5.4) with the same
// code that verifies clients' capabilities (entitycaps.Ver). Duplicate
// identities and features count once. It returns "" for forms that
// cannot be hashed (two of one FORM_TYPE).
func CapsVer(ids []router.Identity, features []string, forms ...*stanza.Element) string {
	q := stanza.New(entitycaps.NSDiscInfo, "query")
	seenID := make(map[router.Identity]bool, len(ids))
	for _, id := range ids {
		if seenID[id] {
			continue
		}
		seenID[id] = true
		el := stanza.New(entitycaps.NSDiscInfo, "identity", "category", id.Category, "type", id.Type)
		if id.Name != "" {
			el.SetAttr("name", id.Name)
		}
		q.Append(el)
	}
	seen := make(map[string]bool, len(features))
	for _, f := range features {
		if seen[f] {
			continue
		}
		seen[f] = true
		q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", f))
	}
	for _, f := range forms {
		q.Append(f)
	}
	ver, err := entitycaps.Ver(q)
	if err != nil {
		return ""
	}
	return ver
}
