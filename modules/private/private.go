// Package private implements Private XML Storage (XEP-0049): an account
// stores arbitrary XML fragments on the server, one document per
// namespace, readable and writable only by the account itself.
package private

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
// the feature on the server.
//
// A get names one namespace by an element in it and returns what is stored
// there, or that element empty when nothing is. A set stores its children
// grouped by namespace, each group replacing what the namespace held. The
// namespaces XEP-0049 reserves (jabber:*, http://jabber.org/*, vcard-temp,
// and the stream content namespace) are refused with not-acceptable, as is
// a set without a child; a get without one is bad-request. Requests for
// another account's data are forbidden.
func Register(r *router.Router, docs storage.Documents) {
	h := handler{docs: docs}
	r.HandleIQ(router.TargetAccount, NS, h.handle)
	r.AddFeature(router.TargetServer, NS)
}

type handler struct {
	docs storage.Documents
}

func (h handler) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
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
		return nil, h.put(ctx, user, children)
	}
	if len(children) != 1 {
		return nil, stanza.ErrText("bad-request", "a get names exactly one namespace")
	}
	return h.get(ctx, user, children[0])
}

// get returns the query holding what is stored for want's namespace.
func (h handler) get(ctx context.Context, user string, want *stanza.Element) (*stanza.Element, error) {
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
// holding that namespace's fragments in order.
func (h handler) put(ctx context.Context, user string, children []*stanza.Element) error {
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

// Spec declares Private XML Storage (XEP-0049) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "private", Setup: func(h *module.Host) (any, error) {
		Register(h.Router, h.Store)
		return nil, nil
	}}
}
