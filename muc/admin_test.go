package muc_test

import (
	"fmt"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

const dom = "@" + testutil.Domain

// TestRoomKickAndBan checks removal by a moderator (XEP-0045 §8.2, status
// 307) and by an admin (§9.1, outcast, status 301), with actor and
// reason, and that a banned user stays out.
func TestRoomKickAndBan(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "rules", "Alice")
	join(t, bob, "rules", "Bob", "")
	join(t, carol, "rules", "Carol", "")

	if r := adminIQ(bob, "rules", "set", "<item nick='Carol' role='none'/>"); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a participant kicked: %s", r)
	}
	if r := adminIQ(alice, "rules", "set", "<item nick='Carol' role='none'><reason>Be nice</reason></item>"); r.Type() != "result" {
		t.Fatalf("kick: %s", r)
	}
	for _, c := range []*testutil.Client{alice, bob, carol} {
		p := c.Expect(isUnavailable(occ("rules", "Carol")))
		it := item(t, p)
		if !hasStatus(p, muc.StatusKicked) || it.Attr("role") != "none" || it.ChildText(muc.NSUser, "reason") != "Be nice" ||
			it.Child(muc.NSUser, "actor").Attr("nick") != "Alice" {
			t.Errorf("%s: kick presence: %s", c.JID, p)
		}
		if hasStatus(p, muc.StatusSelf) != (c == carol) {
			t.Errorf("%s: 110 on the kick presence: %s", c.JID, p)
		}
	}
	join(t, carol, "rules", "Carol", "") // a kick is not a ban

	if r := adminIQ(alice, "rules", "set", "<item affiliation='outcast' jid='carol"+dom+"'><reason>Spam</reason></item>"); r.Type() != "result" {
		t.Fatalf("ban: %s", r)
	}
	p := carol.Expect(isUnavailable(occ("rules", "Carol")))
	if !hasStatus(p, muc.StatusBanned) || item(t, p).Attr("affiliation") != "outcast" {
		t.Fatalf("ban presence: %s", p)
	}
	bob.Expect(isUnavailable(occ("rules", "Carol")))
	if got := joinError(t, carol, "rules", "Carol", ""); got != "forbidden" {
		t.Fatalf("a banned user joined: %s", got)
	}
	r := adminIQ(alice, "rules", "get", "<item affiliation='outcast'/>")
	its := r.Child(muc.NSAdmin, "query").ChildrenNamed(muc.NSAdmin, "item")
	if len(its) != 1 || its[0].Attr("jid") != "carol"+dom || its[0].ChildText(muc.NSAdmin, "reason") != "Spam" {
		t.Fatalf("outcast list: %s", r)
	}
	if r := adminIQ(bob, "rules", "get", "<item affiliation='outcast'/>"); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a participant read the outcast list: %s", r)
	}
	// Lifting the ban lets her in again.
	adminIQ(alice, "rules", "set", "<item affiliation='none' jid='carol"+dom+"'/>")
	join(t, carol, "rules", "Carol", "")
}

// TestRoomVoice checks voice in a moderated room: visitors may not speak,
// may ask for voice (XEP-0045 §7.13), and moderators grant and revoke it
// (§8.3-8.4).
func TestRoomVoice(t *testing.T) {
	srv := mucServer(t, "", "moderated = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "stage", "Alice")
	self := join(t, bob, "stage", "Bob", "")
	if item(t, self).Attr("role") != "visitor" {
		t.Fatalf("role in a moderated room: %s", self)
	}
	sendGroupchat(bob, "stage", "may I?")
	if e := bob.Expect(isError("message", roomJID("stage"))); testutil.ErrorCondition(e) != "forbidden" {
		t.Fatalf("a visitor spoke: %s", e)
	}

	bob.Sendf("<message to='%s'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>%s</value></field>"+
		"<field var='muc#role'><value>participant</value></field></x></message>", roomJID("stage"), muc.NSRequest)
	req := alice.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.From() == roomJID("stage") && el.Child("jabber:x:data", "x") != nil
	})
	values := map[string]string{}
	for _, f := range req.Child("jabber:x:data", "x").ChildrenNamed("jabber:x:data", "field") {
		values[f.Attr("var")] = f.ChildText("jabber:x:data", "value")
	}
	if values["FORM_TYPE"] != muc.NSRequest || values["muc#roomnick"] != "Bob" || values["muc#jid"] != bob.JID || values["muc#role"] != "participant" {
		t.Fatalf("voice request relayed to the moderator: %s", req)
	}
	alice.Sendf("<message to='%s'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>%s</value></field>"+
		"<field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Bob</value></field>"+
		"<field var='muc#request_allow'><value>true</value></field></x></message>", roomJID("stage"), muc.NSRequest)
	p := bob.Expect(isPresence(occ("stage", "Bob")))
	if item(t, p).Attr("role") != "participant" {
		t.Fatalf("after approval: %s", p)
	}
	sendGroupchat(bob, "stage", "thank you")
	alice.Expect(isGroupchat(occ("stage", "Bob"), "thank you"))

	if r := adminIQ(alice, "stage", "set", "<item nick='Bob' role='visitor'/>"); r.Type() != "result" {
		t.Fatalf("revoke voice: %s", r)
	}
	if p := bob.Expect(isPresence(occ("stage", "Bob"))); item(t, p).Attr("role") != "visitor" || item(t, p).Child(muc.NSUser, "actor") == nil {
		t.Fatalf("after revoking voice: %s", p)
	}
	r := adminIQ(alice, "stage", "get", "<item role='visitor'/>")
	if its := r.Child(muc.NSAdmin, "query").ChildrenNamed(muc.NSAdmin, "item"); len(its) != 1 || its[0].Attr("nick") != "Bob" || its[0].Attr("jid") != bob.JID {
		t.Fatalf("visitor list: %s", r)
	}
	if r := adminIQ(bob, "stage", "get", "<item role='moderator'/>"); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a visitor read the moderator list: %s", r)
	}
}

