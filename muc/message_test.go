package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestRoomGroupchat checks reflection (XEP-0045 §7.4): every occupant, the
// sender included, gets the message from the sender's occupant JID with
// its id and a stanza ID by the room (XEP-0359), in place of one the
// sender claimed the room gave.
func TestRoomGroupchat(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "talk", "Alice")
	join(t, bob, "talk", "Bob", "")
	join(t, carol, "talk", "Carol", "")

	bob.Sendf("<message to='%s' type='groupchat' id='m1'><body>hello all</body>"+
		"<stanza-id xmlns='%s' by='%s' id='forged'/><stanza-id xmlns='%s' by='elsewhere' id='kept'/>"+
		"<origin-id xmlns='%s' id='o1'/></message>",
		roomJID("talk"), muc.NSStanzaID, roomJID("talk"), muc.NSStanzaID, muc.NSStanzaID)
	var ids []string
	for _, c := range []*testutil.Client{alice, bob, carol} {
		m := c.Expect(isGroupchat(occ("talk", "Bob"), "hello all"))
		if m.ID() != "m1" || m.To() != c.JID {
			t.Errorf("%s: reflected message: %s", c.JID, m)
		}
		var byRoom []*stanza.Element
		for _, sid := range m.ChildrenNamed(muc.NSStanzaID, "stanza-id") {
			if sid.Attr("by") == roomJID("talk") {
				byRoom = append(byRoom, sid)
			}
		}
		if len(byRoom) != 1 || byRoom[0].Attr("id") == "forged" || byRoom[0].Attr("id") == "" {
			t.Errorf("%s: stanza IDs by the room: %s", c.JID, m)
		}
		if m.Child(muc.NSStanzaID, "origin-id") == nil || len(m.ChildrenNamed(muc.NSStanzaID, "stanza-id")) != 2 {
			t.Errorf("%s: other payload was not kept: %s", c.JID, m)
		}
		ids = append(ids, byRoom[0].Attr("id"))
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("occupants got different stanza IDs: %v", ids)
	}
	sendGroupchat(bob, "talk", "second")
	m := alice.Expect(isGroupchat(occ("talk", "Bob"), "second"))
	if sid := m.Child(muc.NSStanzaID, "stanza-id"); sid.Attr("id") == ids[0] {
		t.Errorf("two messages got the same stanza ID %s", ids[0])
	}

	outsider := user(t, srv, "dave")
	sendGroupchat(outsider, "talk", "let me in")
	if e := outsider.Expect(isError("message", roomJID("talk"))); testutil.ErrorCondition(e) != "not-acceptable" {
		t.Fatalf("groupchat from a non-occupant: %s", e)
	}
	outsider.Sendf("<message to='%s' type='groupchat'><body>x</body></message>", roomJID("nosuchroom"))
	if e := outsider.Expect(isError("message", roomJID("nosuchroom"))); testutil.ErrorCondition(e) != "item-not-found" {
		t.Fatalf("groupchat to an unknown room: %s", e)
	}
	bob.Sendf("<message to='%s' type='chat'><body>wrong type</body></message>", roomJID("talk"))
	if e := bob.Expect(isError("message", roomJID("talk"))); testutil.ErrorCondition(e) != "bad-request" {
		t.Fatalf("chat message to the room: %s", e)
	}
}

// TestRoomSubject checks subject changes (XEP-0045 §8.1): participants may
// change it unless the configuration says otherwise.
func TestRoomSubject(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	carol := user(t, srv, "carol")
	create(t, alice, "subj", "Alice")
	join(t, bob, "subj", "Bob", "")

	bob.Sendf("<message to='%s' type='groupchat'><subject>Bob's topic</subject></message>", roomJID("subj"))
	for _, c := range []*testutil.Client{alice, bob} {
		m := c.Expect(isSubject("subj"))
		if m.From() != occ("subj", "Bob") || m.ChildText("", "subject") != "Bob's topic" {
			t.Errorf("%s: subject change: %s", c.JID, m)
		}
	}
	configure(t, alice, "subj", "muc#roomconfig_changesubject", "0")
	bob.Sendf("<message to='%s' type='groupchat'><subject>Mine now</subject></message>", roomJID("subj"))
	if e := bob.Expect(isError("message", roomJID("subj"))); testutil.ErrorCondition(e) != "forbidden" {
		t.Fatalf("subject change by a participant when not allowed: %s", e)
	}
	alice.Sendf("<message to='%s' type='groupchat'><subject>Moderated topic</subject></message>", roomJID("subj"))
	alice.Expect(isSubject("subj"))
	// A message with a body and a subject is a message, not a change.
	bob.Sendf("<message to='%s' type='groupchat'><subject>Re: topic</subject><body>about that</body></message>", roomJID("subj"))
	alice.Expect(isGroupchat(occ("subj", "Bob"), "about that"))

	carol.Send(joinStanza("subj", "Carol", ""))
	m := carol.Expect(isSubject("subj"))
	if m.From() != occ("subj", "Alice") || m.ChildText("", "subject") != "Moderated topic" {
		t.Fatalf("subject sent to a new occupant: %s", m)
	}
}

