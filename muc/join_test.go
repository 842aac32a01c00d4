package muc_test

import (
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestRoomJoinSequence checks what a joining occupant receives, in order
// (XEP-0045 §7.2): the others' presence, its self-presence with 110 (and
// 100 in a non-anonymous room, 170 in a logged one), the history, then the
// subject; and the others learn of it.
func TestRoomJoinSequence(t *testing.T) {
	srv := mucServer(t, "", "persistent = true\nanonymity = \"non\"")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "seq", "Alice")
	join(t, bob, "seq", "Bob", "")
	sendGroupchat(alice, "seq", "before carol")
	alice.Expect(isGroupchat(occ("seq", "Alice"), "before carol"))
	alice.Sendf("<message to='%s' type='groupchat'><subject>Tea time</subject></message>", roomJID("seq"))
	alice.Expect(isSubject("seq"))

	carol.Drain()
	carol.Send(joinStanza("seq", "Carol", ""))
	var got []*stanza.Element
	for {
		el := carol.Expect(anyFrom("seq"))
		got = append(got, el)
		if el.Child("", "subject") != nil {
			break
		}
	}
	var kinds []string
	for _, el := range got {
		switch {
		case el.Local == "presence" && hasStatus(el, muc.StatusSelf):
			kinds = append(kinds, "self")
		case el.Local == "presence":
			kinds = append(kinds, "presence "+el.From()[strings.IndexByte(el.From(), '/')+1:])
		case el.Child("", "subject") != nil:
			kinds = append(kinds, "subject "+el.ChildText("", "subject"))
		case el.Child("", "body") != nil:
			kinds = append(kinds, "history "+el.ChildText("", "body"))
		}
	}
	want := []string{"presence Alice", "presence Bob", "self", "history before carol", "subject Tea time"}
	if strings.Join(kinds, ", ") != strings.Join(want, ", ") {
		t.Fatalf("join sequence: %q, want %q", kinds, want)
	}
	self := got[2]
	for _, code := range []int{muc.StatusSelf, muc.StatusNonAnonymous, muc.StatusLogged} {
		if !hasStatus(self, code) {
			t.Errorf("self-presence lacks status %d: %s", code, self)
		}
	}
	if it := item(t, got[0]); it.Attr("jid") != alice.JID || it.Attr("affiliation") != "owner" {
		t.Errorf("in a non-anonymous room, alice's item: %s", it)
	}
	if got[4].From() != occ("seq", "Alice") {
		t.Errorf("the subject comes from %s, want the occupant who set it", got[4].From())
	}
	// The others learn of carol, with her real JID in a non-anonymous room.
	p := bob.Expect(isPresence(occ("seq", "Carol")))
	if item(t, p).Attr("jid") != carol.JID || hasStatus(p, muc.StatusSelf) {
		t.Errorf("carol's presence to bob: %s", p)
	}
}

// TestRoomSemiAnonymous checks that only moderators see real JIDs in a
// semi-anonymous room, and that the subject of a room without one is
// empty and from the room.
func TestRoomSemiAnonymous(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "anon", "Alice")
	bob.Send(joinStanza("anon", "Bob", ""))
	p := bob.Expect(isPresence(occ("anon", "Alice")))
	if item(t, p).HasAttr("jid") {
		t.Errorf("a participant saw the owner's real JID: %s", p)
	}
	self := bob.Expect(isPresence(occ("anon", "Bob")))
	if hasStatus(self, muc.StatusNonAnonymous) {
		t.Errorf("100 in a semi-anonymous room: %s", self)
	}
	subj := bob.Expect(isSubject("anon"))
	if subj.From() != roomJID("anon") || subj.ChildText("", "subject") != "" {
		t.Errorf("the subject of a room without one: %s", subj)
	}
	if p := alice.Expect(isPresence(occ("anon", "Bob"))); item(t, p).Attr("jid") != bob.JID {
		t.Errorf("the moderator did not see bob's real JID: %s", p)
	}
	join(t, carol, "anon", "Carol", "")
	if p := bob.Expect(isPresence(occ("anon", "Carol"))); item(t, p).HasAttr("jid") {
		t.Errorf("a participant saw carol's real JID: %s", p)
	}
}

