package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

func discoIQ(to, ns string) string {
	return fmt.Sprintf("<iq type='get' to='%s'><query xmlns='%s'/></iq>", to, ns)
}

// features returns the disco#info features of a result.
func features(r *stanza.Element) map[string]bool {
	out := map[string]bool{}
	for _, f := range r.Child(muc.NSDiscoInfo, "query").ChildrenNamed(muc.NSDiscoInfo, "feature") {
		out[f.Attr("var")] = true
	}
	return out
}

// items returns jid -> name of a disco#items result.
func items(r *stanza.Element) map[string]string {
	out := map[string]string{}
	for _, it := range r.Child(muc.NSDiscoItems, "query").ChildrenNamed(muc.NSDiscoItems, "item") {
		out[it.Attr("jid")] = it.Attr("name")
	}
	return out
}

// TestMUCServiceDisco checks that the server lists the service, which
// describes itself (XEP-0045 §6.1) and lists its public rooms with their
// occupant counts (§6.3).
func TestMUCServiceDisco(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")

	r := alice.IQ(discoIQ(testutil.Domain, muc.NSDiscoItems))
	if _, ok := items(r)[service]; !ok {
		t.Fatalf("the server's disco#items does not list %s: %s", service, r)
	}
	r = alice.IQ(discoIQ(service, muc.NSDiscoInfo))
	id := r.Child(muc.NSDiscoInfo, "query").Child(muc.NSDiscoInfo, "identity")
	if id == nil || id.Attr("category") != "conference" || id.Attr("type") != "text" || !features(r)[muc.NS] {
		t.Fatalf("service disco#info: %s", r)
	}

	create(t, alice, "lobby", "Alice")
	configure(t, alice, "lobby", "muc#roomconfig_roomname", "The Lobby")
	join(t, bob, "lobby", "Bob", "")
	create(t, alice, "secret", "Alice")
	configure(t, alice, "secret", "muc#roomconfig_publicroom", "0")
	join(t, alice, "unconfigured", "Alice", "") // locked: not listed

	got := items(bob.IQ(discoIQ(service, muc.NSDiscoItems)))
	want := map[string]string{roomJID("lobby"): "The Lobby (2)"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("public rooms: %v, want %v", got, want)
	}
	if r := bob.IQ("<iq type='get' to='" + service + "'><query xmlns='jabber:iq:version'/></iq>"); testutil.ErrorCondition(r) != "service-unavailable" {
		t.Fatalf("unsupported query to the service: %s", r)
	}
	if r := bob.IQ(discoIQ(roomJID("nowhere"), muc.NSDiscoInfo)); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("disco#info of an unknown room: %s", r)
	}
}

