package muc_test

import (
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestInstantRoom creates a room: the creator owns it and gets status
// 201; the room stays locked (others get item-not-found) until the owner
// accepts the default configuration with an empty form (XEP-0045 §10.1.2).
func TestInstantRoom(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")

	self := join(t, alice, "tea", "Alice", "")
	if !hasStatus(self, muc.StatusCreated) || !hasStatus(self, muc.StatusSelf) {
		t.Fatalf("creator's self-presence lacks 201 or 110: %s", self)
	}
	if it := item(t, self); it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" {
		t.Fatalf("creator's item: %s", it)
	}
	if got := joinError(t, bob, "tea", "Bob", ""); got != "item-not-found" {
		t.Fatalf("joining a locked room: %s, want item-not-found", got)
	}
	if r := bob.IQ("<iq type='get' to='" + roomJID("tea") + "'><query xmlns='" + muc.NSDiscoInfo + "'/></iq>"); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("disco#info of a locked room by a stranger: %s", r)
	}
	configure(t, alice, "tea")
	bobSelf := join(t, bob, "tea", "Bob", "")
	if hasStatus(bobSelf, muc.StatusCreated) {
		t.Fatalf("second occupant got 201: %s", bobSelf)
	}
	if it := item(t, bobSelf); it.Attr("affiliation") != "none" || it.Attr("role") != "participant" {
		t.Fatalf("bob's item: %s", it)
	}
	alice.Expect(isPresence(occ("tea", "Bob")))
}

// TestReservedRoom has the owner fetch the configuration form, check it
// and submit a configuration before anyone else may enter (XEP-0045
// §10.1.3).
func TestReservedRoom(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	join(t, alice, "plans", "Alice", "")

	r := alice.IQ("<iq type='get' to='" + roomJID("plans") + "'><query xmlns='" + muc.NSOwner + "'/></iq>")
	x := r.Child(muc.NSOwner, "query").Child("jabber:x:data", "x")
	if r.Type() != "result" || x == nil || x.Attr("type") != "form" {
		t.Fatalf("configuration form: %s", r)
	}
	fields := map[string]bool{}
	for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
		fields[f.Attr("var")] = true
	}
	for _, want := range []string{"FORM_TYPE", "muc#roomconfig_roomname", "muc#roomconfig_roomdesc",
		"muc#roomconfig_persistentroom", "muc#roomconfig_publicroom", "muc#roomconfig_membersonly",
		"muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret", "muc#roomconfig_moderatedroom",
		"muc#roomconfig_whois", "muc#roomconfig_maxusers", "muc#roomconfig_changesubject",
		"muc#roomconfig_allowinvites", "muc#roomconfig_allowpm", "muc#roomconfig_enablelogging", "muc#maxhistoryfetch"} {
		if !fields[want] {
			t.Errorf("the form lacks %s", want)
		}
	}
	if r := bob.IQ("<iq type='get' to='" + roomJID("plans") + "'><query xmlns='" + muc.NSOwner + "'/></iq>"); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("a stranger asked a locked room for its form: %s", r)
	}
	configure(t, alice, "plans",
		"muc#roomconfig_roomname", "Plans",
		"muc#roomconfig_roomdesc", "Where we plan",
		"muc#roomconfig_whois", "anyone",
		"muc#roomconfig_passwordprotectedroom", "1",
		"muc#roomconfig_roomsecret", "s3cret")
	self := join(t, bob, "plans", "Bob", "<password>s3cret</password>")
	if !hasStatus(self, muc.StatusNonAnonymous) {
		t.Fatalf("self-presence in a non-anonymous room lacks 100: %s", self)
	}
	if r := bob.IQ("<iq type='get' to='" + roomJID("plans") + "'><query xmlns='" + muc.NSOwner + "'/></iq>"); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a non-owner asked for the form: %s", r)
	}
	// A bad submission changes nothing.
	if r := alice.IQ(configIQ("plans", "muc#roomconfig_maxusers", "many")); testutil.ErrorCondition(r) != "not-acceptable" {
		t.Fatalf("bad maxusers: %s", r)
	}
}

// TestCancelInitialConfiguration destroys a new room whose owner cancels
// its configuration (XEP-0045 §10.1.3).
func TestCancelInitialConfiguration(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	join(t, alice, "oops", "Alice", "")
	r := alice.IQ("<iq type='set' to='" + roomJID("oops") + "'><query xmlns='" + muc.NSOwner + "'><x xmlns='jabber:x:data' type='cancel'/></query></iq>")
	if r.Type() != "result" {
		t.Fatalf("cancel: %s", r)
	}
	alice.Expect(func(el *stanza.Element) bool {
		return isUnavailable(occ("oops", "Alice"))(el) && mucUser(el, "destroy") != nil
	})
	if self := join(t, alice, "oops", "Alice", ""); !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("the cancelled room still existed: %s", self)
	}
}

// TestRoomLocking covers when new rooms are not locked: with lock_new_rooms
// off, and for clients that do not signal MUC support.
func TestRoomLocking(t *testing.T) {
	cases := []struct {
		name, keys string
		joinRaw    string // the creator's join
	}{
		{"lock_new_rooms off", "lock_new_rooms = false", joinStanza("open", "Alice", "")},
		{"client without MUC support", "", "<presence to='" + occ("open", "Alice") + "'/>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := mucServer(t, c.keys, "")
			alice := user(t, srv, "alice")
			bob := user(t, srv, "bob")
			alice.Send(c.joinRaw)
			self := alice.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == occ("open", "Alice") })
			if !hasStatus(self, muc.StatusCreated) {
				t.Fatalf("self-presence: %s", self)
			}
			join(t, bob, "open", "Bob", "")
		})
	}
}

// TestRoomCreatePolicy checks who may create rooms and how many.
func TestRoomCreatePolicy(t *testing.T) {
	t.Run("admins only", func(t *testing.T) {
		srv := mucServer(t, `create = "admins"`+"\nadmins = [\"boss@"+testutil.Domain+"\"]", "")
		alice := user(t, srv, "alice")
		boss := user(t, srv, "boss")
		if got := joinError(t, alice, "new", "Alice", ""); got != "not-allowed" {
			t.Fatalf("a user created a room under create = admins: %s", got)
		}
		create(t, boss, "new", "Boss")
		join(t, alice, "new", "Alice", "")
	})
	t.Run("max rooms per user", func(t *testing.T) {
		srv := mucServer(t, "max_rooms_per_user = 2", "")
		alice := user(t, srv, "alice")
		create(t, alice, "r1", "Alice")
		create(t, alice, "r2", "Alice")
		if got := joinError(t, alice, "r3", "Alice", ""); got != "not-allowed" {
			t.Fatalf("third room: %s, want not-allowed", got)
		}
		// Leaving a temporary room makes it vanish, which frees a slot.
		alice.Sendf("<presence type='unavailable' to='%s'/>", occ("r1", "Alice"))
		alice.Expect(isUnavailable(occ("r1", "Alice")))
		create(t, alice, "r3", "Alice")
	})
}