// TestRoomJoinErrors checks each reason to refuse entry (XEP-0045 §7.2).
func TestRoomJoinErrors(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "locked", "Alice")
	configure(t, alice, "locked", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "pw")
	create(t, alice, "members", "Alice")
	configure(t, alice, "members", "muc#roomconfig_membersonly", "1")
	create(t, alice, "banned", "Alice")
	if r := adminIQ(alice, "banned", "set", "<item affiliation='outcast' jid='bob@"+testutil.Domain+"'/>"); r.Type() != "result" {
		t.Fatalf("ban: %s", r)
	}
	create(t, alice, "small", "Alice")
	configure(t, alice, "small", "muc#roomconfig_maxusers", "1")
	create(t, alice, "busy", "Alice")

	cases := []struct {
		name, room, nick, x, want string
	}{
		{"wrong password", "locked", "Bob", "<password>guess</password>", "not-authorized"},
		{"no password", "locked", "Bob", "", "not-authorized"},
		{"members only", "members", "Bob", "", "registration-required"},
		{"banned", "banned", "Bob", "", "forbidden"},
		{"full", "small", "Bob", "", "service-unavailable"},
		{"nick in use", "busy", "Alice", "", "conflict"},
		{"white space nick", "busy", " ", "", "not-acceptable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := joinError(t, bob, c.room, c.nick, c.x); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	t.Run("no nick", func(t *testing.T) {
		bob.Sendf("<presence to='%s'><x xmlns='%s'/></presence>", roomJID("busy"), muc.NS)
		p := bob.Expect(isError("presence", roomJID("busy")))
		if got := testutil.ErrorCondition(p); got != "jid-malformed" {
			t.Fatalf("got %s, want jid-malformed", got)
		}
	})
	t.Run("no nick, unknown room", func(t *testing.T) {
		bob.Sendf("<presence to='%s'><x xmlns='%s'/></presence>", roomJID("nowhere"), muc.NS)
		p := bob.Expect(isError("presence", roomJID("nowhere")))
		if got := testutil.ErrorCondition(p); got != "jid-malformed" {
			t.Fatalf("got %s, want jid-malformed", got)
		}
	})
	t.Run("right password", func(t *testing.T) {
		join(t, bob, "locked", "Bob", "<password>pw</password>")
		// The others never see the password the join carried.
		if p := alice.Expect(isPresence(occ("locked", "Bob"))); p.Child(muc.NS, "x") != nil || strings.Contains(p.String(), "pw<") {
			t.Fatalf("bob's presence to the owner: %s", p)
		}
	})
	t.Run("owners enter full rooms", func(t *testing.T) {
		alice2 := login(t, srv, "alice", "phone")
		join(t, alice2, "small", "Alice2", "")
	})
}

// TestRoomNickChange renames an occupant (XEP-0045 §7.6) and refuses a nick
// in use.
func TestRoomNickChange(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "nicks", "Alice")
	join(t, bob, "nicks", "Bob", "")
	alice.Expect(isPresence(occ("nicks", "Bob")))

	bob.Sendf("<presence to='%s'/>", occ("nicks", "Alice"))
	if p := bob.Expect(isError("presence", occ("nicks", "Alice"))); testutil.ErrorCondition(p) != "conflict" {
		t.Fatalf("renaming to a nick in use: %s", p)
	}
	bob.Sendf("<presence to='%s'><status>renamed</status></presence>", occ("nicks", "Robert"))
	for _, c := range []*testutil.Client{alice, bob} {
		gone := c.Expect(isUnavailable(occ("nicks", "Bob")))
		if !hasStatus(gone, muc.StatusNickChanged) || item(t, gone).Attr("nick") != "Robert" || item(t, gone).Attr("role") != "participant" {
			t.Errorf("%s: unavailable presence of the old nick: %s", c.JID, gone)
		}
		if self := hasStatus(gone, muc.StatusSelf); self != (c == bob) {
			t.Errorf("%s: status 110 = %v: %s", c.JID, self, gone)
		}
		p := c.Expect(isPresence(occ("nicks", "Robert")))
		if p.ChildText("", "status") != "renamed" {
			t.Errorf("%s: presence of the new nick: %s", c.JID, p)
		}
	}
	sendGroupchat(bob, "nicks", "still me")
	alice.Expect(isGroupchat(occ("nicks", "Robert"), "still me"))
}