// TestRoomDisco checks a room's disco#info (XEP-0045 §6.4): features for
// its configuration and the muc#roominfo form; and its disco#items
// (§6.5): occupants only for occupants of a non-anonymous room.
func TestRoomDisco(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	dave := user(t, srv, "dave")
	create(t, alice, "info", "Alice")
	alice.Sendf("<message to='%s' type='groupchat'><subject>All about info</subject></message>", roomJID("info"))
	join(t, bob, "info", "Bob", "")
	configure(t, alice, "info", "muc#roomconfig_roomdesc", "Informative")

	check := func(t *testing.T, occupants string, want []string) {
		t.Helper()
		r := dave.IQ(discoIQ(roomJID("info"), muc.NSDiscoInfo))
		f := features(r)
		for _, w := range append(want, muc.NS, muc.NSStanzaID) {
			if !f[w] {
				t.Errorf("feature %s missing: %s", w, r)
			}
		}
		values := map[string]string{}
		for _, x := range r.Child(muc.NSDiscoInfo, "query").ChildrenNamed("jabber:x:data", "x") {
			for _, fl := range x.ChildrenNamed("jabber:x:data", "field") {
				values[fl.Attr("var")] = fl.ChildText("jabber:x:data", "value")
			}
		}
		if values["FORM_TYPE"] != muc.NSRoomInfo || values["muc#roominfo_occupants"] != occupants ||
			values["muc#roominfo_subject"] != "All about info" || values["muc#roominfo_description"] != "Informative" {
			t.Errorf("roominfo form: %v", values)
		}
	}
	check(t, "2", []string{"muc_public", "muc_temporary", "muc_open", "muc_unsecured", "muc_unmoderated", "muc_semianonymous"})
	configure(t, alice, "info", "muc#roomconfig_publicroom", "0", "muc#roomconfig_persistentroom", "1",
		"muc#roomconfig_membersonly", "1", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "x",
		"muc#roomconfig_moderatedroom", "1", "muc#roomconfig_whois", "anyone")
	// Becoming members-only removed bob.
	check(t, "1", []string{"muc_hidden", "muc_persistent", "muc_membersonly", "muc_passwordprotected", "muc_moderated", "muc_nonanonymous"})

	if got := items(alice.IQ(discoIQ(roomJID("info"), muc.NSDiscoItems))); len(got) != 1 || got[occ("info", "Alice")] == "" {
		t.Fatalf("occupant list for an occupant of a non-anonymous room: %v", got)
	}
	if got := items(dave.IQ(discoIQ(roomJID("info"), muc.NSDiscoItems))); len(got) != 0 {
		t.Fatalf("occupant list for a stranger: %v", got)
	}
	configure(t, alice, "info", "muc#roomconfig_whois", "moderators")
	if got := items(alice.IQ(discoIQ(roomJID("info"), muc.NSDiscoItems))); len(got) != 0 {
		t.Fatalf("occupant list of a semi-anonymous room: %v", got)
	}
}

// TestRoomOccupantIQ checks IQs to occupant JIDs: passed on between occupants
// with the answer routed back (XEP-0045 §6.7), refused to strangers, and
// a ping to one's own occupant JID answered by the room (XEP-0410).
func TestRoomOccupantIQ(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	dave := user(t, srv, "dave")
	create(t, alice, "iq", "Alice")
	join(t, bob, "iq", "Bob", "")

	alice.Sendf("<iq type='get' id='q1' to='%s'><query xmlns='%s'/></iq>", occ("iq", "Bob"), muc.NSDiscoInfo)
	fwd := bob.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.Type() == "get" })
	if fwd.From() != occ("iq", "Alice") || fwd.ID() == "q1" || fwd.Child(muc.NSDiscoInfo, "query") == nil {
		t.Fatalf("forwarded request: %s", fwd)
	}
	bob.Sendf("<iq type='result' id='%s' to='%s'><query xmlns='%s'><feature var='urn:example'/></query></iq>", fwd.ID(), fwd.From(), muc.NSDiscoInfo)
	ans := alice.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.ID() == "q1" })
	if ans.Type() != "result" || ans.From() != occ("iq", "Bob") || !features(ans)["urn:example"] {
		t.Fatalf("answer routed back: %s", ans)
	}
	// A forged answer to an id the room never issued goes nowhere.
	bob.Sendf("<iq type='result' id='muc.Zm9vAEJvYg.0000000000000000' to='%s'/>", occ("iq", "Alice"))
	alice.ExpectNone(func(el *stanza.Element) bool { return el.Local == "iq" && el.From() == occ("iq", "Bob") }, quiet)

	if r := dave.IQ(discoIQ(occ("iq", "Bob"), muc.NSDiscoInfo)); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("disco to an occupant from a stranger: %s", r)
	}
	if r := dave.IQ("<iq type='get' to='" + occ("iq", "Bob") + "'><query xmlns='jabber:iq:version'/></iq>"); testutil.ErrorCondition(r) != "not-acceptable" {
		t.Fatalf("iq to an occupant from a stranger: %s", r)
	}
	if r := alice.IQ(discoIQ(occ("iq", "Nobody"), muc.NSDiscoInfo)); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("iq to an unknown nick: %s", r)
	}
	if r := bob.IQ("<iq type='get' to='" + occ("iq", "Bob") + "'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Type() != "result" {
		t.Fatalf("self-ping: %s", r)
	}
}
