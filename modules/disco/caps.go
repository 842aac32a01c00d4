package disco

import (
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"sync"

	"parley/dataform"
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

// CapsVer computes the XEP-0115 §5.1 verification string of identities
// and features, with SHA-1: identities sorted by category, type, language
// and name, then features sorted, each followed by '<', hashed and
// base64-encoded. Duplicate features count once. Extended information
// forms (XEP-0128) follow (§5.4): sorted by FORM_TYPE, each its FORM_TYPE
// then its other fields sorted by var, each var followed by its sorted
// values.
func CapsVer(ids []router.Identity, features []string, forms ...*stanza.Element) string {
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
	writeCapsForms(&s, forms)
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// writeCapsForms appends the extended information forms to the
// verification string (XEP-0115 §5.4 step 3.7 and following).
func writeCapsForms(s *strings.Builder, forms []*stanza.Element) {
	type field struct {
		name   string
		values []string
	}
	type form struct {
		formType string
		fields   []field
	}
	var fs []form
	for _, x := range forms {
		var f form
		for _, fl := range x.ChildrenNamed(dataform.NS, "field") {
			var vals []string
			for _, v := range fl.ChildrenNamed(dataform.NS, "value") {
				vals = append(vals, v.Text())
			}
			if fl.Attr("var") == "FORM_TYPE" {
				if len(vals) > 0 {
					f.formType = vals[0]
				}
				continue
			}
			sort.Strings(vals)
			f.fields = append(f.fields, field{fl.Attr("var"), vals})
		}
		sort.Slice(f.fields, func(i, j int) bool { return f.fields[i].name < f.fields[j].name })
		fs = append(fs, f)
	}
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].formType < fs[j].formType })
	for _, f := range fs {
		s.WriteString(f.formType + "<")
		for _, fl := range f.fields {
			s.WriteString(fl.name + "<")
			for _, v := range fl.values {
				s.WriteString(v + "<")
			}
		}
	}
}
