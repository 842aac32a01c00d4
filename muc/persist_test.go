package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestPersistentRoomSurvivesRestart checks that a persistent room keeps
// its configuration, affiliations, subject and logged history across a
// restart, and that a temporary room does not.
func TestPersistentRoomSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	extra := mucConfig("", "")
	srv := testutil.StartServerIn(t, dir, extra)
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	srv.AddUser("carol", "carol-pw")

	create(t, alice, "keep", "Alice")
	configure(t, alice, "keep", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_roomname", "Kept",
		"muc#roomconfig_membersonly", "1", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "pw")
	adminIQ(alice, "keep", "set", "<item affiliation='member' jid='bob"+dom+"'/><item affiliation='outcast' jid='carol"+dom+"'><reason>no</reason></item>")
	alice.Sendf("<message to='%s' type='groupchat'><subject>Kept topic</subject></message>", roomJID("keep"))
	alice.Expect(isSubject("keep"))
	for i := 1; i <= 3; i++ {
		sendGroupchat(alice, "keep", fmt.Sprint("kept ", i))
		alice.Expect(isGroupchat(occ("keep", "Alice"), fmt.Sprint("kept ", i)))
	}
	create(t, alice, "fleeting", "Alice")
	alice.Close()
	bob.Close()
	srv.Stop()

	srv = testutil.StartServerIn(t, dir, extra)
	alice = login(t, srv, "alice", "pc")
	bob = login(t, srv, "bob", "pc")
	carol := login(t, srv, "carol", "pc")

	got := items(bob.IQ(discoIQ(service, muc.NSDiscoItems)))
	if want := map[string]string{roomJID("keep"): "Kept (0)"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rooms after the restart: %v, want %v", got, want)
	}
	if got := joinError(t, carol, "keep", "Carol", "<password>pw</password>"); got != "forbidden" {
		t.Fatalf("the ban did not survive: %s", got)
	}
	if got := joinError(t, bob, "keep", "Bob", ""); got != "not-authorized" {
		t.Fatalf("the password did not survive: %s", got)
	}
	bob.Send(joinStanza("keep", "Bob", "<password>pw</password>"))
	self := bob.Expect(isPresence(occ("keep", "Bob")))
	if hasStatus(self, muc.StatusCreated) || item(t, self).Attr("affiliation") != "member" || !hasStatus(self, muc.StatusLogged) {
		t.Fatalf("bob's self-presence after the restart: %s", self)
	}
	for i := 1; i <= 3; i++ {
		m := bob.Expect(isGroupchat(occ("keep", "Alice"), fmt.Sprint("kept ", i)))
		if m.Child(stanza.NSDelay, "delay") == nil || m.Child(muc.NSStanzaID, "stanza-id") == nil {
			t.Fatalf("stored history message: %s", m)
		}
	}
	if s := bob.Expect(isSubject("keep")); s.ChildText("", "subject") != "Kept topic" || s.From() != occ("keep", "Alice") {
		t.Fatalf("subject after the restart: %s", s)
	}
	p := join(t, alice, "keep", "Alice", "<password>pw</password>")
	if item(t, p).Attr("affiliation") != "owner" {
		t.Fatalf("alice's affiliation after the restart: %s", p)
	}
	if self := join(t, alice, "fleeting", "Alice", ""); !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("a temporary room survived the restart: %s", self)
	}

	// Destroying the persistent room removes it from storage too.
	alice.IQ("<iq type='set' to='" + roomJID("keep") + "'><query xmlns='" + muc.NSOwner + "'><destroy/></query></iq>")
	alice.Close()
	bob.Close()
	carol.Close()
	srv.Stop()
	srv = testutil.StartServerIn(t, dir, extra)
	bob = login(t, srv, "bob", "pc")
	if got := items(bob.IQ(discoIQ(service, muc.NSDiscoItems))); len(got) != 0 {
		t.Fatalf("rooms after destroying the only persistent one: %v", got)
	}
}

// TestPersistentRoomOutlivesOccupants checks that a persistent room stays
// when its last occupant leaves, with its configuration, subject and
// history, while a temporary one vanishes.
func TestPersistentRoomOutlivesOccupants(t *testing.T) {
	srv := mucServer(t, "", "history = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "stays", "Alice")
	configure(t, alice, "stays", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_roomname", "Stays")
	alice.Sendf("<message to='%s' type='groupchat'><subject>Still here</subject></message>", roomJID("stays"))
	alice.Expect(isSubject("stays"))
	sendGroupchat(alice, "stays", "for later")
	alice.Expect(isGroupchat(occ("stays", "Alice"), "for later"))
	alice.Sendf("<presence type='unavailable' to='%s'/>", occ("stays", "Alice"))
	alice.Expect(isUnavailable(occ("stays", "Alice")))

	if got := items(bob.IQ(discoIQ(service, muc.NSDiscoItems))); got[roomJID("stays")] != "Stays (0)" {
		t.Fatalf("rooms after the last occupant left: %v", got)
	}
	bob.Send(joinStanza("stays", "Bob", ""))
	self := bob.Expect(isPresence(occ("stays", "Bob")))
	if hasStatus(self, muc.StatusCreated) || item(t, self).Attr("affiliation") != "none" {
		t.Fatalf("joining the empty persistent room: %s", self)
	}
	bob.Expect(isGroupchat(occ("stays", "Alice"), "for later"))
	if s := bob.Expect(isSubject("stays")); s.ChildText("", "subject") != "Still here" {
		t.Fatalf("subject: %s", s)
	}
	// Made temporary, it goes with its last occupant.
	configure(t, alice, "stays", "muc#roomconfig_persistentroom", "0")
	bob.Sendf("<presence type='unavailable' to='%s'/>", occ("stays", "Bob"))
	bob.Expect(isUnavailable(occ("stays", "Bob")))
	if self := join(t, bob, "stays", "Bob", ""); !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("the room made temporary survived its last occupant: %s", self)
	}
}