// TestRoomPrivateMessages checks messages between occupants through the room
// (XEP-0045 §7.5).
func TestRoomPrivateMessages(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	dave := user(t, srv, "dave")
	create(t, alice, "pm", "Alice")
	join(t, bob, "pm", "Bob", "")

	alice.Sendf("<message to='%s' type='chat' id='p1'><body>psst</body></message>", occ("pm", "Bob"))
	m := bob.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.From() == occ("pm", "Alice") && el.ChildText("", "body") == "psst"
	})
	if m.Type() != "chat" || m.ID() != "p1" || m.Child(muc.NSUser, "x") == nil {
		t.Fatalf("private message: %s", m)
	}
	cases := []struct {
		name string
		c    *testutil.Client
		raw  string
		from string
		want string
	}{
		{"from a non-occupant", dave, fmt.Sprintf("<message to='%s' type='chat'><body>hi</body></message>", occ("pm", "Bob")), occ("pm", "Bob"), "not-acceptable"},
		{"to an unknown nick", alice, fmt.Sprintf("<message to='%s' type='chat'><body>hi</body></message>", occ("pm", "Nobody")), occ("pm", "Nobody"), "item-not-found"},
		{"groupchat to an occupant", alice, fmt.Sprintf("<message to='%s' type='groupchat'><body>hi</body></message>", occ("pm", "Bob")), occ("pm", "Bob"), "bad-request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.Send(c.raw)
			if e := c.c.Expect(isError("message", c.from)); testutil.ErrorCondition(e) != c.want {
				t.Fatalf("got %s, want %s", e, c.want)
			}
		})
	}
	t.Run("not allowed by the room", func(t *testing.T) {
		configure(t, alice, "pm", "muc#roomconfig_allowpm", "moderators")
		bob.Sendf("<message to='%s' type='chat'><body>hi</body></message>", occ("pm", "Alice"))
		if e := bob.Expect(isError("message", occ("pm", "Alice"))); testutil.ErrorCondition(e) != "forbidden" {
			t.Fatalf("got %s, want forbidden", e)
		}
		alice.Sendf("<message to='%s' type='chat'><body>moderators may</body></message>", occ("pm", "Bob"))
		bob.Expect(func(el *stanza.Element) bool { return el.ChildText("", "body") == "moderators may" })
	})
}

