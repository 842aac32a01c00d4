// Package vcard implements vcard-temp (XEP-0054): each account stores one
// vCard, which any entity may read and only the account may replace.
package vcard

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

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
// refused with policy-violation. It returns the Store, for modules that
// build on vCards.
func Register(r *router.Router, docs storage.Documents) *Store {
	h := &Store{docs: docs}
	r.HandleIQ(router.TargetAccount, NS, h.handle)
	r.AddFeature(router.TargetServer, NS)
	return h
}

// Observer is told of the vCard an account stored through a client's set
// (an empty <vCard/> when it deleted it), on the goroutine of the
// request, before the client is answered.
type Observer func(ctx context.Context, user jid.JID, card *stanza.Element)

// Store holds the vCards of every local account.
type Store struct {
	docs      storage.Documents
	observers []Observer
}

// Observe registers f to be called after every vCard a client stores.
// Observers are registered while the server is set up. Writes through
// Put are not observed.
func (h *Store) Observe(f Observer) { h.observers = append(h.observers, f) }

// Get returns user's vCard, or nil when none is stored.
func (h *Store) Get(ctx context.Context, user jid.JID) (*stanza.Element, error) {
	data, err := h.docs.Document(ctx, user.Bare().String(), kind, "")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vCard of %s: %w", user.Bare(), err)
	}
	card, err := stanza.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("stored vCard of %s: %w", user.Bare(), err)
	}
	return card, nil
}

// Put replaces user's vCard (an empty one deletes it) as the server
// does on the account's behalf: observers are not told, and MaxSize,
// which bounds what clients store, does not apply.
func (h *Store) Put(ctx context.Context, user jid.JID, card *stanza.Element) error {
	bare := user.Bare().String()
	var err error
	if len(card.Elements()) == 0 {
		err = h.docs.DeleteDocument(ctx, bare, kind, "")
		if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
	} else {
		err = h.docs.PutDocument(ctx, bare, kind, "", card.Bytes())
	}
	if err != nil {
		return fmt.Errorf("store vCard of %s: %w", bare, err)
	}
	return nil
}

func (h *Store) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Payload.Local != "vCard" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, NS))
	}
	user := iq.To.String()
	if iq.Set() {
		if !iq.Own() {
			return nil, stanza.ErrText("forbidden", "only the account itself may change its vCard")
		}
		if err := h.put(ctx, user, iq.Payload); err != nil {
			return nil, err
		}
		for _, f := range h.observers {
			f(ctx, iq.To, iq.Payload)
		}
		return nil, nil
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

func (h *Store) put(ctx context.Context, user string, card *stanza.Element) error {
	if len(card.Elements()) == 0 {
		return h.docs.DeleteDocument(ctx, user, kind, "")
	}
	data := card.Bytes()
	if len(data) > MaxSize {
		return stanza.ErrText("policy-violation", fmt.Sprintf("a vCard may not exceed %d KiB", MaxSize>>10))
	}
	return h.docs.PutDocument(ctx, user, kind, "", data)
}

// Name is the module's name, under which module.Host.Instance finds its
// *Store.
const Name = "vcard"

// Spec declares vcard-temp (XEP-0054) as a server module; its instance
// is the *Store.
func Spec() module.Spec {
	return module.Spec{Name: Name, Setup: func(h *module.Host) (any, error) {
		return Register(h.Router, h.Store), nil
	}}
}
