package muc

import (
	"parley/stanza"
)

// invite sends mediated invitations (XEP-0045 §7.8.2) on behalf of an
// occupant. Moderators (admins and owners among them) may always invite;
// other occupants only when the room allows it
// (muc#roomconfig_allowinvites). In a members-only room whoever may
// invite makes the invitee a member.
func (r *room) invite(t task, o *occupant, x *stanza.Element) {
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may invite others to the room"))
		return
	}
	if !r.mayInvite(o) {
		r.refuse(t, stanza.ErrText("forbidden", "only moderators may invite others to this room"))
		return
	}
	for _, inv := range x.ChildrenNamed(NSUser, "invite") {
		to, err := r.svc.r.ParseJID(inv.Attr("to"))
		if err != nil || inv.Attr("to") == "" {
			r.refuse(t, stanza.ErrText("jid-malformed", "an invitation needs a valid to address"))
			return
		}
		bare := to.Bare().String()
		invitee := r.affiliation(bare)
		if invitee == Outcast {
			r.refuse(t, stanza.ErrText("forbidden", to.String()+" is banned from this room"))
			return
		}
		if r.cfg.MembersOnly && invitee < Member {
			r.setAffiliation(t.ctx, bare, Member, "")
		}
		ix := stanza.New(NSUser, "invite", "from", o.bare)
		if reason := inv.Child(NSUser, "reason"); reason != nil {
			ix.Append(stanza.New(NSUser, "reason").AppendText(reason.Text()))
		}
		ux := stanza.New(NSUser, "x").Append(ix)
		if r.cfg.Password != "" {
			ux.Append(stanza.New(NSUser, "password").AppendText(r.cfg.Password))
		}
		msg := stanza.New("", "message", "from", r.addr).Append(ux)
		msg.SetAttr("id", t.el.ID())
		msg.Append(stanza.New("", "body").AppendText(o.bare + " invites you to the room " + r.addr))
		if len(r.invites) >= maxPendingInvites {
			clear(r.invites)
		}
		r.invites[bare] = o.real
		r.sendTo(t.ctx, msg, to.String())
	}
}

// mayInvite reports whether o may send mediated invitations.
func (r *room) mayInvite(o *occupant) bool {
	return r.cfg.AllowInvites || o.role == Moderator || r.affiliation(o.bare) >= Admin
}

// decline relays an invitee's refusal to the inviter (XEP-0045 §7.8.2).
// Only the pending invitation's inviter is told, whatever address the
// decline names, so the room relays nothing to strangers.
func (r *room) decline(t task, x *stanza.Element) {
	bare := t.from.Bare().String()
	inviter, ok := r.invites[bare]
	if !ok {
		return
	}
	delete(r.invites, bare)
	dx := stanza.New(NSUser, "decline", "from", bare)
	if reason := x.Child(NSUser, "decline").Child(NSUser, "reason"); reason != nil {
		dx.Append(stanza.New(NSUser, "reason").AppendText(reason.Text()))
	}
	msg := stanza.New("", "message", "from", r.addr).Append(stanza.New(NSUser, "x").Append(dx))
	msg.SetAttr("id", t.el.ID())
	r.sendTo(t.ctx, msg, inviter)
}