// TestRoomHistory checks the replay of recent messages to joining occupants
// with XEP-0203 delays, and the limits a join may ask for (XEP-0045
// §7.2.14).
func TestRoomHistory(t *testing.T) {
	srv := mucServer(t, "history_length = 5", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "hist", "Alice")
	for i := 1; i <= 7; i++ {
		sendGroupchat(alice, "hist", fmt.Sprint("message ", i))
		alice.Expect(isGroupchat(occ("hist", "Alice"), fmt.Sprint("message ", i)))
	}
	// A chat state alone is not history.
	alice.Sendf("<message to='%s' type='groupchat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", roomJID("hist"))
	alice.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.Child("http://jabber.org/protocol/chatstates", "composing") != nil
	})

	cases := []struct {
		name, x string
		want    []int
	}{
		{"default: the room's length", "", []int{3, 4, 5, 6, 7}},
		{"maxstanzas", "<history maxstanzas='2'/>", []int{6, 7}},
		{"maxstanzas zero", "<history maxstanzas='0'/>", nil},
		{"maxchars zero", "<history maxchars='0'/>", nil},
		{"seconds", "<history seconds='3600'/>", []int{3, 4, 5, 6, 7}},
		{"since the future", "<history since='2999-01-01T00:00:00Z'/>", nil},
		{"since the past and maxstanzas", "<history since='2000-01-01T00:00:00Z' maxstanzas='1'/>", []int{7}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bob.Drain()
			bob.Send(joinStanza("hist", "Bob", c.x))
			var got []int
			for {
				el := bob.Expect(anyFrom("hist"))
				if el.Child("", "subject") != nil {
					break
				}
				if el.Local != "message" {
					continue
				}
				d := el.Child(stanza.NSDelay, "delay")
				if d == nil || d.Attr("from") != roomJID("hist") || d.Attr("stamp") == "" || el.From() != occ("hist", "Alice") {
					t.Fatalf("history message without a delay from the room: %s", el)
				}
				var n int
				fmt.Sscanf(el.ChildText("", "body"), "message %d", &n)
				got = append(got, n)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("history %v, want %v", got, c.want)
			}
			bob.Sendf("<presence type='unavailable' to='%s'/>", occ("hist", "Bob"))
			bob.Expect(isUnavailable(occ("hist", "Bob")))
		})
	}
	t.Run("room length lowered", func(t *testing.T) {
		configure(t, alice, "hist", "muc#maxhistoryfetch", "1")
		bob.Drain()
		bob.Send(joinStanza("hist", "Bob", ""))
		bob.Expect(isGroupchat(occ("hist", "Alice"), "message 7"))
		bob.Expect(isSubject("hist"))
		bob.ExpectNone(isGroupchat(occ("hist", "Alice"), "message 6"), 50)
		if r := alice.IQ(configIQ("hist", "muc#maxhistoryfetch", "6")); testutil.ErrorCondition(r) != "not-acceptable" {
			t.Fatalf("history longer than the service's: %s", r)
		}
	})
}

// TestRoomHistoryKeepsStanzaID checks that a replayed message carries the
// XEP-0359 stanza ID the room gave it when it was reflected, once.
func TestRoomHistoryKeepsStanzaID(t *testing.T) {
	srv := mucServer(t, "history_length = 5", "history = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "ids", "Alice")
	sendGroupchat(alice, "ids", "remember me")
	m := alice.Expect(isGroupchat(occ("ids", "Alice"), "remember me"))
	sid := m.Child(muc.NSStanzaID, "stanza-id")
	if sid == nil || sid.Attr("id") == "" {
		t.Fatalf("reflected message without a stanza ID: %s", m)
	}
	bob.Send(joinStanza("ids", "Bob", ""))
	h := bob.Expect(isGroupchat(occ("ids", "Alice"), "remember me"))
	got := h.ChildrenNamed(muc.NSStanzaID, "stanza-id")
	if len(got) != 1 || got[0].Attr("id") != sid.Attr("id") || got[0].Attr("by") != roomJID("ids") {
		t.Fatalf("replayed message's stanza IDs: %s, want the one of %s", h, m)
	}
	if h.Child(stanza.NSDelay, "delay") == nil || h.To() != bob.JID {
		t.Fatalf("replayed message: %s", h)
	}
}

// TestRoomVisitorSubject checks that a visitor of a moderated room may
// not change the subject even when participants may (XEP-0045 §8.1):
// forbidden, and the subject stays.
func TestRoomVisitorSubject(t *testing.T) {
	srv := mucServer(t, "", "moderated = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "podium", "Alice")
	alice.Sendf("<message to='%s' type='groupchat'><subject>Agenda</subject></message>", roomJID("podium"))
	alice.Expect(isSubject("podium"))
	join(t, bob, "podium", "Bob", "")
	bob.Sendf("<message to='%s' type='groupchat'><subject>Mine</subject></message>", roomJID("podium"))
	if e := bob.Expect(isError("message", roomJID("podium"))); testutil.ErrorCondition(e) != "forbidden" {
		t.Fatalf("subject change by a visitor: %s", e)
	}
	alice.ExpectNone(isSubject("podium"), quiet)
	r := alice.IQ(discoIQ(roomJID("podium"), muc.NSDiscoInfo))
	for _, x := range r.Child(muc.NSDiscoInfo, "query").ChildrenNamed("jabber:x:data", "x") {
		for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
			if f.Attr("var") == "muc#roominfo_subject" && f.ChildText("jabber:x:data", "value") != "Agenda" {
				t.Fatalf("the subject changed: %s", r)
			}
		}
	}
}
