package disco

import (
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"sync"

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
		d.caps.ver = CapsVer(d.r.Identities(router.TargetServer), d.r.Features(router.TargetServer))
		d.caps.el = stanza.New(NSCaps, "c", "hash", "sha-1", "node", CapsNode, "ver", d.caps.ver)
	})
	return d.caps.el
}

// capsNode returns the disco node the capabilities point to, "node#ver".
func (d *Disco) capsNode() string {
	d.serverCaps()
	return CapsNode + "#" + d.caps.ver
}

// CapsVer computes the XEP-0115 §5.1 verification string of identities
// and features, with SHA-1: identities sorted by category, type, language
// and name, then features sorted, each followed by '<', hashed and
// base64-encoded. Duplicate features count once.
func CapsVer(ids []router.Identity, features []string) string {
	ids = append([]router.Identity(nil), ids...)
	sort.Slice(ids, func(i, j int) bool {
		a, b := ids[i], ids[j]
		if a.Category != b.Category {
			return a.Category < b.Category
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Name < b.Name
	})
	features = append([]string(nil), features...)
	sort.Strings(features)
	var s strings.Builder
	for _, id := range ids {
		// category/type/lang/name; parley's identities carry no language.
		s.WriteString(id.Category + "/" + id.Type + "//" + id.Name + "<")
	}
	prev := ""
	for i, f := range features {
		if i > 0 && f == prev {
			continue
		}
		prev = f
		s.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}
