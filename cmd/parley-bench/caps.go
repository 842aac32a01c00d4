package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"
)

const (
	nsCaps      = "http://jabber.org/protocol/caps"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
	// capsNode is the generator's entity capabilities node (XEP-0115
	// §4): the URI that names the client software.
	capsNode = "urn:parley:bench"
)

// capsProfile is what a session advertises with entity capabilities
// (XEP-0115): one client identity and a feature list, the verification
// string of both, and the disco#info answer that the string stands for.
type capsProfile struct {
	ver      string
	presence string // initial presence carrying <c/>
	query    string // the children of the disco#info <query/>
}

// capsIdentity is the identity every profile has (category, type,
// name; no xml:lang).
var capsIdentity = [3]string{"client", "pc", "parley-bench"}

// newCapsProfile returns the profile of a client with features (in any
// order; duplicates are removed).
func newCapsProfile(features []string) *capsProfile {
	fs := slices.Clone(features)
	slices.Sort(fs)
	fs = slices.Compact(fs)
	ver := capsVer(capsIdentity, fs)
	var q strings.Builder
	q.WriteString("<identity category='" + escape(capsIdentity[0]) + "' type='" + escape(capsIdentity[1]) +
		"' name='" + escape(capsIdentity[2]) + "'/>")
	for _, f := range fs {
		q.WriteString("<feature var='" + escape(f) + "'/>")
	}
	return &capsProfile{
		ver:      ver,
		presence: "<presence><c xmlns='" + nsCaps + "' hash='sha-1' node='" + capsNode + "' ver='" + escape(ver) + "'/></presence>",
		query:    q.String(),
	}
}

// capsVer computes the verification string of XEP-0115 §5.1 for one
// identity without a language and sorted features, with SHA-1: the
// identity as category/type/lang/name, each feature, each followed by
// "<", hashed and base64-encoded.
func capsVer(id [3]string, sortedFeatures []string) string {
	var s strings.Builder
	s.WriteString(id[0] + "/" + id[1] + "//" + id[2] + "<")
	for _, f := range sortedFeatures {
		s.WriteString(f + "<")
	}
	sum := sha1.Sum([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// discoInfoReply answers a disco#info request (raw, an iq get whose
// payload starts at payload) with the profile, echoing the node the
// request names (XEP-0115 §6.2: NODE#VER), or returns "" when raw is no
// disco#info request.
func (c *capsProfile) discoInfoReply(raw, payload []byte, id, to string) string {
	i := bytes.Index(payload, []byte("<query"))
	if i < 0 || !bytes.Contains(payload, []byte(nsDiscoInfo)) {
		return ""
	}
	if t, _ := attr(raw, "type"); string(t) != "get" {
		return ""
	}
	node := ""
	if n := attrString(payload[i:], "node"); n != "" {
		node = " node='" + escape(n) + "'"
	}
	return "<iq type='result' id='" + escape(id) + "'" + to + "><query xmlns='" + nsDiscoInfo + "'" + node + ">" +
		c.query + "</query></iq>"
}
