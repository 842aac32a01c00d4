package muc

import (
	"testing"

	"parley/stanza"
)

func condition(err error) string {
	if err == nil {
		return ""
	}
	return err.(stanza.Error).Condition
}

func TestMUCCheckRole(t *testing.T) {
	moderatorOwner := actor{aff: Owner, role: Moderator}
	moderatorAdmin := actor{aff: Admin, role: Moderator}
	moderatorMember := actor{aff: Member, role: Moderator}
	participant := actor{aff: Member, role: Participant}
	absentAdmin := actor{aff: Admin, role: NoRole}
	cases := []struct {
		name string
		a    actor
		t    target
		to   Role
		want string
	}{
		{"moderator kicks a participant", moderatorMember, target{aff: NoAffiliation, role: Participant}, NoRole, ""},
		{"moderator devoices a participant", moderatorMember, target{aff: Member, role: Participant}, Visitor, ""},
		{"moderator gives voice", moderatorMember, target{aff: NoAffiliation, role: Visitor}, Participant, ""},
		{"participant kicks", participant, target{aff: NoAffiliation, role: Participant}, NoRole, "forbidden"},
		{"absent admin kicks", absentAdmin, target{aff: NoAffiliation, role: Participant}, NoRole, "forbidden"},
		{"member moderator kicks an admin", moderatorMember, target{aff: Admin, role: Moderator}, NoRole, "not-allowed"},
		{"moderator kicks a higher member", actor{aff: NoAffiliation, role: Moderator}, target{aff: Member, role: Participant}, NoRole, "not-allowed"},
		{"admin kicks an owner", moderatorAdmin, target{aff: Owner, role: Moderator}, NoRole, "not-allowed"},
		{"owner kicks an admin", moderatorOwner, target{aff: Admin, role: Moderator}, NoRole, "not-allowed"},
		{"owner kicks a member", moderatorOwner, target{aff: Member, role: Participant}, NoRole, ""},
		{"member moderator grants moderator", moderatorMember, target{aff: Member, role: Participant}, Moderator, "forbidden"},
		{"member moderator revokes a moderator", moderatorMember, target{aff: Member, role: Moderator}, Participant, "not-allowed"},
		{"admin grants moderator", moderatorAdmin, target{aff: NoAffiliation, role: Participant}, Moderator, ""},
		{"absent admin grants moderator", absentAdmin, target{aff: Member, role: Participant}, Moderator, ""},
		{"admin revokes a member moderator", moderatorAdmin, target{aff: Member, role: Moderator}, Participant, ""},
		{"owner revokes an admin's moderation", moderatorOwner, target{aff: Admin, role: Moderator}, Participant, "not-allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := condition(checkRole(c.a, c.t, c.to)); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMUCCheckAffiliation(t *testing.T) {
	owner, admin, member := actor{aff: Owner}, actor{aff: Admin}, actor{aff: Member}
	cases := []struct {
		name string
		a    actor
		t    target
		to   Affiliation
		want string
	}{
		{"member bans", member, target{aff: NoAffiliation}, Outcast, "forbidden"},
		{"admin bans a user", admin, target{aff: NoAffiliation}, Outcast, ""},
		{"admin grants membership", admin, target{aff: NoAffiliation}, Member, ""},
		{"admin bans a member", admin, target{aff: Member}, Outcast, ""},
		{"admin bans an admin", admin, target{aff: Admin}, Outcast, "not-allowed"},
		{"admin bans an owner", admin, target{aff: Owner}, Outcast, "not-allowed"},
		{"admin grants admin", admin, target{aff: Member}, Admin, "forbidden"},
		{"admin grants ownership", admin, target{aff: Member}, Owner, "forbidden"},
		{"owner grants ownership", owner, target{aff: Member}, Owner, ""},
		{"owner demotes an owner", owner, target{aff: Owner}, Member, ""},
		{"owner bans an admin", owner, target{aff: Admin}, Outcast, ""},
		{"owner bans a service admin", owner, target{aff: Owner, serviceAdmin: true}, Outcast, "not-allowed"},
		{"owner lists a service admin as owner", owner, target{aff: Owner, serviceAdmin: true}, Owner, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := condition(checkAffiliation(c.a, c.t, c.to)); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMUCDefaultRole(t *testing.T) {
	cases := []struct {
		aff       Affiliation
		moderated bool
		want      Role
	}{
		{Owner, false, Moderator}, {Admin, true, Moderator}, {Member, true, Participant},
		{NoAffiliation, false, Participant}, {NoAffiliation, true, Visitor},
	}
	for _, c := range cases {
		if got := defaultRole(c.aff, c.moderated); got != c.want {
			t.Errorf("defaultRole(%s, moderated=%v) = %s, want %s", c.aff, c.moderated, got, c.want)
		}
	}
}