// TestRoomLeave checks leaving (XEP-0045 §7.14): unavailable presence with 110
// to the leaver, without to the others; a temporary room vanishes with
// its last occupant.
func TestRoomLeave(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "brief", "Alice")
	join(t, bob, "brief", "Bob", "")
	alice.Expect(isPresence(occ("brief", "Bob")))

	bob.Sendf("<presence type='unavailable' to='%s'><status>bye</status></presence>", occ("brief", "Bob"))
	self := bob.Expect(isUnavailable(occ("brief", "Bob")))
	if !hasStatus(self, muc.StatusSelf) || item(t, self).Attr("role") != "none" {
		t.Fatalf("leaver's unavailable presence: %s", self)
	}
	p := alice.Expect(isUnavailable(occ("brief", "Bob")))
	if hasStatus(p, muc.StatusSelf) || p.ChildText("", "status") != "bye" {
		t.Fatalf("others' unavailable presence: %s", p)
	}
	sendGroupchat(bob, "brief", "am I still here?")
	if e := bob.Expect(isError("message", roomJID("brief"))); testutil.ErrorCondition(e) != "not-acceptable" {
		t.Fatalf("message from a non-occupant: %s", e)
	}
	alice.Sendf("<presence type='unavailable' to='%s'/>", occ("brief", "Alice"))
	alice.Expect(isUnavailable(occ("brief", "Alice")))
	// The room is gone: joining creates it afresh.
	if self := join(t, bob, "brief", "Bob", ""); !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("the temporary room survived its last occupant: %s", self)
	}
}

// TestRoomSessionEnd checks that occupants whose session ends leave: through
// the unavailable presence the server sends for them, and through the
// router's unbind hook when the stream just vanishes.
func TestRoomSessionEnd(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	create(t, alice, "gone", "Alice")
	for _, how := range []string{"closed stream", "broken connection"} {
		t.Run(how, func(t *testing.T) {
			srv.AddUser("bob-"+strings.Fields(how)[0], "x")
			bob := testutil.Login(t, srv.Addr, "bob-"+strings.Fields(how)[0], "x", "pc")
			join(t, bob, "gone", "Bob", "")
			alice.Expect(isPresence(occ("gone", "Bob")))
			if how == "closed stream" {
				bob.Close()
			} else {
				bob.Conn.Close()
			}
			p := alice.Expect(isUnavailable(occ("gone", "Bob")))
			if item(t, p).Attr("role") != "none" {
				t.Fatalf("unavailable presence: %s", p)
			}
		})
	}
}

