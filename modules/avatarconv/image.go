package avatarconv

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"image"
	_ "image/jpeg" // dimensions of JPEG avatars
	_ "image/png"  // dimensions of PNG avatars
	"net/http"
	"strconv"
	"strings"

	"parley/stanza"
)

// Namespaces and nodes.
const (
	// NSData and NSMetadata are XEP-0084's, each also the name of its
	// node.
	NSData     = "urn:xmpp:avatar:data"
	NSMetadata = "urn:xmpp:avatar:metadata"
	// NSVCard is vcard-temp (XEP-0054).
	NSVCard = "vcard-temp"
	// NSUpdate is the XEP-0153 presence extension.
	NSUpdate = "vcard-temp:x:update"
	// Feature is the XEP-0398 feature of accounts.
	Feature = "urn:xmpp:pep-vcard-conversion:0"
)

// avatar is an avatar image.
type avatar struct {
	data []byte
	typ  string // MIME type
}

// hash returns the SHA-1 of the image in hex, its ID in XEP-0084 and its
// hash in XEP-0153.
func (a avatar) hash() string {
	sum := sha1.Sum(a.data)
	return hex.EncodeToString(sum[:])
}

// fromVCard returns the photo of a vCard, ok false if it has no
// embedded one (none, only an external URL, or not valid base64).
func fromVCard(card *stanza.Element) (a avatar, ok bool) {
	if card == nil {
		return avatar{}, false
	}
	photo := card.Child(NSVCard, "PHOTO")
	if photo == nil {
		return avatar{}, false
	}
	data, ok := decodeBase64(photo.ChildText(NSVCard, "BINVAL"))
	if !ok || len(data) == 0 {
		return avatar{}, false
	}
	typ := strings.TrimSpace(photo.ChildText(NSVCard, "TYPE"))
	if typ == "" {
		typ = http.DetectContentType(data)
	}
	return avatar{data: data, typ: typ}, true
}

// withPhoto returns a copy of card (a new vCard when nil) whose PHOTO is
// a, or that has none when a has no data.
func withPhoto(card *stanza.Element, a avatar) *stanza.Element {
	if card == nil {
		card = stanza.New(NSVCard, "vCard")
	} else {
		card = card.Copy()
	}
	card.RemoveChildren(NSVCard, "PHOTO")
	if len(a.data) > 0 {
		card.Append(stanza.New(NSVCard, "PHOTO").Append(
			stanza.New(NSVCard, "TYPE").AppendText(a.typ),
			stanza.New(NSVCard, "BINVAL").AppendText(base64.StdEncoding.EncodeToString(a.data)),
		))
	}
	return card
}

// dataPayload is the payload of a's item in the data node.
func (a avatar) dataPayload() *stanza.Element {
	return stanza.New(NSData, "data").AppendText(base64.StdEncoding.EncodeToString(a.data))
}

// metadataPayload is the payload of a's item in the metadata node: one
// info, with the dimensions when the image's header tells them.
func (a avatar) metadataPayload() *stanza.Element {
	info := stanza.New(NSMetadata, "info", "bytes", strconv.Itoa(len(a.data)), "id", a.hash(), "type", a.typ)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(a.data)); err == nil && cfg.Width > 0 && cfg.Height > 0 {
		info.SetAttr("width", strconv.Itoa(cfg.Width))
		info.SetAttr("height", strconv.Itoa(cfg.Height))
	}
	return stanza.New(NSMetadata, "metadata").Append(info)
}

// embeddedInfo returns the first <info/> of a metadata payload that does
// not point to an external URL (XEP-0398 §3.1), or nil.
func embeddedInfo(md *stanza.Element) *stanza.Element {
	if md == nil || md.Space != NSMetadata || md.Local != "metadata" {
		return nil
	}
	for _, info := range md.ChildrenNamed(NSMetadata, "info") {
		if info.Attr("url") == "" && info.Attr("id") != "" {
			return info
		}
	}
	return nil
}

// decodeBase64 decodes base64 text, ignoring white space (vCards wrap
// BINVAL in lines), padded or not.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}
