package muc

import "parley/stanza"

// actor is who asks for a role or affiliation change.
type actor struct {
	aff  Affiliation
	role Role // NoRole when not an occupant
}

// target is whose role or affiliation would change.
type target struct {
	aff  Affiliation
	role Role
	// serviceAdmin marks a service administrator, an owner of every room
	// whose affiliation no room can change.
	serviceAdmin bool
}

// checkRole reports whether a may give t the role to (XEP-0045 §8, §9.6,
// §9.7, and the privilege table of §5.1.1): voice and kicks are for
// moderators, moderator status for admins and owners; admins and owners
// are always moderators, and nobody acts on a user of higher affiliation.
// Errors are forbidden when a lacks the privilege and not-allowed when t
// is protected from it.
func checkRole(a actor, t target, to Role) error {
	switch {
	case to == Moderator || t.role == Moderator:
		if a.aff < Admin {
			if a.role != Moderator {
				return stanza.ErrText("forbidden", "only admins and owners grant or revoke moderator status")
			}
			if t.role == Moderator && to < Moderator {
				return stanza.ErrText("not-allowed", "only admins and owners may revoke a moderator's role")
			}
			return stanza.ErrText("forbidden", "only admins and owners grant moderator status")
		}
	case a.role != Moderator:
		return stanza.ErrText("forbidden", "only moderators may change roles")
	}
	if t.aff > a.aff {
		return stanza.ErrText("not-allowed", "the occupant's affiliation is higher than yours")
	}
	if t.aff >= Admin && to < Moderator {
		return stanza.ErrText("not-allowed", "admins and owners are always moderators")
	}
	return nil
}

// checkAffiliation reports whether a may give t the affiliation to
// (XEP-0045 §9 and §10): admins manage outcasts and members, owners
// everything. Errors are forbidden when a lacks the privilege and
// not-allowed when t is protected from it.
func checkAffiliation(a actor, t target, to Affiliation) error {
	if a.aff < Admin {
		return stanza.ErrText("forbidden", "only admins and owners change affiliations")
	}
	if t.serviceAdmin && to != Owner {
		return stanza.ErrText("not-allowed", "a service administrator owns every room")
	}
	if a.aff == Owner {
		return nil
	}
	if to >= Admin {
		return stanza.ErrText("forbidden", "only owners grant admin or owner status")
	}
	if t.aff >= Admin {
		return stanza.ErrText("not-allowed", "only owners change the affiliation of admins and owners")
	}
	return nil
}
