package muc

import (
	"parley/stanza"
)

// invite sends mediated invitations (XEP-0045 §7.8.2) on behalf of an
// occupant. In a members-only room only admins, owners and moderators
// invite unless the room allows members to (muc#roomconfig_allowinvites),
// and whoever may invite there makes the invitee a member.
func (r *room) invite(t task, o *occupant, x *stanza.Element) {
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may invite others to the room"))
		return
	}
	aff := r.affiliation(o.bare)
	if r.cfg.MembersOnly && aff < Admin && o.role != Moderator && !r.cfg.AllowInvites {
		r.refuse(t, stanza.ErrText("forbidden", "only admins and owners may invite others to this room"))
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
