package muc

import (
	"parley/stanza"
)

// privateMessage passes a message from one occupant to another through
// the room (XEP-0045 §7.5): the recipient sees the sender's occupant JID.
func (r *room) privateMessage(t task, o *occupant, nick string) {
	if t.el.Type() == "groupchat" {
		r.refuse(t, stanza.ErrText("bad-request", "groupchat messages go to the room, not to an occupant"))
		return
	}
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may send private messages in this room"))
		return
	}
	dst := r.byNick[nick]
	if dst == nil {
		r.refuse(t, stanza.ErrText("item-not-found", "no occupant has this nickname"))
		return
	}
	if !r.mayPM(o) {
		r.refuse(t, stanza.ErrText("forbidden", "private messages are not allowed to you in this room"))
		return
	}
	out := &stanza.Element{Local: "message", Attrs: t.el.AttrsWithout("to", "from")}
	out.SetAttr("from", r.occupantJID(o.nick))
	for _, n := range t.el.Children {
		if c, ok := n.(*stanza.Element); ok && (c.Space == NSUser || c.Space == NSOccupantID) {
			continue // only the room speaks muc#user and gives occupant IDs
		}
		out.Children = append(out.Children, n)
	}
	out.Append(stanza.New(NSUser, "x"), o.occupantID)
	if r.svc.recorder != nil {
		if err := r.svc.recorder.RecordPrivate(r.addr, r.occupantJID(o.nick), r.occupantJID(nick), o.real, dst.real, out); err != nil {
			r.refuse(t, err)
			return
		}
	}
	r.sendTo(t.ctx, out, dst.real)
}

// mayPM reports whether o may send private messages under the room's
// muc#roomconfig_allowpm.
func (r *room) mayPM(o *occupant) bool {
	switch r.cfg.AllowPM {
	case PMNone:
		return false
	case PMModerators:
		return o.role == Moderator
	case PMParticipants:
		return o.role >= Participant
	}
	return true
}
