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
// the configuration changes (XEP-0045 §10.2.1).
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
		{"non-anonymous", []string{"muc#roomconfig_whois", "anyone"}, []int{104, 172}},
		{"semi-anonymous", []string{"muc#roomconfig_whois", "moderators"}, []int{104, 173}},
		{"logging off", []string{"muc#roomconfig_enablelogging", "0"}, []int{104, 171}},
		{"temporary and logging on", []string{"muc#roomconfig_persistentroom", "0", "muc#roomconfig_enablelogging", "1"}, []int{104}},
		{"persistent again", []string{"muc#roomconfig_persistentroom", "1"}, []int{104, 170}},
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
