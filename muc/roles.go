package muc

import (
	"context"
)

// setRole changes an occupant's role and tells the room (XEP-0045 §8.3-
// 8.5, §9.6-9.7); the role none kicks it out (§8.2, status 307).
func (r *room) setRole(ctx context.Context, o *occupant, role Role, actorNick, reason string) {
	if role == NoRole {
		r.leave(ctx, o, event{unavailable: true, gone: true, actor: actorNick, reason: reason, codes: []int{StatusKicked}}, true)
		return
	}
	wasModerator := o.role == Moderator
	o.role = role
	r.broadcast(ctx, o, event{actor: actorNick, reason: reason}, nil, true)
	if role == Moderator && !wasModerator {
		r.revealTo(ctx, o)
	}
}

// revealTo sends a new moderator of a semi-anonymous room the occupants'
// presence again, now with their real JIDs.
func (r *room) revealTo(ctx context.Context, m *occupant) {
	if r.cfg.NonAnonymous {
		return
	}
	for _, v := range r.occupants {
		if v != m {
			r.sendTo(ctx, r.about(v, true, event{}), m.real)
		}
	}
}

// applyAffiliation records a new affiliation for a bare JID and brings
// its occupants in line (XEP-0045 §9, §10): outcasts are banned (301),
// those who may no longer stay in a members-only room removed (321), and
// the others get the role of their new affiliation, keeping a higher role
// a moderator granted them.
func (r *room) applyAffiliation(ctx context.Context, bare string, aff Affiliation, actorNick, reason string) {
	old := r.affiliation(bare)
	r.setAffiliation(ctx, bare, aff, reason)
	var mine []*occupant
	for _, o := range r.occupants {
		if o.bare == bare {
			mine = append(mine, o)
		}
	}
	for _, o := range mine {
		switch {
		case aff == Outcast:
			r.leave(ctx, o, event{unavailable: true, gone: true, actor: actorNick, reason: reason, codes: []int{StatusBanned}}, true)
		case r.cfg.MembersOnly && aff < Member:
			r.leave(ctx, o, event{unavailable: true, gone: true, actor: actorNick, reason: reason, codes: []int{StatusAffiliationLost}}, true)
		default:
			role := defaultRole(aff, r.cfg.Moderated)
			if old < Admin && o.role > role {
				role = o.role
			}
			wasModerator := o.role == Moderator
			o.role = role
			r.broadcast(ctx, o, event{actor: actorNick, reason: reason}, nil, true)
			if role == Moderator && !wasModerator {
				r.revealTo(ctx, o)
			}
		}
	}
}
