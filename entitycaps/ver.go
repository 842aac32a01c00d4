// Package entitycaps is the server side of Entity Capabilities
// (XEP-0115): it reads the <c/> element of the presence the server sees,
// learns what a capabilities hash stands for by asking one entity that
// advertises it (disco#info), verifies the answer against the hash, and
// keeps the verified feature lists in a bounded cache, so that features
// such as personal eventing notifications (XEP-0163 "+notify") go only to
// the resources that asked for them.
package entitycaps

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"parley/dataform"
	"parley/stanza"
)

// Namespaces.
const (
	NS         = "http://jabber.org/protocol/caps"
	NSDiscInfo = "http://jabber.org/protocol/disco#info"
)

type identity struct{ category, typ, lang, name string }

// Ver computes the XEP-0115 §5.1 verification string, with SHA-1, of a
// disco#info <query/> result: identities sorted by category, type,
// language and name, features sorted, then the extended information forms
// (XEP-0128) sorted by FORM_TYPE, each with its fields sorted by var and
// their values sorted (§5.4). It refuses, as §5.4 requires, a result with
// duplicate identities or features, or with two forms of one FORM_TYPE.
func Ver(query *stanza.Element) (string, error) {
	var ids []identity
	for _, el := range query.ChildrenNamed(NSDiscInfo, "identity") {
		ids = append(ids, identity{el.Attr("category"), el.Attr("type"), el.Lang(), el.Attr("name")})
	}
	slices.SortFunc(ids, func(a, b identity) int {
		return strings.Compare(a.category+"\x00"+a.typ+"\x00"+a.lang+"\x00"+a.name, b.category+"\x00"+b.typ+"\x00"+b.lang+"\x00"+b.name)
	})
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return "", errors.New("duplicate identity")
		}
	}
	features := Features(query)
	for i := 1; i < len(features); i++ {
		if features[i] == features[i-1] {
			return "", errors.New("duplicate feature " + features[i])
		}
	}
	var s strings.Builder
	for _, id := range ids {
		s.WriteString(id.category + "/" + id.typ + "/" + id.lang + "/" + id.name + "<")
	}
	for _, f := range features {
		s.WriteString(f + "<")
	}
	if err := writeForms(&s, query.ChildrenNamed(dataform.NS, "x")); err != nil {
		return "", err
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// Features returns the features of a disco#info <query/>, sorted.
func Features(query *stanza.Element) []string {
	var out []string
	for _, el := range query.ChildrenNamed(NSDiscInfo, "feature") {
		out = append(out, el.Attr("var"))
	}
	slices.Sort(out)
	return out
}

// writeForms appends the extended information forms (§5.4, steps 3.6 to
// 3.8). Forms without a FORM_TYPE are left out.
func writeForms(s *strings.Builder, forms []*stanza.Element) error {
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
		hasType := false
		for _, fl := range x.ChildrenNamed(dataform.NS, "field") {
			var vals []string
			for _, v := range fl.ChildrenNamed(dataform.NS, "value") {
				vals = append(vals, v.Text())
			}
			if fl.Attr("var") == "FORM_TYPE" {
				if len(vals) > 0 {
					f.formType, hasType = vals[0], true
				}
				continue
			}
			slices.Sort(vals)
			f.fields = append(f.fields, field{fl.Attr("var"), vals})
		}
		if !hasType {
			continue
		}
		slices.SortFunc(f.fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
		fs = append(fs, f)
	}
	slices.SortStableFunc(fs, func(a, b form) int { return strings.Compare(a.formType, b.formType) })
	for i := 1; i < len(fs); i++ {
		if fs[i].formType == fs[i-1].formType {
			return errors.New("two forms of type " + fs[i].formType)
		}
	}
	for _, f := range fs {
		s.WriteString(f.formType + "<")
		for _, fl := range f.fields {
			s.WriteString(fl.name + "<")
			for _, v := range fl.values {
				s.WriteString(v + "<")
			}
		}
	}
	return nil
}
