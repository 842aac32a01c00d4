package muc

import (
	"parley/dataform"
	"parley/stanza"
)

// voiceForm handles a muc#request form sent to the room (XEP-0045
// §7.13, §8.6): from a visitor, a voice request relayed to every
// moderator; from a moderator, the submitted answer to one.
func (r *room) voiceForm(t task, o *occupant, f dataform.Form) {
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may request voice"))
		return
	}
	if allow, ok := f.Value("muc#request_allow"); ok && o.role == Moderator {
		if yes, _ := dataform.ParseBoolean(allow); yes {
			r.approveVoice(t, o, f)
		}
		return
	}
	if o.role >= Participant {
		return // nothing to request
	}
	for _, m := range r.occupants {
		if m.role != Moderator {
			continue
		}
		x := dataform.New("form", NSRequest)
		x.Children = append([]stanza.Node{
			stanza.New(NSData, "title").AppendText("Voice request"),
			stanza.New(NSData, "instructions").AppendText("To grant " + o.nick + " voice in " + r.addr + ", submit this form with muc#request_allow set to true."),
		}, x.Children...)
		x.Append(
			dataform.Field("muc#role", "list-single", "Requested role", Participant.String()),
			dataform.Field("muc#jid", "jid-single", "User ID", o.real),
			dataform.Field("muc#roomnick", "text-single", "Room nickname", o.nick),
			dataform.Field("muc#request_allow", "boolean", "Grant voice to this person?", "false"),
		)
		msg := stanza.New("", "message", "from", r.addr, "id", r.svc.ids.next()).Append(x)
		r.sendTo(t.ctx, msg, m.real)
	}
}

// approveVoice grants voice to the visitor an approved request names.
func (r *room) approveVoice(t task, mod *occupant, f dataform.Form) {
	nick, _ := f.Value("muc#roomnick")
	v := r.byNick[nick]
	if v == nil || v.role != Visitor {
		return
	}
	t2 := target{aff: r.affiliation(v.bare), role: v.role}
	if err := checkRole(actor{aff: r.affiliation(mod.bare), role: mod.role}, t2, Participant); err != nil {
		r.refuse(t, err)
		return
	}
	r.setRole(t.ctx, v, Participant, mod.nick, "")
}
