package muc

import (
	"parley/dataform"
	"time"

	"parley/stanza"
	"parley/storage"
)

// handleMessage handles a message to the room or to an occupant JID.
func (r *room) handleMessage(t task) {
	o := r.byJID[t.from.String()]
	if t.el.Type() == "error" {
		if o != nil && occupantGone(t.el) {
			r.dropOnError(t.ctx, o)
		}
		return
	}
	if nick := t.to.Resourcepart(); nick != "" {
		r.privateMessage(t, o, nick)
		return
	}
	if t.el.Type() == "groupchat" {
		r.groupchat(t, o)
		return
	}
	if x := t.el.Child(NSUser, "x"); x != nil {
		switch {
		case x.Child(NSUser, "invite") != nil:
			r.invite(t, o, x)
			return
		case x.Child(NSUser, "decline") != nil:
			r.decline(t, x)
			return
		}
	}
	if f := t.el.Child(NSData, "x"); f != nil && dataform.Parse(f).FormType() == NSRequest {
		r.voiceForm(t, o, dataform.Parse(f))
		return
	}
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may send messages to the room"))
		return
	}
	r.refuse(t, stanza.ErrText("bad-request", "messages to the room must be of type groupchat"))
}

// groupchat reflects a message to every occupant, the sender included
// (XEP-0045 §7.4), or changes the subject (§8.1).
func (r *room) groupchat(t task, o *occupant) {
	if o == nil {
		r.refuse(t, stanza.ErrText("not-acceptable", "only occupants may send messages to the room"))
		return
	}
	if o.role < Participant {
		r.refuse(t, stanza.ErrText("forbidden", "visitors have no voice in this room"))
		return
	}
	subject := t.el.Child("", "subject")
	body := t.el.Child("", "body")
	isSubject := subject != nil && body == nil && t.el.Child("", "thread") == nil
	out, id := r.reflect(t.el, o)
	if r.svc.recorder != nil {
		if err := r.svc.recorder.RecordRoom(r.addr, out.From(), o.real, out); err != nil {
			r.refuse(t, err)
			return
		}
	}
	if isSubject {
		if o.role != Moderator && !(r.cfg.ChangeSubject && o.role >= Participant) {
			r.refuse(t, stanza.ErrText("forbidden", "only moderators may change the subject of this room"))
			return
		}
		r.subject, r.subjectBy, r.subjectOccupantID = subject.Text(), o.nick, o.occupantID
		if r.stored {
			r.svc.saveRoom(t.ctx, r)
		}
	}
	for _, v := range r.occupants {
		r.sendTo(t.ctx, out, v.real)
	}
	if isSubject || body == nil {
		return
	}
	now := time.Now().UTC()
	if r.cfg.HistoryLength > 0 {
		r.history.add(newHistoryEntry(out, now, r.addr))
	}
	if r.stored && r.cfg.Logging {
		if w := r.svc.archiveWriter; w != nil {
			w.Append(storage.ArchivedMessage{Archive: r.addr, ID: id, With: out.From(), Stanza: out.Bytes(), Stamp: now})
		} else {
			r.svc.writer.Append(storage.MUCMessage{Room: r.addr, StanzaID: id, Stanza: out.Bytes(), Stamp: now})
		}
	}
}

// reflect builds the message every occupant receives: from the sender's
// occupant JID, without a to, without muc#user elements, with the
// sender's occupant ID (XEP-0421) in place of any the sender put in, and
// with a XEP-0359 stanza ID by the room in place of any the sender
// claimed the room had given. It returns the message and the ID.
func (r *room) reflect(in *stanza.Element, o *occupant) (*stanza.Element, string) {
	out := &stanza.Element{Local: "message", Attrs: in.AttrsWithout("to", "from")}
	out.SetAttr("from", r.occupantJID(o.nick))
	out.Children = make([]stanza.Node, 0, len(in.Children)+2)
	for _, n := range in.Children {
		if c, ok := n.(*stanza.Element); ok {
			if c.Space == NSUser || c.Space == NSOccupantID ||
				(c.Space == NSStanzaID && c.Local == "stanza-id" && c.Attr("by") == r.addr) {
				continue // only the room speaks muc#user or gives occupant and stanza IDs
			}
		}
		out.Children = append(out.Children, n)
	}
	id := r.svc.ids.next()
	out.Children = append(out.Children, o.occupantID, stanza.New(NSStanzaID, "stanza-id", "by", r.addr, "id", id))
	return out, id
}
