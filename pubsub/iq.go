package pubsub

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"mellium.im/xmpp/jid"

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
	case !iq.Set() && verb.Local == "subscriptions":
		// PEP subscriptions are implicit (presence and capabilities), so
		// there are no explicit ones to list.
		return stanza.New(NS, "pubsub").Append(stanza.New(NS, verb.Local)), nil
	case !iq.Set() && verb.Local == "affiliations":
		return s.handleOwnAffiliations(ctx, iq, verb.Attr("node"))
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
			stanza.New(NSOwner, "default").Append(DefaultConfig().Form(s.limits.MaxItems, nil))), nil
	}
	switch verb.Local {
	case "configure", "delete", "purge", "affiliations":
	default:
		return nil, unsupported(verb.Local)
	}
	if iq.Set() && (verb.Local == "configure" || verb.Local == "affiliations") {
		// Read, change and write the configuration as one.
		unlock := s.lock(iq.To.String())
		defer unlock()
	}
	n, err := s.loadNode(ctx, iq.To, verb.Attr("node"))
	if err != nil {
		return nil, err
	}
	switch {
	case verb.Local == "configure" && !iq.Set():
		groups, err := s.rosterGroups(ctx, iq.To)
		if err != nil {
			return nil, err
		}
		return stanza.New(NSOwner, "pubsub").Append(
			stanza.New(NSOwner, "configure", "node", n.name).Append(n.cfg.Form(s.limits.MaxItems, groups))), nil
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
	case verb.Local == "affiliations" && !iq.Set():
		list := stanza.New(NSOwner, "affiliations", "node", n.name)
		list.Append(stanza.New(NSOwner, "affiliation", "jid", iq.To.String(), "affiliation", "owner"))
		for _, m := range n.cfg.Members {
			list.Append(stanza.New(NSOwner, "affiliation", "jid", m, "affiliation", "member"))
		}
		return stanza.New(NSOwner, "pubsub").Append(list), nil
	case verb.Local == "affiliations":
		cfg := n.cfg
		if err := s.applyAffiliations(iq, &cfg, verb); err != nil {
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

// applyAffiliations applies the affiliation changes of an owner's
// request to cfg: member, or none to remove one (XEP-0060 §8.9.2). The
// owner's own affiliation cannot change, and other affiliations are not
// supported; either refuses the whole request.
func (s *Service) applyAffiliations(iq *router.IQ, cfg *Config, req *stanza.Element) error {
	members := slices.Clone(cfg.Members)
	for _, a := range req.ChildrenNamed(NSOwner, "affiliation") {
		j, err := s.r.ParseJID(a.Attr("jid"))
		if err != nil || a.Attr("jid") == "" {
			return stanza.ErrText("jid-malformed", fmt.Sprintf("bad affiliation jid %q", a.Attr("jid")))
		}
		bare := j.Bare().String()
		if j.Bare().Equal(iq.To) {
			return stanza.ErrText("not-acceptable", "the owner's affiliation cannot change")
		}
		switch a.Attr("affiliation") {
		case "member":
			if !slices.Contains(members, bare) {
				members = append(members, bare)
			}
		case "none":
			members = slices.DeleteFunc(members, func(m string) bool { return m == bare })
		default:
			return stanza.ErrText("not-acceptable", fmt.Sprintf("affiliation %q is not supported; member and none are", a.Attr("affiliation")))
		}
	}
	if len(members) > maxMembers {
		return stanza.ErrText("policy-violation", fmt.Sprintf("a node may have at most %d members", maxMembers))
	}
	slices.Sort(members)
	cfg.Members = members
	return nil
}

// maxMembers bounds the member list of a node.
const maxMembers = 1000

// handleOwnAffiliations lists the requester's affiliations with the
// account's nodes (XEP-0060 §5.7): owner of every node for the account
// itself, member of those that list it for others.
func (s *Service) handleOwnAffiliations(ctx context.Context, iq *router.IQ, only string) (*stanza.Element, error) {
	nodes, err := s.store.PubSubNodes(ctx, iq.To.String())
	if err != nil {
		return nil, err
	}
	list := stanza.New(NS, "affiliations")
	if only != "" {
		list.SetAttr("node", only)
	}
	for _, sn := range nodes {
		if only != "" && sn.Node != only {
			continue
		}
		if iq.Own() {
			list.Append(stanza.New(NS, "affiliation", "node", sn.Node, "affiliation", "owner"))
			continue
		}
		cfg, err := decodeConfig(sn.Config)
		if err == nil && slices.Contains(cfg.Members, iq.From.Bare().String()) {
			list.Append(stanza.New(NS, "affiliation", "node", sn.Node, "affiliation", "member"))
		}
	}
	return stanza.New(NS, "pubsub").Append(list), nil
}

// rosterGroups returns the groups of owner's roster, sorted.
func (s *Service) rosterGroups(ctx context.Context, owner jid.JID) ([]string, error) {
	items, _, err := s.store.Roster(ctx, owner.String())
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, it := range items {
		for _, g := range it.Groups {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	slices.Sort(groups)
	return groups, nil
}
