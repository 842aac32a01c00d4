// Package private implements Private XML Storage (XEP-0049): an account
// stores arbitrary XML fragments on the server, one document per
// namespace, readable and writable only by the account itself.
package private

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// NS is the XEP-0049 namespace.
const NS = "jabber:iq:private"

// kind is the storage.Documents kind; the key is the fragment's namespace.
const kind = "private"

// Register handles jabber:iq:private iqs to local accounts and advertises
// the feature on the server. It returns the Storage, for modules that
// build on private storage.
//
// A get names one namespace by an element in it and returns what is stored
// there, or that element empty when nothing is. A set stores its children
// grouped by namespace, each group replacing what the namespace held. The
// namespaces XEP-0049 reserves (jabber:*, http://jabber.org/*, vcard-temp,
// and the stream content namespace) are refused with not-acceptable, as is
// a set without a child; a get without one is bad-request. Requests for
// another account's data are forbidden.
func Register(r *router.Router, docs storage.Documents) *Storage {
	h := &Storage{docs: docs, observers: make(map[string][]Observer)}
	r.HandleIQ(router.TargetAccount, NS, h.handle)
	r.AddFeature(router.TargetServer, NS)
	return h
}

// Observer is told what an account stored in one namespace through a
// client's set: the <query/> holding that namespace's fragments, on the
// goroutine of the request, before the client is answered.
type Observer func(ctx context.Context, user jid.JID, stored *stanza.Element)

// Storage is the private storage of every local account.
type Storage struct {
	docs      storage.Documents
	observers map[string][]Observer // by namespace
}

// Observe registers f to be called after every client set that stores
// fragments of namespace ns. Observers are registered while the server
// is set up. Writes through Put are not observed.
func (h *Storage) Observe(ns string, f Observer) {
	h.observers[ns] = append(h.observers[ns], f)
}

// Get returns the <query/> holding what user stored in namespace ns; it
// holds an empty element local in ns when nothing is stored.
func (h *Storage) Get(ctx context.Context, user jid.JID, ns, local string) (*stanza.Element, error) {
	return h.get(ctx, user.Bare().String(), stanza.New(ns, local))
}

// Put replaces what user stores in namespace ns with the fragments,
// which must all be in ns. Observers are not told.
func (h *Storage) Put(ctx context.Context, user jid.JID, ns string, fragments ...*stanza.Element) error {
	q := stanza.New(NS, "query")
	for _, f := range fragments {
		if f.Space != ns {
			return fmt.Errorf("private storage of %s: <%s/> is not in %s", user.Bare(), f.Local, ns)
		}
		q.Append(f)
	}
	if err := h.docs.PutDocument(ctx, user.Bare().String(), kind, ns, q.Bytes()); err != nil {
		return fmt.Errorf("private storage of %s: %w", user.Bare(), err)
	}
	return nil
}

func (h *Storage) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Payload.Local != "query" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, NS))
	}
	if !iq.Own() {
		return nil, stanza.ErrText("forbidden", "private data belongs to the account itself")
	}
	children := iq.Payload.Elements()
	for _, c := range children {
		if reserved(c.Space) {
			return nil, stanza.ErrText("not-acceptable", fmt.Sprintf("namespace %q is reserved", nsName(c.Space)))
		}
	}
	user := iq.To.String()
	if iq.Set() {
		if len(children) == 0 {
			return nil, stanza.ErrText("not-acceptable", "nothing to store")
		}
		return nil, h.put(ctx, iq.To, children)
	}
	if len(children) != 1 {
		return nil, stanza.ErrText("bad-request", "a get names exactly one namespace")
	}
	return h.get(ctx, user, children[0])
}

// get returns the query holding what is stored for want's namespace.
func (h *Storage) get(ctx context.Context, user string, want *stanza.Element) (*stanza.Element, error) {
	data, err := h.docs.Document(ctx, user, kind, want.Space)
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.New(NS, "query").Append(stanza.New(want.Space, want.Local)), nil
	}
	if err != nil {
		return nil, err
	}
	q, err := stanza.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("stored private data %q of %s: %w", want.Space, user, err)
	}
	return q, nil
}

// put stores children, one document per namespace: a query element
// holding that namespace's fragments in order, and tells the observers.
func (h *Storage) put(ctx context.Context, owner jid.JID, children []*stanza.Element) error {
	user := owner.String()
	var order []string
	groups := make(map[string]*stanza.Element)
	for _, c := range children {
		q, ok := groups[c.Space]
		if !ok {
			q = stanza.New(NS, "query")
			groups[c.Space] = q
			order = append(order, c.Space)
		}
		q.Append(c)
	}
	for _, ns := range order {
		if err := h.docs.PutDocument(ctx, user, kind, ns, groups[ns].Bytes()); err != nil {
			return err
		}
	}
	for _, ns := range order {
		for _, f := range h.observers[ns] {
			f(ctx, owner, groups[ns])
		}
	}
	return nil
}

// reserved reports whether XEP-0049 §2.3 reserves ns.
func reserved(ns string) bool {
	return ns == "" || ns == "vcard-temp" ||
		strings.HasPrefix(ns, "jabber:") || strings.HasPrefix(ns, "http://jabber.org/")
}

func nsName(ns string) string {
	if ns == "" {
		return stanza.NSClient
	}
	return ns
}

// Name is the module's name, under which module.Host.Instance finds its
// *Storage.
const Name = "private"

// Spec declares Private XML Storage (XEP-0049) as a server module; its
// instance is the *Storage.
func Spec() module.Spec {
	return module.Spec{Name: Name, Setup: func(h *module.Host) (any, error) {
		return Register(h.Router, h.Store), nil
	}}
}
