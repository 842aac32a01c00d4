package compliance_test

import (
	"testing"

	"parley/compliance"
	"parley/internal/testutil"
)

// TestRemoteRoomMessagesWithTheSameID: a room elsewhere (here an
// external component) that gives its messages no stanza ID sends each
// local occupant a copy; each message is archived once, even when two
// occupants of the room chose the same id for theirs.
func TestRemoteRoomMessagesWithTheSameID(t *testing.T) {
	const rooms, secret = "rooms.test", "rooms-secret-0123456789abcdef"
	s := testutil.Start(t, testutil.Options{Extra: "[components]\nlisten = \"127.0.0.1:0\"\n[components.secrets]\n\"" +
		rooms + "\" = \"" + secret + "\"\n[archive]\nenabled = true\n"})
	s.AddUser("alice", "alice-pw")
	s.AddUser("bob", "bob-pw")
	svc := testutil.DialComponent(t, s.Server.Addr("components"), rooms, secret)
	alice := testutil.Login(t, s.Addr, "alice", "alice-pw", "phone")
	bob := testutil.Login(t, s.Addr, "bob", "bob-pw", "desk")
	msgs := []struct{ nick, body string }{{"Carol", "first, from carol"}, {"Dave", "second, from dave"}}
	for _, m := range msgs {
		for _, to := range []string{alice.JID, bob.JID} {
			svc.Sendf("<message type='groupchat' from='r@%s/%s' to='%s' id='1'><body>%s</body></message>", rooms, m.nick, to, m.body)
		}
	}
	for _, c := range []*testutil.Client{alice, bob} {
		for _, m := range msgs {
			c.Expect(isMessageWith(m.body))
		}
	}
	s.Stop()
	all := export(t, s, compliance.Filter{})
	for _, m := range msgs {
		if got := withBody(all, m.body); len(got) != 1 || got[0].Direction != compliance.Inbound || got[0].From != "r@"+rooms+"/"+m.nick {
			t.Errorf("%q archived as %v; want once, inbound from r@%s/%s", m.body, got, rooms, m.nick)
		}
	}
	if len(all) != len(msgs) {
		t.Errorf("%d records, want %d", len(all), len(msgs))
	}
}

// TestOwnMessageReflectedByARemoteRoom: a local user's message to a room
// elsewhere is archived once, when it leaves; the room's reflection of it
// back to the user (with the same id, or origin ID) is not archived
// again, while the other occupants' messages are.
func TestOwnMessageReflectedByARemoteRoom(t *testing.T) {
	const rooms, secret = "rooms.test", "rooms-secret-0123456789abcdef"
	s := testutil.Start(t, testutil.Options{Extra: "[components]\nlisten = \"127.0.0.1:0\"\n[components.secrets]\n\"" +
		rooms + "\" = \"" + secret + "\"\n[archive]\nenabled = true\n"})
	s.AddUser("alice", "alice-pw")
	svc := testutil.DialComponent(t, s.Server.Addr("components"), rooms, secret)
	alice := testutil.Login(t, s.Addr, "alice", "alice-pw", "phone")
	alice.Sendf("<message type='groupchat' to='r@%s' id='a1'><body>from alice</body></message>", rooms)
	alice.Sendf("<message type='groupchat' to='r@%s' id='a2'><origin-id xmlns='urn:xmpp:sid:0' id='o2'/><body>from alice again</body></message>", rooms)
	svc.Expect(isMessageWith("from alice"))
	svc.Expect(isMessageWith("from alice again"))
	// The room reflects both (the second with a new id but the origin
	// ID), and someone else speaks with an id alice used.
	svc.Sendf("<message type='groupchat' from='r@%s/Alice' to='%s' id='a1'><body>from alice</body></message>", rooms, alice.JID)
	svc.Sendf("<message type='groupchat' from='r@%s/Alice' to='%s' id='room-7'><origin-id xmlns='urn:xmpp:sid:0' id='o2'/><body>from alice again</body></message>", rooms, alice.JID)
	svc.Sendf("<message type='groupchat' from='r@%s/Bob' to='%s' id='a1'><body>from bob</body></message>", rooms, alice.JID)
	for _, b := range []string{"from alice", "from alice again", "from bob"} {
		alice.Expect(isMessageWith(b))
	}
	s.Stop()
	all := export(t, s, compliance.Filter{})
	if len(all) != 3 {
		for _, e := range all {
			t.Logf("%d %s %s -> %s: %s", e.Seq, e.Direction, e.From, e.To, e.Body())
		}
		t.Fatalf("%d records, want 3", len(all))
	}
	for i, want := range []struct{ body, from string }{
		{"from alice", alice.JID}, {"from alice again", alice.JID}, {"from bob", "r@" + rooms + "/Bob"},
	} {
		if all[i].Body() != want.body || all[i].From != want.from {
			t.Errorf("record %d: %q from %s, want %q from %s", i+1, all[i].Body(), all[i].From, want.body, want.from)
		}
	}
}
