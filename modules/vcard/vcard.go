// Package vcard implements vcard-temp (XEP-0054): each account stores one
// vCard, which any entity may read and only the account may replace.
package vcard

import (
	"context"
	"errors"
	"fmt"

	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// NS is the XEP-0054 namespace.
const NS = "vcard-temp"

// MaxSize bounds a stored vCard, serialized.
const MaxSize = 64 << 10

// kind is the storage.Documents kind vCards are stored under.
const kind = "vcard"

// Register handles vcard-temp iqs to local accounts and advertises the
// feature on the server (XEP-0054 §4).
//
// A get returns the stored vCard. With none stored, the account itself
// gets an empty <vCard/> and anyone else item-not-found (XEP-0054 §3.1,
// §3.3). A set replaces the vCard (an empty one deletes it), only from the
// account itself (forbidden otherwise); a vCard larger than MaxSize is
// refused with policy-violation.
func Register(r *router.Router, docs storage.Documents) {
	h := handler{docs: docs}
	r.HandleIQ(router.TargetAccount, NS, h.handle)
	r.AddFeature(router.TargetServer, NS)
}

type handler struct {
	docs storage.Documents
}

func (h handler) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Payload.Local != "vCard" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, NS))
	}
	user := iq.To.String()
	if iq.Set() {
		if !iq.Own() {
			return nil, stanza.ErrText("forbidden", "only the account itself may change its vCard")
		}
		return nil, h.put(ctx, user, iq.Payload)
	}
	data, err := h.docs.Document(ctx, user, kind, "")
	if errors.Is(err, storage.ErrNotFound) {
		if iq.Own() {
			return stanza.New(NS, "vCard"), nil
		}
		return nil, stanza.ErrText("item-not-found", "no vCard")
	}
	if err != nil {
		return nil, err
	}
	card, err := stanza.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("stored vCard of %s: %w", user, err)
	}
	return card, nil
}

func (h handler) put(ctx context.Context, user string, card *stanza.Element) error {
	if len(card.Elements()) == 0 {
		return h.docs.DeleteDocument(ctx, user, kind, "")
	}
	data := card.Bytes()
	if len(data) > MaxSize {
		return stanza.ErrText("policy-violation", fmt.Sprintf("a vCard may not exceed %d KiB", MaxSize>>10))
	}
	return h.docs.PutDocument(ctx, user, kind, "", data)
}

// Spec declares vcard-temp (XEP-0054) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "vcard", Setup: func(h *module.Host) (any, error) {
		Register(h.Router, h.Store)
		return nil, nil
	}}
}
