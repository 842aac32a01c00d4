package muc

import (
	"slices"

	"parley/stanza"
)

// adminIQ answers the muc#admin namespace (XEP-0045 §8-10): a get lists
// the users of one affiliation or the occupants of one role; a set
// changes roles and affiliations, all of the items or none.
func (r *room) adminIQ(t task, q *stanza.Element) (*stanza.Element, error) {
	o := r.byJID[t.from.String()]
	a := actor{aff: r.affiliation(t.from.Bare().String())}
	if o != nil {
		a.role = o.role
	}
	items := q.ChildrenNamed(NSAdmin, "item")
	if len(items) == 0 {
		return nil, stanza.ErrText("bad-request", "a muc#admin query needs at least one item")
	}
	if t.el.Type() == "get" {
		if len(items) != 1 {
			return nil, stanza.ErrText("bad-request", "a muc#admin get names one affiliation or role")
		}
		return r.adminList(a, items[0])
	}
	return nil, r.adminSet(t, o, a, items)
}

// adminList lists the users with one affiliation (for admins and owners)
// or the occupants with one role (for moderators).
func (r *room) adminList(a actor, item *stanza.Element) (*stanza.Element, error) {
	out := stanza.New(NSAdmin, "query")
	switch {
	case item.HasAttr("affiliation"):
		aff, ok := ParseAffiliation(item.Attr("affiliation"))
		if !ok || aff == NoAffiliation {
			return nil, stanza.ErrText("bad-request", "unknown affiliation "+item.Attr("affiliation"))
		}
		if a.aff < Admin {
			return nil, stanza.ErrText("forbidden", "only admins and owners may see affiliation lists")
		}
		var bares []string
		for bare, e := range r.affs {
			if e.aff == aff {
				bares = append(bares, bare)
			}
		}
		slices.Sort(bares)
		for _, bare := range bares {
			it := stanza.New(NSAdmin, "item", "affiliation", aff.String(), "jid", bare)
			if reason := r.affs[bare].reason; reason != "" {
				it.Append(stanza.New(NSAdmin, "reason").AppendText(reason))
			}
			out.Append(it)
		}
	case item.HasAttr("role"):
		role, ok := ParseRole(item.Attr("role"))
		if !ok || role == NoRole {
			return nil, stanza.ErrText("bad-request", "unknown role "+item.Attr("role"))
		}
		if a.role != Moderator {
			return nil, stanza.ErrText("forbidden", "only moderators may see role lists")
		}
		for _, v := range r.occupants {
			if v.role == role {
				out.Append(stanza.New(NSAdmin, "item", "role", role.String(), "nick", v.nick,
					"affiliation", r.affiliation(v.bare).String(), "jid", v.real))
			}
		}
	default:
		return nil, stanza.ErrText("bad-request", "the item names neither an affiliation nor a role")
	}
	return out, nil
}

// change is one checked item of a muc#admin set.
type change struct {
	o      *occupant // role change: the occupant
	role   Role
	bare   string // affiliation change: the user
	aff    Affiliation
	reason string
}

// adminSet checks every item, then applies them in order.
func (r *room) adminSet(t task, o *occupant, a actor, items []*stanza.Element) error {
	var plan []change
	for _, it := range items {
		c, err := r.planItem(a, it)
		if err != nil {
			return err
		}
		plan = append(plan, c)
	}
	if err := r.keepsAnOwner(plan); err != nil {
		return err
	}
	actorNick := ""
	if o != nil {
		actorNick = o.nick
	}
	for _, c := range plan {
		if c.o != nil {
			if r.byJID[c.o.real] == c.o { // not removed by an earlier item
				r.setRole(t.ctx, c.o, c.role, actorNick, c.reason)
			}
			continue
		}
		r.applyAffiliation(t.ctx, c.bare, c.aff, actorNick, c.reason)
	}
	return nil
}

// planItem checks one item of a muc#admin set against the privilege
// rules.
func (r *room) planItem(a actor, it *stanza.Element) (change, error) {
	reason := it.ChildText(NSAdmin, "reason")
	hasRole, hasAff := it.HasAttr("role"), it.HasAttr("affiliation")
	switch {
	case hasRole && hasAff:
		return change{}, stanza.ErrText("bad-request", "an item changes either a role or an affiliation")
	case hasRole:
		role, ok := ParseRole(it.Attr("role"))
		if !ok {
			return change{}, stanza.ErrText("bad-request", "unknown role "+it.Attr("role"))
		}
		nick := it.Attr("nick")
		if nick == "" {
			return change{}, stanza.ErrText("bad-request", "a role change names the occupant by nick")
		}
		v := r.byNick[nick]
		if v == nil {
			return change{}, stanza.ErrText("item-not-found", "no occupant has the nickname "+nick)
		}
		if err := checkRole(a, target{aff: r.affiliation(v.bare), role: v.role}, role); err != nil {
			return change{}, err
		}
		return change{o: v, role: role, reason: reason}, nil
	case hasAff:
		aff, ok := ParseAffiliation(it.Attr("affiliation"))
		if !ok {
			return change{}, stanza.ErrText("bad-request", "unknown affiliation "+it.Attr("affiliation"))
		}
		var bare string
		switch {
		case it.Attr("jid") != "":
			j, err := r.svc.r.ParseJID(it.Attr("jid"))
			if err != nil {
				return change{}, stanza.ErrText("jid-malformed", "invalid jid "+it.Attr("jid"))
			}
			bare = j.Bare().String()
		case it.Attr("nick") != "":
			v := r.byNick[it.Attr("nick")]
			if v == nil {
				return change{}, stanza.ErrText("item-not-found", "no occupant has the nickname "+it.Attr("nick"))
			}
			bare = v.bare
		default:
			return change{}, stanza.ErrText("bad-request", "an affiliation change names the user by jid")
		}
		t := target{aff: r.affiliation(bare), serviceAdmin: r.svc.admins[bare]}
		if err := checkAffiliation(a, t, aff); err != nil {
			return change{}, err
		}
		return change{bare: bare, aff: aff, reason: reason}, nil
	}
	return change{}, stanza.ErrText("bad-request", "the item names neither an affiliation nor a role")
}

// keepsAnOwner refuses a plan that would leave a room that has owners
// without any (XEP-0045 §10.6).
func (r *room) keepsAnOwner(plan []change) error {
	owners := make(map[string]bool)
	for bare, e := range r.affs {
		if e.aff == Owner {
			owners[bare] = true
		}
	}
	if len(owners) == 0 {
		return nil
	}
	for _, c := range plan {
		if c.o != nil {
			continue
		}
		if c.aff == Owner {
			owners[c.bare] = true
		} else {
			delete(owners, c.bare)
		}
	}
	if len(owners) == 0 {
		return stanza.ErrText("conflict", "the room would be left without an owner")
	}
	return nil
}
