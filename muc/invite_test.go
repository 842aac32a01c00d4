package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// isInvite matches a mediated invitation from room.
func isInvite(room string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "message" && el.From() == roomJID(room) && mucUser(el, "invite") != nil
	}
}

// TestRoomMediatedInvitation checks invitations through the room and declines
// relayed back (XEP-0045 §7.8.2).
func TestRoomMediatedInvitation(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "party", "Alice")
	configure(t, alice, "party", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "cake")

	bobBare := "bob@" + testutil.Domain
	alice.Sendf("<message to='%s' id='inv1'><x xmlns='%s'><invite to='%s'><reason>Join us</reason></invite></x></message>",
		roomJID("party"), muc.NSUser, bobBare)
	inv := bob.Expect(isInvite("party"))
	x := inv.Child(muc.NSUser, "x")
	i := x.Child(muc.NSUser, "invite")
	if i.Attr("from") != "alice@"+testutil.Domain || i.ChildText(muc.NSUser, "reason") != "Join us" || x.ChildText(muc.NSUser, "password") != "cake" {
		t.Fatalf("invitation: %s", inv)
	}
	bob.Sendf("<message to='%s'><x xmlns='%s'><decline to='alice@%s'><reason>Busy</reason></decline></x></message>",
		roomJID("party"), muc.NSUser, testutil.Domain)
	isDecline := func(el *stanza.Element) bool {
		return el.Local == "message" && el.From() == roomJID("party") && mucUser(el, "decline") != nil
	}
	d := alice.Expect(isDecline)
	if dx := d.Child(muc.NSUser, "x").Child(muc.NSUser, "decline"); dx.Attr("from") != bobBare || dx.ChildText(muc.NSUser, "reason") != "Busy" {
		t.Fatalf("relayed decline: %s", d)
	}
	// A decline without a pending invitation is not relayed.
	bob.Sendf("<message to='%s'><x xmlns='%s'><decline to='alice@%s'/></x></message>", roomJID("party"), muc.NSUser, testutil.Domain)
	alice.ExpectNone(isDecline, quiet)

	outsider := user(t, srv, "dave")
	outsider.Sendf("<message to='%s'><x xmlns='%s'><invite to='%s'/></x></message>", roomJID("party"), muc.NSUser, bobBare)
	if e := outsider.Expect(isError("message", roomJID("party"))); testutil.ErrorCondition(e) != "not-acceptable" {
		t.Fatalf("invitation from a non-occupant: %s", e)
	}
}

// TestRoomMembersOnlyInvitation checks that in a members-only room only those
// allowed to invite may, and that their invitees become members.
func TestRoomMembersOnlyInvitation(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "club", "Alice")
	configure(t, alice, "club", "muc#roomconfig_membersonly", "1")

	alice.Sendf("<message to='%s'><x xmlns='%s'><invite to='bob@%s'/></x></message>", roomJID("club"), muc.NSUser, testutil.Domain)
	bob.Expect(isInvite("club"))
	join(t, bob, "club", "Bob", "")
	r := adminIQ(alice, "club", "get", "<item affiliation='member'/>")
	if its := r.Child(muc.NSAdmin, "query").ChildrenNamed(muc.NSAdmin, "item"); len(its) != 1 || its[0].Attr("jid") != "bob@"+testutil.Domain {
		t.Fatalf("member list after the invitation: %s", r)
	}
	// A member may not invite unless the room allows it.
	bob.Sendf("<message to='%s'><x xmlns='%s'><invite to='carol@%s'/></x></message>", roomJID("club"), muc.NSUser, testutil.Domain)
	if e := bob.Expect(isError("message", roomJID("club"))); testutil.ErrorCondition(e) != "forbidden" {
		t.Fatalf("invitation by a member: %s", e)
	}
	configure(t, alice, "club", "muc#roomconfig_allowinvites", "1")
	bob.Sendf("<message to='%s'><x xmlns='%s'><invite to='carol@%s'/></x></message>", roomJID("club"), muc.NSUser, testutil.Domain)
	carol.Expect(isInvite("club"))
	join(t, carol, "club", "Carol", "")
}

// TestRoomDirectInvitation checks that a XEP-0249 invitation, sent client to
// client, reaches the invitee untouched and that the invitee can join.
func TestRoomDirectInvitation(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "direct", "Alice")
	alice.Sendf("<message to='bob@%s/pc'><x xmlns='jabber:x:conference' jid='%s' reason='come'/></message>", testutil.Domain, roomJID("direct"))
	m := bob.Expect(func(el *stanza.Element) bool { return el.Child("jabber:x:conference", "x") != nil })
	if m.From() != alice.JID || m.Child("jabber:x:conference", "x").Attr("jid") != roomJID("direct") {
		t.Fatalf("direct invitation: %s", m)
	}
	join(t, bob, "direct", "Bob", "")
	sendGroupchat(bob, "direct", fmt.Sprint("thanks"))
	alice.Expect(isGroupchat(occ("direct", "Bob"), "thanks"))
}

// TestRoomInvitePrivilege checks muc#roomconfig_allowinvites ("allow
// occupants to invite others") in an open room: off, only moderators may
// send mediated invitations and the others get forbidden; on, any
// occupant may.
func TestRoomInvitePrivilege(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "open", "Alice")
	join(t, bob, "open", "Bob", "")
	invite := fmt.Sprintf("<message to='%s'><x xmlns='%s'><invite to='carol@%s'/></x></message>", roomJID("open"), muc.NSUser, testutil.Domain)

	bob.Send(invite)
	if e := bob.Expect(isError("message", roomJID("open"))); testutil.ErrorCondition(e) != "forbidden" {
		t.Fatalf("invitation by a participant with allowinvites off: %s", e)
	}
	carol.ExpectNone(isInvite("open"), quiet)
	alice.Send(invite)
	carol.Expect(isInvite("open"))

	configure(t, alice, "open", "muc#roomconfig_allowinvites", "1")
	bob.Send(invite)
	if i := carol.Expect(isInvite("open")); mucUser(i, "invite").Attr("from") != "bob@"+testutil.Domain {
		t.Fatalf("invitation by a participant with allowinvites on: %s", i)
	}
	// An open room lists nobody as a member for being invited.
	r := adminIQ(alice, "open", "get", "<item affiliation='member'/>")
	if its := r.Child(muc.NSAdmin, "query").ChildrenNamed(muc.NSAdmin, "item"); len(its) != 0 {
		t.Fatalf("member list of an open room after invitations: %s", r)
	}
}