// TestRoomAffiliationPrivileges checks who may change whose affiliation and
// role (XEP-0045 §5.2, §8-10), several items in one request, and that a
// room keeps an owner.
func TestRoomAffiliationPrivileges(t *testing.T) {
	srv := mucServer(t, "", "")
	owner := user(t, srv, "owner")
	adm := user(t, srv, "adm")
	mem := user(t, srv, "mem")
	other := user(t, srv, "other")
	create(t, owner, "corp", "Owner")
	r := adminIQ(owner, "corp", "set", "<item affiliation='admin' jid='adm"+dom+"'/><item affiliation='member' jid='mem"+dom+"'/>")
	if r.Type() != "result" {
		t.Fatalf("granting admin and member in one request: %s", r)
	}
	admSelf := join(t, adm, "corp", "Adm", "")
	if it := item(t, admSelf); it.Attr("affiliation") != "admin" || it.Attr("role") != "moderator" {
		t.Fatalf("admin's item: %s", it)
	}
	join(t, mem, "corp", "Mem", "")
	join(t, other, "corp", "Other", "")

	cases := []struct {
		name  string
		c     *testutil.Client
		items string
		want  string // "" for success
	}{
		{"member kicks", mem, "<item nick='Other' role='none'/>", "forbidden"},
		{"member grants membership", mem, "<item affiliation='member' jid='other" + dom + "'/>", "forbidden"},
		{"admin bans the owner", adm, "<item affiliation='outcast' jid='owner" + dom + "'/>", "not-allowed"},
		{"admin kicks the owner", adm, "<item nick='Owner' role='none'/>", "not-allowed"},
		{"admin grants admin", adm, "<item affiliation='admin' jid='other" + dom + "'/>", "forbidden"},
		{"admin revokes an admin", adm, "<item affiliation='member' jid='adm" + dom + "'/>", "not-allowed"},
		{"admin devoices the owner", adm, "<item nick='Owner' role='visitor'/>", "not-allowed"},
		{"kick of an unknown nick", adm, "<item nick='Ghost' role='none'/>", "item-not-found"},
		{"role change by jid", adm, "<item jid='other" + dom + "' role='none'/>", "bad-request"},
		{"unknown affiliation", owner, "<item affiliation='king' jid='other" + dom + "'/>", "bad-request"},
		{"one bad item spoils the request", owner, "<item affiliation='member' jid='other" + dom + "'/><item nick='Ghost' role='none'/>", "item-not-found"},
		{"the last owner steps down", owner, "<item affiliation='admin' jid='owner" + dom + "'/>", "conflict"},
		{"admin grants membership", adm, "<item affiliation='member' jid='other" + dom + "'/>", ""},
		{"admin makes a moderator", adm, "<item nick='Mem' role='moderator'/>", ""},
		{"owner makes another owner", owner, "<item affiliation='owner' jid='adm" + dom + "'/>", ""},
		{"an owner steps down", owner, "<item affiliation='member' jid='owner" + dom + "'/>", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := adminIQ(c.c, "corp", "set", c.items)
			if got := testutil.ErrorCondition(r); got != c.want {
				t.Fatalf("got %q, want %q: %s", got, c.want, r)
			}
		})
	}
	// The failed request with two items changed nothing: other was made a
	// member only by the admin's later request, and became a participant.
	r = adminIQ(adm, "corp", "get", "<item affiliation='member'/>")
	var members []string
	for _, it := range r.Child(muc.NSAdmin, "query").ChildrenNamed(muc.NSAdmin, "item") {
		members = append(members, it.Attr("jid"))
	}
	if fmt.Sprint(members) != fmt.Sprint([]string{"mem" + dom, "other" + dom, "owner" + dom}) {
		t.Fatalf("member list: %v", members)
	}
	p := other.Expect(func(el *stanza.Element) bool {
		return isPresence(occ("corp", "Other"))(el) && item(t, el).Attr("affiliation") == "member"
	})
	if item(t, p).Attr("role") != "participant" {
		t.Fatalf("other after becoming a member: %s", p)
	}
	// The moderator role granted to Mem lets Mem see real JIDs.
	mem.Expect(func(el *stanza.Element) bool {
		return isPresence(occ("corp", "Other"))(el) && item(t, el).Attr("jid") == other.JID
	})
}

