package muc

import (
	"context"
	"strconv"

	"parley/stanza"
)

// event describes a presence the room sends about an occupant.
type event struct {
	unavailable bool
	gone        bool   // the occupant left: role none
	destroyed   bool   // the room was destroyed: affiliation and role none
	status      string // <status/> text of an unavailable presence
	newNick     string // item nick of a nickname change (303)
	actor       string // nick of the moderator or admin who acted
	reason      string
	destroy     *stanza.Element // <destroy/> of a destroyed room
	codes       []int           // status codes for everyone
}

// about builds the presence about o for a recipient who does (withJID) or
// does not see real JIDs.
func (r *room) about(o *occupant, withJID bool, e event) *stanza.Element {
	p := stanza.New("", "presence", "from", r.occupantJID(o.nick))
	if e.unavailable {
		p.SetAttr("type", "unavailable")
		if e.status != "" {
			p.Append(stanza.New("", "status").AppendText(e.status))
		}
	} else {
		p.Children = make([]stanza.Node, 0, len(o.payload)+2)
		p.Children = append(p.Children, o.payload...)
	}
	p.Append(o.occupantID)
	aff, role := r.affiliation(o.bare), o.role
	if e.gone || e.destroyed {
		role = NoRole
	}
	if e.destroyed {
		aff = NoAffiliation
	}
	item := stanza.New(NSUser, "item", "affiliation", aff.String(), "role", role.String())
	if withJID {
		item.SetAttr("jid", o.real)
	}
	item.SetAttr("nick", e.newNick)
	if e.actor != "" {
		item.Append(stanza.New(NSUser, "actor", "nick", e.actor))
	}
	if e.reason != "" {
		item.Append(stanza.New(NSUser, "reason").AppendText(e.reason))
	}
	x := stanza.New(NSUser, "x").Append(item)
	if e.destroy != nil {
		x.Append(e.destroy)
	}
	for _, c := range e.codes {
		x.Append(stanza.New(NSUser, "status", "code", strconv.Itoa(c)))
	}
	return p.Append(x)
}

// broadcast sends the presence e about o to every other occupant, built
// once for those who see real JIDs and once for those who do not, and,
// when toSelf, to o with status 110 and selfCodes added.
func (r *room) broadcast(ctx context.Context, o *occupant, e event, selfCodes []int, toSelf bool) {
	var open, hidden *stanza.Element
	for _, v := range r.occupants {
		if v == o {
			continue
		}
		if r.seesJIDs(v) {
			if open == nil {
				open = r.about(o, true, e)
			}
			r.sendTo(ctx, open, v.real)
			continue
		}
		if hidden == nil {
			hidden = r.about(o, false, e)
		}
		r.sendTo(ctx, hidden, v.real)
	}
	if toSelf {
		self := e
		self.codes = append(append([]int{StatusSelf}, selfCodes...), e.codes...)
		r.sendTo(ctx, r.about(o, true, self), o.real)
	}
}

// notify sends every occupant a groupchat message from the room carrying
// status codes (a configuration change, XEP-0045 §10.2.1).
func (r *room) notify(ctx context.Context, codes ...int) {
	if len(codes) == 0 {
		return
	}
	x := stanza.New(NSUser, "x")
	for _, c := range codes {
		x.Append(stanza.New(NSUser, "status", "code", strconv.Itoa(c)))
	}
	m := stanza.New("", "message", "type", "groupchat", "from", r.addr, "id", r.svc.ids.next()).Append(x)
	for _, v := range r.occupants {
		r.sendTo(ctx, m, v.real)
	}
}
