package muc

import (
	"context"
	"crypto/subtle"
	"time"

	"parley/stanza"
)

// join admits the sender of t under nick (XEP-0045 §7.2), creating the
// room's owner if the join created it, or refuses it.
func (r *room) join(t task, nick string) {
	ctx := t.ctx
	x := t.el.Child(NS, "x")
	if err := checkNick(nick); err != nil {
		r.refuse(t, err)
		return
	}
	bare := t.from.Bare().String()
	created := false
	if r.fresh {
		if t.from.String() != r.creatorReal {
			r.refuse(t, stanza.ErrText("item-not-found", "the room is being created"))
			return
		}
		r.fresh, r.creatorReal, created = false, "", true
		// A client that did not signal MUC support cannot configure
		// the room, so its room is instant (XEP-0045 §7.2.1, §10.1).
		r.locked = r.svc.policy.LockNewRooms && x != nil
		r.created = time.Now().UTC()
		r.setAffiliation(ctx, bare, Owner, "")
		r.svc.log.Info().Str("room", r.addr).Str("owner", bare).Bool("locked", r.locked).Msg("group-chat room created")
	} else if err := r.admit(bare, nick, x); err != nil {
		r.refuse(t, err)
		return
	}
	o := &occupant{
		nick:    nick,
		jid:     t.from,
		real:    t.from.String(),
		bare:    bare,
		role:    defaultRole(r.affiliation(bare), r.cfg.Moderated),
		payload: presencePayload(t.el),

		occupantID: r.occupantIDElement(bare),
	}
	var self []int
	if created {
		self = append(self, StatusCreated)
	}
	if nickAsSent(t.el.To()) != nick {
		self = append(self, StatusNickModified)
	}
	r.addOccupant(o)
	delete(r.invites, bare)
	r.welcome(ctx, o, x, self)
}

// welcome sends a new (or re-joining) occupant what entering the room
// shows, in the order of XEP-0045 §7.2: the other occupants' presence,
// its own presence, which the others receive too, the history and the
// subject.
func (r *room) welcome(ctx context.Context, o *occupant, x *stanza.Element, self []int) {
	sees := r.seesJIDs(o)
	for _, v := range r.occupants {
		if v != o {
			r.sendTo(ctx, r.about(v, sees, event{}), o.real)
		}
	}
	if r.cfg.NonAnonymous {
		self = append(self, StatusNonAnonymous)
	}
	if r.cfg.logged() {
		self = append(self, StatusLogged)
	}
	r.broadcast(ctx, o, event{}, self, true)
	for _, e := range parseHistoryRequest(x).pick(r.history.entries(), time.Now()) {
		r.sendTo(ctx, delayed(e, r.addr), o.real)
	}
	r.sendTo(ctx, r.subjectMessage(), o.real)
}

// admit checks whether bare may enter under nick (XEP-0045 §7.2.4-7.2.10).
func (r *room) admit(bare, nick string, x *stanza.Element) error {
	aff := r.affiliation(bare)
	switch {
	case r.locked && aff != Owner:
		return stanza.ErrText("item-not-found", "the room is locked until its owner configures it")
	case aff == Outcast:
		return stanza.ErrText("forbidden", "you are banned from this room")
	case r.cfg.MembersOnly && aff < Member:
		return stanza.ErrText("registration-required", "only members may enter this room")
	case r.cfg.Password != "" && !passwordMatches(x, r.cfg.Password):
		return stanza.ErrText("not-authorized", "a correct password is required to enter this room")
	case r.byNick[nick] != nil:
		return stanza.ErrText("conflict", "the nickname is in use in this room")
	case len(r.occupants) >= r.cfg.MaxUsers && aff < Admin:
		return stanza.ErrText("service-unavailable", "the room is full")
	}
	return nil
}

// passwordMatches reports whether the join's <password/> is want.
func passwordMatches(x *stanza.Element, want string) bool {
	if x == nil {
		return false
	}
	got := x.ChildText(NS, "password")
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// subjectMessage is the subject sent to joining occupants (§7.2.15): from
// the occupant who set it, with its occupant ID when the room knows it,
// or from the room; empty when there is none.
func (r *room) subjectMessage() *stanza.Element {
	from := r.addr
	if r.subjectBy != "" {
		from = r.occupantJID(r.subjectBy)
	}
	m := stanza.New("", "message", "type", "groupchat", "from", from, "id", r.svc.ids.next()).
		Append(stanza.New("", "subject").AppendText(r.subject))
	if r.subjectBy != "" && r.subjectOccupantID != nil {
		m.Append(r.subjectOccupantID)
	}
	return m
}