// TestRoomMembersOnlyConversion checks that making a room members-only
// removes those who are not members (status 322).
func TestRoomMembersOnlyConversion(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "closing", "Alice")
	join(t, bob, "closing", "Bob", "")
	join(t, carol, "closing", "Carol", "")
	adminIQ(alice, "closing", "set", "<item affiliation='member' jid='bob"+dom+"'/>")
	configure(t, alice, "closing", "muc#roomconfig_membersonly", "1")
	p := carol.Expect(isUnavailable(occ("closing", "Carol")))
	if !hasStatus(p, muc.StatusMembersOnly) || !hasStatus(p, muc.StatusSelf) {
		t.Fatalf("removal: %s", p)
	}
	bob.Expect(isUnavailable(occ("closing", "Carol")))
	bob.ExpectNone(isUnavailable(occ("closing", "Bob")), quiet)
	// Revoking a membership in a members-only room removes the user (321).
	adminIQ(alice, "closing", "set", "<item affiliation='none' jid='bob"+dom+"'/>")
	if p := bob.Expect(isUnavailable(occ("closing", "Bob"))); !hasStatus(p, muc.StatusAffiliationLost) {
		t.Fatalf("removal on losing membership: %s", p)
	}
}

// listJIDs returns the jids of a muc#admin list result.
func listJIDs(t *testing.T, r *stanza.Element, aff string) []string {
	t.Helper()
	q := r.Child(muc.NSAdmin, "query")
	if r.Type() != "result" || q == nil {
		t.Fatalf("list: %s", r)
	}
	var out []string
	for _, it := range q.ChildrenNamed(muc.NSAdmin, "item") {
		if it.Attr("affiliation") != aff {
			t.Errorf("item of the %s list: %s", aff, it)
		}
		out = append(out, it.Attr("jid"))
	}
	return out
}

// TestRoomOwnerAndAdminLists checks the owner and admin lists (XEP-0045
// §10.5-10.8): owners edit both, the lists read back what was set, and an
// admin may neither edit them nor remove another admin.
func TestRoomOwnerAndAdminLists(t *testing.T) {
	srv := mucServer(t, "", "")
	owner := user(t, srv, "owner")
	adm := user(t, srv, "adm")
	adm2 := user(t, srv, "adm2")
	create(t, owner, "lists", "Owner")
	if r := adminIQ(owner, "lists", "set", "<item affiliation='admin' jid='adm"+dom+"'/><item affiliation='admin' jid='adm2"+dom+"'/>"+
		"<item affiliation='owner' jid='co"+dom+"'/>"); r.Type() != "result" {
		t.Fatalf("editing the lists: %s", r)
	}
	if got := listJIDs(t, adminIQ(owner, "lists", "get", "<item affiliation='owner'/>"), "owner"); fmt.Sprint(got) != fmt.Sprint([]string{"co" + dom, "owner" + dom}) {
		t.Errorf("owner list: %v", got)
	}
	if got := listJIDs(t, adminIQ(owner, "lists", "get", "<item affiliation='admin'/>"), "admin"); fmt.Sprint(got) != fmt.Sprint([]string{"adm2" + dom, "adm" + dom}) {
		t.Errorf("admin list: %v", got)
	}
	join(t, adm, "lists", "Adm", "")
	join(t, adm2, "lists", "Adm2", "")
	for _, c := range []struct{ name, items, want string }{
		{"admin kicks an admin", "<item nick='Adm2' role='none'/>", "not-allowed"},
		{"admin bans an admin", "<item affiliation='outcast' jid='adm2" + dom + "'/>", "not-allowed"},
		{"admin removes an owner", "<item affiliation='none' jid='co" + dom + "'/>", "not-allowed"},
		{"admin adds an owner", "<item affiliation='owner' jid='adm" + dom + "'/>", "forbidden"},
	} {
		if r := adminIQ(adm, "lists", "set", c.items); testutil.ErrorCondition(r) != c.want {
			t.Errorf("%s: got %s, want %s", c.name, r, c.want)
		}
	}
	adm.ExpectNone(isUnavailable(occ("lists", "Adm2")), 100*time.Millisecond)
	// Revoking an admin's status makes it a participant.
	if r := adminIQ(owner, "lists", "set", "<item affiliation='none' jid='adm2"+dom+"'/>"); r.Type() != "result" {
		t.Fatalf("revoking admin status: %s", r)
	}
	p := adm.Expect(func(el *stanza.Element) bool {
		return isPresence(occ("lists", "Adm2"))(el) && item(t, el).Attr("affiliation") == "none"
	})
	if item(t, p).Attr("role") != "participant" || item(t, p).Child(muc.NSUser, "actor").Attr("nick") != "Owner" {
		t.Fatalf("the former admin's presence: %s", p)
	}
	if got := listJIDs(t, adminIQ(owner, "lists", "get", "<item affiliation='admin'/>"), "admin"); fmt.Sprint(got) != fmt.Sprint([]string{"adm" + dom}) {
		t.Errorf("admin list after revoking: %v", got)
	}
}
