package muc_test

import (
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestRoomDestroy checks room destruction by an owner (XEP-0045 §10.9): each
// occupant gets unavailable presence with the alternate venue and reason,
// and the room is gone.
func TestRoomDestroy(t *testing.T) {
	srv := mucServer(t, "", "persistent = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "old", "Alice")
	join(t, bob, "old", "Bob", "")

	destroy := "<iq type='set' to='" + roomJID("old") + "'><query xmlns='" + muc.NSOwner + "'><destroy jid='" + roomJID("new") +
		"'><reason>We moved</reason></destroy></query></iq>"
	if r := bob.IQ(destroy); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a non-owner destroyed the room: %s", r)
	}
	if r := alice.IQ(destroy); r.Type() != "result" {
		t.Fatalf("destroy: %s", r)
	}
	for _, c := range []struct {
		client *testutil.Client
		nick   string
	}{{alice, "Alice"}, {bob, "Bob"}} {
		p := c.client.Expect(isUnavailable(occ("old", c.nick)))
		d := mucUser(p, "destroy")
		if d == nil || d.Attr("jid") != roomJID("new") || d.ChildText(muc.NSUser, "reason") != "We moved" ||
			item(t, p).Attr("affiliation") != "none" || item(t, p).Attr("role") != "none" {
			t.Errorf("%s: destroy presence: %s", c.client.JID, p)
		}
	}
	r := bob.IQ("<iq type='get' to='" + roomJID("old") + "'><query xmlns='" + muc.NSDiscoInfo + "'/></iq>")
	if testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("disco#info of a destroyed room: %s", r)
	}
	if self := join(t, bob, "old", "Bob", ""); !hasStatus(self, muc.StatusCreated) {
		t.Fatalf("the destroyed room still existed: %s", self)
	}
}

// TestConfigurationNotices checks the status codes sent to occupants when
// the configuration changes (XEP-0045 §10.2.1): 104 for a change that is
// not privacy-related, 170-173 for changes of logging and anonymity.
func TestConfigurationNotices(t *testing.T) {
	srv := mucServer(t, "", "persistent = true")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "conf", "Alice")
	join(t, bob, "conf", "Bob", "")
	cases := []struct {
		name   string
		fields []string
		codes  []int
	}{
		{"name", []string{"muc#roomconfig_roomname", "Conf"}, []int{104}},
		// 104 is for changes that are not privacy-related; the privacy
		// codes stand alone when nothing else changed.
		{"non-anonymous", []string{"muc#roomconfig_whois", "anyone"}, []int{172}},
		{"semi-anonymous and renamed", []string{"muc#roomconfig_whois", "moderators", "muc#roomconfig_roomname", "C"}, []int{104, 173}},
		{"logging off", []string{"muc#roomconfig_enablelogging", "0"}, []int{171}},
		{"temporary and logging on", []string{"muc#roomconfig_persistentroom", "0", "muc#roomconfig_enablelogging", "1"}, []int{104}},
		{"persistent again", []string{"muc#roomconfig_persistentroom", "1"}, []int{104, 170}},
		{"logging off while persistent", []string{"muc#roomconfig_enablelogging", "0"}, []int{171}},
		{"temporary while not logging", []string{"muc#roomconfig_persistentroom", "0"}, []int{104}},
		{"logging on in a temporary room", []string{"muc#roomconfig_enablelogging", "1"}, []int{104}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			configure(t, alice, "conf", c.fields...)
			m := bob.Expect(func(el *stanza.Element) bool {
				return el.Local == "message" && el.From() == roomJID("conf") && mucUser(el, "status") != nil
			})
			for _, code := range c.codes {
				if !hasStatus(m, code) {
					t.Errorf("notice lacks %d: %s", code, m)
				}
			}
			if n := len(m.Child(muc.NSUser, "x").ChildrenNamed(muc.NSUser, "status")); n != len(c.codes) {
				t.Errorf("notice has %d codes, want %v: %s", n, c.codes, m)
			}
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		configure(t, alice, "conf")
		bob.ExpectNone(func(el *stanza.Element) bool { return el.Local == "message" && el.From() == roomJID("conf") }, quiet)
	})
}

// formValues returns var -> values of a data form.
func formValues(x *stanza.Element) map[string][]string {
	out := map[string][]string{}
	for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
		var vals []string
		for _, v := range f.ChildrenNamed("jabber:x:data", "value") {
			vals = append(vals, v.Text())
		}
		out[f.Attr("var")] = vals
	}
	return out
}

// TestConfigurationFormValues checks that the form an owner gets
// (XEP-0045 §10.2) carries its FORM_TYPE and the current value of every
// field, as submitted before.
func TestConfigurationFormValues(t *testing.T) {
	srv := mucServer(t, "history_length = 10", "")
	alice := user(t, srv, "alice")
	create(t, alice, "form", "Alice")
	set := []string{
		"muc#roomconfig_roomname", "Form room",
		"muc#roomconfig_roomdesc", "About forms",
		"muc#roomconfig_persistentroom", "1",
		"muc#roomconfig_publicroom", "0",
		"muc#roomconfig_membersonly", "1",
		"muc#roomconfig_passwordprotectedroom", "1",
		"muc#roomconfig_roomsecret", "pw",
		"muc#roomconfig_moderatedroom", "1",
		"muc#roomconfig_whois", "anyone",
		"muc#roomconfig_maxusers", "20",
		"muc#roomconfig_changesubject", "0",
		"muc#roomconfig_allowinvites", "1",
		"muc#roomconfig_allowpm", "moderators",
		"muc#maxhistoryfetch", "3",
		"muc#roomconfig_enablelogging", "0",
	}
	configure(t, alice, "form", set...)
	r := alice.IQ("<iq type='get' to='" + roomJID("form") + "'><query xmlns='" + muc.NSOwner + "'/></iq>")
	x := r.Child(muc.NSOwner, "query").Child("jabber:x:data", "x")
	if r.Type() != "result" || x == nil || x.Attr("type") != "form" {
		t.Fatalf("configuration form: %s", r)
	}
	got := formValues(x)
	if v := got["FORM_TYPE"]; len(v) != 1 || v[0] != muc.NSRoomConfig {
		t.Errorf("FORM_TYPE: %v", v)
	}
	for i := 0; i+1 < len(set); i += 2 {
		if v := got[set[i]]; len(v) != 1 || v[0] != set[i+1] {
			t.Errorf("%s: %v, want %s", set[i], v, set[i+1])
		}
	}
}

// TestConfigurationApplied checks the effect of the moderation and
// anonymity fields on who enters next (XEP-0045 §10.2): a visitor in a
// moderated room, real JIDs and status 100 in a non-anonymous one.
func TestConfigurationApplied(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "applied", "Alice")
	configure(t, alice, "applied", "muc#roomconfig_moderatedroom", "1", "muc#roomconfig_whois", "anyone")
	bob.Send(joinStanza("applied", "Bob", ""))
	if p := bob.Expect(isPresence(occ("applied", "Alice"))); item(t, p).Attr("jid") != alice.JID {
		t.Errorf("the owner's presence in a non-anonymous room: %s", p)
	}
	self := bob.Expect(isPresence(occ("applied", "Bob")))
	if item(t, self).Attr("role") != "visitor" || !hasStatus(self, muc.StatusNonAnonymous) {
		t.Fatalf("self-presence in a moderated, non-anonymous room: %s", self)
	}
}