// TestRoomBouncedOccupantRemoved checks XEP-0045 §18.1.2: an occupant for
// whom the room's traffic comes back with an error of type cancel saying
// it cannot be reached is removed, with status 307 and 333.
func TestRoomBouncedOccupantRemoved(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "errs", "Alice")
	join(t, bob, "errs", "Bob", "")
	alice.Expect(isPresence(occ("errs", "Bob")))
	// An iq error is an answer, not a reason to remove anyone.
	bob.Sendf("<iq type='error' id='x' to='%s'><error type='cancel'><service-unavailable xmlns='%s'/></error></iq>", occ("errs", "Alice"), stanza.NSStanzas)
	alice.ExpectNone(isUnavailable(occ("errs", "Bob")), quiet)
	// Nor is a client refusing one message, nor a temporary failure.
	bob.Sendf("<message type='error' to='%s'><error type='cancel'><not-acceptable xmlns='%s'/></error></message>", occ("errs", "Alice"), stanza.NSStanzas)
	bob.Sendf("<message type='error' to='%s'><error type='wait'><remote-server-timeout xmlns='%s'/></error></message>", occ("errs", "Alice"), stanza.NSStanzas)
	alice.ExpectNone(isUnavailable(occ("errs", "Bob")), quiet)
	bob.Sendf("<message type='error' to='%s'><error type='cancel'><service-unavailable xmlns='%s'/></error></message>", occ("errs", "Alice"), stanza.NSStanzas)
	p := alice.Expect(isUnavailable(occ("errs", "Bob")))
	if !hasStatus(p, muc.StatusKicked) || !hasStatus(p, 333) {
		t.Fatalf("removal presence: %s", p)
	}
}

// TestRoomRejoin checks that a join presence from an occupant (a client that
// lost track of the room) sends it the room's state again.
func TestRoomRejoin(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "again", "Alice")
	join(t, bob, "again", "Bob", "")
	alice.Drain()
	bob.Send(joinStanza("again", "Bob", ""))
	bob.Expect(isPresence(occ("again", "Alice")))
	if self := bob.Expect(isPresence(occ("again", "Bob"))); !hasStatus(self, muc.StatusSelf) {
		t.Fatalf("self-presence: %s", self)
	}
	bob.Expect(isSubject("again"))
	alice.ExpectNone(func(el *stanza.Element) bool { return el.Local == "presence" && el.Type() == "unavailable" }, 100*time.Millisecond)
}

// TestRoomNickModifiedByService checks status 210 (XEP-0045 §7.2): a
// nick the service normalizes (here a decomposed é, which PRECIS
// composes) is reported back with 210, on entering and on renaming, and
// the room uses the normalized form.
func TestRoomNickModifiedByService(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "norm", "Alice")

	const sent, normal = "Rene\u0301", "Ren\u00e9"
	bob.Send(joinStanza("norm", sent, ""))
	self := bob.Expect(isPresence(occ("norm", normal)))
	if !hasStatus(self, muc.StatusSelf) || !hasStatus(self, muc.StatusNickModified) {
		t.Fatalf("self-presence for a normalized nick lacks 110 or 210: %s", self)
	}
	bob.Expect(isSubject("norm"))
	if p := alice.Expect(isPresence(occ("norm", normal))); hasStatus(p, muc.StatusNickModified) {
		t.Errorf("210 sent to another occupant: %s", p)
	}
	// A nick used as sent gets no 210.
	bob.Sendf("<presence to='%s'/>", occ("norm", "Bob"))
	bob.Expect(isUnavailable(occ("norm", normal)))
	if p := bob.Expect(isPresence(occ("norm", "Bob"))); hasStatus(p, muc.StatusNickModified) || !hasStatus(p, muc.StatusSelf) {
		t.Fatalf("presence of a new nick used as sent: %s", p)
	}
	// Renaming to a nick the service changes gets 210 again.
	bob.Sendf("<presence to='%s'/>", occ("norm", sent))
	bob.Expect(isUnavailable(occ("norm", "Bob")))
	if p := bob.Expect(isPresence(occ("norm", normal))); !hasStatus(p, muc.StatusNickModified) || !hasStatus(p, muc.StatusSelf) {
		t.Fatalf("presence of a renamed, normalized nick: %s", p)
	}
}

