package muc

// Affiliation is a user's lasting relation to a room (XEP-0045 §5.2),
// ordered from least to most privileged.
type Affiliation int

// Affiliations.
const (
	Outcast Affiliation = iota
	NoAffiliation
	Member
	Admin
	Owner
)

// String returns the affiliation's protocol name.
func (a Affiliation) String() string {
	switch a {
	case Outcast:
		return "outcast"
	case Member:
		return "member"
	case Admin:
		return "admin"
	case Owner:
		return "owner"
	}
	return "none"
}

// ParseAffiliation returns the affiliation named s.
func ParseAffiliation(s string) (Affiliation, bool) {
	for a := Outcast; a <= Owner; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return NoAffiliation, false
}

// Role is an occupant's temporary position in a room (XEP-0045 §5.1),
// ordered from least to most privileged.
type Role int

// Roles.
const (
	NoRole Role = iota
	Visitor
	Participant
	Moderator
)

// String returns the role's protocol name.
func (r Role) String() string {
	switch r {
	case Visitor:
		return "visitor"
	case Participant:
		return "participant"
	case Moderator:
		return "moderator"
	}
	return "none"
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) {
	for r := NoRole; r <= Moderator; r++ {
		if r.String() == s {
			return r, true
		}
	}
	return NoRole, false
}

// defaultRole is the role an occupant with affiliation a gets on entering
// a room (XEP-0045 §5.1.2): admins and owners moderate; in a moderated
// room only members and above have voice.
func defaultRole(a Affiliation, moderated bool) Role {
	switch {
	case a >= Admin:
		return Moderator
	case a == Member:
		return Participant
	case moderated:
		return Visitor
	}
	return Participant
}
