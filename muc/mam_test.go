package muc_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"parley/archive"
	"parley/internal/testutil"
	"parley/stanza"
)

// roomQuery queries room's archive as c and returns the bodies and the
// iq's error condition ("" for a result).
func roomQuery(t *testing.T, c *testutil.Client, room, rsm string) ([]string, string) {
	t.Helper()
	qid := c.NewID()
	r := c.IQ(fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s' queryid='%s'>%s</query></iq>", roomJID(room), archive.NS, qid, rsm))
	if r.Type() == "error" {
		return nil, testutil.ErrorCondition(r)
	}
	var bodies []string
	for _, m := range c.Take(func(el *stanza.Element) bool {
		res := el.Child(archive.NS, "result")
		return res != nil && res.Attr("queryid") == qid
	}) {
		if m.From() != roomJID(room) {
			t.Errorf("result from %s, want the room", m.From())
		}
		fwd := m.Child(archive.NS, "result").Child(archive.NSForward, "forwarded")
		bodies = append(bodies, fwd.Child("", "message").ChildText("", "body"))
	}
	return bodies, ""
}

// TestRoomArchive checks archive queries to rooms (XEP-0313 for MUC):
// logged persistent rooms keep every message under the stanza ID the
// room gave it, for whoever may enter; other rooms keep none.
func TestRoomArchive(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	create(t, alice, "logged", "Alice")
	configure(t, alice, "logged", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablelogging", "1")
	join(t, bob, "logged", "Bob", "")
	var sent, ids []string
	for i := range 12 {
		body := fmt.Sprintf("hello %d", i)
		alice.Sendf("<message to='%s' type='groupchat'><body>%s</body></message>", roomJID("logged"), body)
		m := bob.Expect(isGroupchat(occ("logged", "Alice"), body))
		ids = append(ids, m.Child(archive.NSStanzaID, "stanza-id").Attr("id"))
		sent = append(sent, body)
	}
	info := bob.IQ("<iq type='get' to='" + roomJID("logged") + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if !strings.Contains(info.String(), "var='"+archive.NS+"'") {
		t.Fatalf("a logged room does not advertise its archive: %s", info)
	}
	// Paged, by a participant and by someone not in the room.
	carol := user(t, srv, "carol")
	for _, c := range []*testutil.Client{bob, carol} {
		var got []string
		after := ""
		for range 5 {
			inner := "<max>5</max>"
			if after != "" {
				inner += "<after>" + after + "</after>"
			}
			page, cond := roomQuery(t, c, "logged", "<set xmlns='"+archive.NSRSM+"'>"+inner+"</set>")
			if cond != "" {
				t.Fatalf("%s: %s", c.JID, cond)
			}
			got = append(got, page...)
			if len(page) < 5 {
				break
			}
			after = ids[len(got)-1]
		}
		if !slices.Equal(got, sent) {
			t.Fatalf("%s paged through %v, want %v", c.JID, got, sent)
		}
	}
	// Members-only: only members and above read it.
	configure(t, alice, "logged", "muc#roomconfig_membersonly", "1")
	if _, cond := roomQuery(t, carol, "logged", ""); cond != "forbidden" {
		t.Fatalf("a non-member read a members-only room's archive: %q", cond)
	}
	adminIQ(alice, "logged", "set", "<item affiliation='member' jid='carol@"+srv.Domain+"'/>")
	if got, cond := roomQuery(t, carol, "logged", "<set xmlns='"+archive.NSRSM+"'><max>3</max><before/></set>"); cond != "" || !slices.Equal(got, sent[9:]) {
		t.Fatalf("a member's last page: %v, %q", got, cond)
	}

	// A temporary room keeps no archive.
	create(t, alice, "fleeting", "Alice")
	if _, cond := roomQuery(t, alice, "fleeting", ""); cond != "service-unavailable" {
		t.Fatalf("a temporary room's archive: %q", cond)
	}
	info = alice.IQ("<iq type='get' to='" + roomJID("fleeting") + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if strings.Contains(info.String(), "var='"+archive.NS+"'") {
		t.Fatalf("a temporary room advertises an archive: %s", info)
	}
}