// TestRoomPresenceUpdate checks that an occupant's new show and status go
// to every occupant from its occupant JID (XEP-0045 §7.7), with 110 to
// itself and its real JID only to moderators of a semi-anonymous room.
func TestRoomPresenceUpdate(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "moods", "Alice")
	join(t, bob, "moods", "Bob", "")
	join(t, carol, "moods", "Carol", "")
	bob.Drain()

	carol.Sendf("<presence to='%s'><show>away</show><status>lunch</status></presence>", occ("moods", "Carol"))
	for _, c := range []*testutil.Client{alice, bob, carol} {
		p := c.Expect(func(el *stanza.Element) bool {
			return isPresence(occ("moods", "Carol"))(el) && el.ChildText("", "show") == "away"
		})
		it := item(t, p)
		if p.ChildText("", "status") != "lunch" || it.Attr("role") != "participant" || p.Child(muc.NS, "x") != nil {
			t.Errorf("%s: presence update: %s", c.JID, p)
		}
		if hasStatus(p, muc.StatusSelf) != (c == carol) {
			t.Errorf("%s: 110 on the presence update: %s", c.JID, p)
		}
		if sees := c != bob; it.HasAttr("jid") != sees {
			t.Errorf("%s: real JID shown = %v, want %v: %s", c.JID, it.HasAttr("jid"), sees, p)
		}
	}
	// The room remembers it for those who enter later.
	dave := user(t, srv, "dave")
	dave.Send(joinStanza("moods", "Dave", ""))
	if p := dave.Expect(isPresence(occ("moods", "Carol"))); p.ChildText("", "show") != "away" {
		t.Fatalf("carol's presence to a new occupant: %s", p)
	}
}

// TestRoomSameUserTwoSessions checks the decision on several sessions of
// one account (XEP-0045 §7.2 lets a service allow multi-session nicks):
// each session is an occupant of its own, so a second session
// asking for the nick of the first gets conflict, on entering and on
// renaming, while another nick is fine.
func TestRoomSameUserTwoSessions(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "twice", "Alice")
	join(t, bob, "twice", "Bob", "")
	phone := login(t, srv, "alice", "phone")

	if got := joinError(t, phone, "twice", "Alice", ""); got != "conflict" {
		t.Fatalf("second session with the same nick: %s, want conflict", got)
	}
	self := join(t, phone, "twice", "AlicePhone", "")
	if it := item(t, self); it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" {
		t.Fatalf("the second session's item: %s", it)
	}
	phone.Sendf("<presence to='%s'/>", occ("twice", "Alice"))
	if p := phone.Expect(isError("presence", occ("twice", "Alice"))); testutil.ErrorCondition(p) != "conflict" {
		t.Fatalf("renaming to the nick of one's other session: %s", p)
	}
	// Each session is addressed and leaves on its own.
	sendGroupchat(bob, "twice", "to both")
	alice.Expect(isGroupchat(occ("twice", "Bob"), "to both"))
	phone.Expect(isGroupchat(occ("twice", "Bob"), "to both"))
	phone.Sendf("<presence type='unavailable' to='%s'/>", occ("twice", "AlicePhone"))
	bob.Expect(isUnavailable(occ("twice", "AlicePhone")))
	bob.ExpectNone(isUnavailable(occ("twice", "Alice")), quiet)
}

// TestRoomBouncedPresenceRemovesOccupant checks XEP-0045 §18.1.2 for
// presence: an error the room's presence draws from an occupant's real
// JID removes it when it says the occupant cannot be reached.
func TestRoomBouncedPresenceRemovesOccupant(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "perr", "Alice")
	join(t, bob, "perr", "Bob", "")
	alice.Expect(isPresence(occ("perr", "Bob")))
	bob.Sendf("<presence type='error' to='%s'><error type='cancel'><remote-server-not-found xmlns='%s'/></error></presence>", occ("perr", "Alice"), stanza.NSStanzas)
	p := alice.Expect(isUnavailable(occ("perr", "Bob")))
	if !hasStatus(p, muc.StatusKicked) || !hasStatus(p, muc.StatusRemovedOnError) || item(t, p).Attr("role") != "none" {
		t.Fatalf("removal presence: %s", p)
	}
	sendGroupchat(bob, "perr", "still here?")
	if e := bob.Expect(isError("message", roomJID("perr"))); testutil.ErrorCondition(e) != "not-acceptable" {
		t.Fatalf("message from the removed occupant: %s", e)
	}
}
