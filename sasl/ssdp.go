package sasl

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"slices"
	"strings"
)

// DowngradeProtection adds the SASL SCRAM Downgrade Protection attribute
// (XEP-0474) to SCRAM's server-first-message: "h=", the base64 hash, with
// the mechanism's hash function, of the mechanisms the stream offered
// and, when it advertised them (XEP-0440), its channel-binding types.
// The client compares it with what it saw; the SCRAM proof then covers
// the attribute, so that an attacker who removed mechanisms or
// channel-binding types from the offer is found out. cbTypes is nil when
// the stream advertised no channel-binding types.
func DowngradeProtection(mechs, cbTypes []string) Option {
	return func(o *options) {
		o.ssdpMechs = slices.Clone(mechs)
		o.ssdpCB = slices.Clone(cbTypes)
		o.ssdp = true
	}
}

// DowngradeHash returns the XEP-0474 value for mechanism mech (which
// picks the hash: SHA-1 for SCRAM-SHA-1 and its -PLUS variant, SHA-256
// otherwise): the mechanisms sorted and joined by U+001E, then, if the
// stream advertised channel-binding types, U+001F and the types sorted
// and joined by U+001E, hashed and encoded in base64.
func DowngradeHash(mech string, mechs, cbTypes []string) string {
	h := sha256.New
	if strings.HasPrefix(mech, mechSHA1) {
		h = sha1.New
	}
	return downgradeHash(h, mechs, cbTypes)
}

func downgradeHash(h func() hash.Hash, mechs, cbTypes []string) string {
	m := slices.Clone(mechs)
	slices.Sort(m) // byte order: the "i;octet" collation
	s := strings.Join(m, "\x1e")
	if cbTypes != nil {
		t := slices.Clone(cbTypes)
		slices.Sort(t)
		s += "\x1f" + strings.Join(t, "\x1e")
	}
	d := h()
	d.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(d.Sum(nil))
}

// ChannelBindingTypes lists the channel-binding types of cb that a stream
// advertises (XEP-0440), in a fixed order; nil when there are none.
func ChannelBindingTypes(cb map[string][]byte) []string {
	var types []string
	for _, t := range []string{cbTLSExporter, cbTLSServerEndPoint} {
		if len(cb[t]) > 0 {
			types = append(types, t)
		}
	}
	return types
}
