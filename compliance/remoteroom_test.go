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
