package s2s

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Namespaces of server dialback (XEP-0220).
const (
	nsDialback        = "jabber:server:dialback"
	nsDialbackFeature = "urn:xmpp:features:dialback"
)

// dialbackKey computes a dialback key as XEP-0185 recommends:
// HEX(HMAC-SHA256(HEX(SHA256(secret)), receiving + ' ' + originating + ' ' + streamID)).
// Only the server holding secret can compute it, so it can later confirm
// (as the authoritative server) that it really sent the key.
func dialbackKey(secret []byte, receiving, originating, streamID string) string {
	sum := sha256.Sum256(secret)
	mac := hmac.New(sha256.New, []byte(hex.EncodeToString(sum[:])))
	mac.Write([]byte(receiving + " " + originating + " " + streamID))
	return hex.EncodeToString(mac.Sum(nil))
}

// validDialbackKey reports in constant time whether key is the one this
// server generated for the three values.
func validDialbackKey(secret []byte, receiving, originating, streamID, key string) bool {
	want := dialbackKey(secret, receiving, originating, streamID)
	return subtle.ConstantTimeCompare([]byte(want), []byte(key)) == 1
}
