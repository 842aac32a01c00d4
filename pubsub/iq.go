package pubsub

import (
	"context"
	"fmt"
	"strconv"

	"parley/dataform"
	"parley/router"
	"parley/stanza"
)

// handle answers requests in the pubsub namespace to an account.
func (s *Service) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Payload.Local != "pubsub" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, NS))
	}
	verbs := iq.Payload.Elements()
	if len(verbs) == 0 {
		return nil, stanza.ErrText("bad-request", "the pubsub element is empty")
	}
	verb := verbs[0]
	if verb.Space != NS {
		return nil, stanza.ErrText("bad-request", "unknown pubsub request")
	}
	switch {
	case iq.Set() && verb.Local == "publish":
		return s.handlePublish(ctx, iq, verb, iq.Payload.Child(NS, "publish-options"))
	case iq.Set() && verb.Local == "retract":
		return s.handleRetract(ctx, iq, verb)
	case iq.Set() && verb.Local == "create":
		return s.handleCreate(ctx, iq, verb, iq.Payload.Child(NS, "configure"))
	case !iq.Set() && verb.Local == "items":
		return s.handleItems(ctx, iq, verb)
	case !iq.Set() && (verb.Local == "subscriptions" || verb.Local == "affiliations"):
		// PEP subscriptions are implicit (presence and capabilities), so
		// there are no explicit ones to list.
		return stanza.New(NS, "pubsub").Append(stanza.New(NS, verb.Local)), nil
	}
	return nil, unsupported(verb.Local)
}

// unsupported is the XEP-0060 error for a pubsub feature parley lacks.
func unsupported(feature string) error {
	e := stanza.ErrText("feature-not-implemented", fmt.Sprintf("%q is not supported by personal eventing here", feature))
	e.Extra = stanza.New(NSErrors, "unsupported", "feature", feature)
	return e
}

// owned checks that the request comes from the account owning the
// service.
func owned(iq *router.IQ, what string) error {
	if !iq.Own() {
		return stanza.ErrText("forbidden", "only the account itself may "+what)
	}
	return nil
}

func (s *Service) handlePublish(ctx context.Context, iq *router.IQ, pub, opts *stanza.Element) (*stanza.Element, error) {
	if err := owned(iq, "publish to its nodes"); err != nil {
		return nil, err
	}
	name := pub.Attr("node")
	items := pub.ChildrenNamed(NS, "item")
	if len(items) != 1 {
		return nil, errPubSub("bad-request", "publish exactly one item", "invalid-payload")
	}
	payloads := items[0].Elements()
	if len(payloads) != 1 {
		return nil, errPubSub("bad-request", "an item carries exactly one payload element", "invalid-payload")
	}
	var form *stanza.Element
	if opts != nil {
		form = opts.Child(dataform.NS, "x")
		if form == nil {
			return nil, stanza.ErrText("bad-request", "publish-options without a data form")
		}
	}
	id, err := s.publish(ctx, iq.To, iq.From, name, items[0].Attr("id"), payloads[0], form)
	if err != nil {
		return nil, err
	}
	return stanza.New(NS, "pubsub").Append(
		stanza.New(NS, "publish", "node", name).Append(stanza.New(NS, "item", "id", id))), nil
}

func (s *Service) handleRetract(ctx context.Context, iq *router.IQ, retract *stanza.Element) (*stanza.Element, error) {
	if err := owned(iq, "retract items"); err != nil {
		return nil, err
	}
	items := retract.ChildrenNamed(NS, "item")
	if len(items) != 1 || items[0].Attr("id") == "" {
		return nil, errPubSub("bad-request", "retract exactly one item, by id", "item-required")
	}
	n, err := s.loadNode(ctx, iq.To, retract.Attr("node"))
	if err != nil {
		return nil, err
	}
	notify := n.cfg.NotifyRetract
	if retract.HasAttr("notify") {
		b, ok := dataform.ParseBoolean(retract.Attr("notify"))
		if !ok {
			return nil, stanza.ErrText("bad-request", "notify must be a boolean")
		}
		notify = b
	}
	return nil, s.retract(ctx, iq.To, n, items[0].Attr("id"), notify)
}

func (s *Service) handleCreate(ctx context.Context, iq *router.IQ, create, configure *stanza.Element) (*stanza.Element, error) {
	if err := owned(iq, "create nodes"); err != nil {
		return nil, err
	}
	name := create.Attr("node")
	if name == "" {
		return nil, errPubSub("not-acceptable", "PEP nodes need a name", "nodeid-required")
	}
	cfg := DefaultConfig()
	if configure != nil {
		if x := configure.Child(dataform.NS, "x"); x != nil {
			if err := cfg.applyForm(x, FormNodeConfig); err != nil {
				return nil, err
			}
		}
	}
	unlock := s.lock(iq.To.String())
	defer unlock()
	return nil, s.createLocked(ctx, iq.To, name, cfg)
}

func (s *Service) handleItems(ctx context.Context, iq *router.IQ, req *stanza.Element) (*stanza.Element, error) {
	name := req.Attr("node")
	n, err := s.loadNode(ctx, iq.To, name)
	if err != nil {
		return nil, err
	}
	if err := s.mayRetrieve(ctx, iq.To, n.cfg, iq.From); err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range req.ChildrenNamed(NS, "item") {
		if id := it.Attr("id"); id != "" {
			ids = append(ids, id)
		}
	}
	last := 0
	if v := req.Attr("max_items"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 {
			return nil, stanza.ErrText("bad-request", "max_items must be a positive number")
		}
		last = m
	}
	items, err := s.items(ctx, iq.To, name, ids, last)
	if err != nil {
		return nil, err
	}
	out := stanza.New(NS, "items", "node", name)
	for _, it := range items {
		el := stanza.New(NS, "item", "id", it.ID)
		if it.Payload != nil {
			el.Append(it.Payload)
		}
		out.Append(el)
	}
	return stanza.New(NS, "pubsub").Append(out), nil
}

// handleOwner answers requests in the pubsub#owner namespace.
func (s *Service) handleOwner(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Payload.Local != "pubsub" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, NSOwner))
	}
	verb := iq.Payload.FirstElement()
	if verb == nil || verb.Space != NSOwner {
		return nil, stanza.ErrText("bad-request", "unknown pubsub#owner request")
	}
	if err := owned(iq, "manage its nodes"); err != nil {
		return nil, err
	}
	if verb.Local == "default" && !iq.Set() {
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "default").Append(DefaultConfig().Form(s.limits.MaxItems))), nil
	}
	switch verb.Local {
	case "configure", "delete", "purge":
	default:
		return nil, unsupported(verb.Local)
	}
	n, err := s.loadNode(ctx, iq.To, verb.Attr("node"))
	if err != nil {
		return nil, err
	}
	switch {
	case verb.Local == "configure" && !iq.Set():
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "configure", "node", n.name).Append(n.cfg.Form(s.limits.MaxItems))), nil
	case verb.Local == "configure":
		x := verb.Child(dataform.NS, "x")
		if x != nil && x.Attr("type") == "cancel" {
			return nil, nil
		}
		cfg := n.cfg
		if err := cfg.applyForm(x, FormNodeConfig); err != nil {
			return nil, err
		}
		return nil, s.configure(ctx, iq.To, n, cfg)
	case verb.Local == "delete" && iq.Set():
		return nil, s.DeleteNode(ctx, iq.To, n.name)
	case verb.Local == "purge" && iq.Set():
		return nil, s.purge(ctx, iq.To, n)
	}
	return nil, stanza.ErrText("bad-request", verb.Local+" must be an iq set")
}
