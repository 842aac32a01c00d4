package muc

import (
	"context"

	"parley/stanza"
)

// handlePresence handles presence to the room or an occupant JID: joins,
// presence updates, nickname changes, leaving, and errors.
func (r *room) handlePresence(t task) {
	o := r.byJID[t.from.String()]
	switch t.el.Type() {
	case "error":
		if o != nil && occupantGone(t.el) {
			r.dropOnError(t.ctx, o)
		}
		return
	case "unavailable":
		if o != nil {
			r.leave(t.ctx, o, event{unavailable: true, gone: true, status: t.el.ChildText("", "status")}, true)
		}
		return
	case "":
	default:
		return // probes and subscriptions mean nothing to a room
	}
	nick := t.to.Resourcepart()
	switch {
	case nick == "" && o == nil:
		r.refuse(t, stanza.ErrText("jid-malformed", "join the room at room@service/nickname"))
	case nick == "":
	case o == nil:
		r.join(t, nick)
	case nick != o.nick:
		r.changeNick(t, o, nick)
	default:
		r.updatePresence(t, o)
	}
}

// updatePresence broadcasts an occupant's new presence. A presence with a
// MUC join element from an occupant is a re-join (a client that lost
// track of the room): it gets the whole room state again.
func (r *room) updatePresence(t task, o *occupant) {
	o.payload = presencePayload(t.el)
	if x := t.el.Child(NS, "x"); x != nil {
		r.welcome(t.ctx, o, x, nil)
		return
	}
	r.broadcast(t.ctx, o, event{}, nil, true)
}

// changeNick renames an occupant (XEP-0045 §7.6): unavailable presence
// from the old nick with status 303, then presence from the new one.
func (r *room) changeNick(t task, o *occupant, nick string) {
	if err := checkNick(nick); err != nil {
		r.refuse(t, err)
		return
	}
	if r.byNick[nick] != nil {
		r.refuse(t, stanza.ErrText("conflict", "the nickname is in use in this room"))
		return
	}
	r.broadcast(t.ctx, o, event{unavailable: true, newNick: nick, codes: []int{StatusNickChanged}}, nil, true)
	delete(r.byNick, o.nick)
	o.nick = nick
	r.byNick[nick] = o
	o.payload = presencePayload(t.el)
	var self []int
	if nickAsSent(t.el.To()) != nick {
		self = append(self, StatusNickModified)
	}
	r.broadcast(t.ctx, o, event{}, self, true)
}

// leave takes o out of the room and tells the others, and o when toSelf
// (XEP-0045 §7.14, and kicks and bans, which carry their codes in e).
func (r *room) leave(ctx context.Context, o *occupant, e event, toSelf bool) {
	r.removeOccupant(o)
	r.broadcast(ctx, o, e, nil, toSelf)
}

// dropOnError removes an occupant whose server or client answered the
// room with an error saying it is gone (XEP-0045 §18.1.2).
func (r *room) dropOnError(ctx context.Context, o *occupant) {
	r.svc.log.Debug().Str("room", r.addr).Str("jid", o.real).Msg("occupant removed after an error")
	r.leave(ctx, o, event{unavailable: true, gone: true, codes: []int{StatusKicked, StatusRemovedOnError}}, false)
}

// unreachable reports whether an error condition says that an occupant's
// server or client cannot be reached.
func unreachable(condition string) bool {
	switch condition {
	case "gone", "item-not-found", "jid-malformed", "recipient-unavailable",
		"remote-server-not-found", "service-unavailable", "internal-server-error":
		return true
	}
	return false
}

// occupantGone reports whether an error stanza from an occupant says it
// is gone for good: an error of type cancel with a condition of
// unreachability. A client refusing one private message (forbidden,
// not-acceptable...) is not gone.
func occupantGone(el *stanza.Element) bool {
	e := el.Child("", "error")
	if e == nil || e.Attr("type") != stanza.ErrorCancel {
		return false
	}
	for _, c := range e.Elements() {
		if c.Space == stanza.NSStanzas && unreachable(c.Local) {
			return true
		}
	}
	return false
}
