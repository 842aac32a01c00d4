package muc_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// TestRoomFederatedOccupant has a user of another server take part in a room
// like a local user: join, messages both ways, a private message, and
// leaving when the remote session ends (its server sends unavailable
// presence on its behalf). The two parley servers find each other through
// [s2s.hosts].
func TestRoomFederatedOccupant(t *testing.T) {
	aAddr, bAddr := testutil.FreeListenAddr(t), testutil.FreeListenAddr(t)
	const room = "lobby@conference.a.test"
	a := testutil.Start(t, testutil.Options{Domain: "a.test", Extra: fmt.Sprintf(`[s2s]
listen = %q
connect_timeout = "5s"
[s2s.hosts]
"b.test" = %q

[muc]
domain = "conference.a.test"
`, aAddr, bAddr)})
	b := testutil.Start(t, testutil.Options{Domain: "b.test", Extra: fmt.Sprintf(`[s2s]
listen = %q
connect_timeout = "5s"
[s2s.hosts]
"a.test" = %q
"conference.a.test" = %q
`, bAddr, aAddr, aAddr)})
	a.AddUser("alice", "alice-pw")
	b.AddUser("bob", "bob-pw")
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")

	alice.Sendf("<presence to='%s/Alice'><x xmlns='%s'/></presence>", room, muc.NS)
	alice.Expect(func(el *stanza.Element) bool { return el.From() == room+"/Alice" && hasStatus(el, muc.StatusCreated) })
	if r := alice.IQ(fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'/></query></iq>", room, muc.NSOwner)); r.Type() != "result" {
		t.Fatalf("configure: %s", r)
	}

	bob.Sendf("<presence to='%s/Bob'><x xmlns='%s'/></presence>", room, muc.NS)
	self := bob.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == room+"/Bob" })
	if self.Type() != "" || !hasStatus(self, muc.StatusSelf) {
		t.Fatalf("remote join: %s", self)
	}
	bob.Expect(func(el *stanza.Element) bool { return el.From() == room && el.Child("", "subject") != nil })
	p := alice.Expect(isPresence(room + "/Bob"))
	if item(t, p).Attr("jid") != bob.JID {
		t.Fatalf("the owner sees the remote occupant as %s", p)
	}

	bob.Sendf("<message to='%s' type='groupchat'><body>hello from b</body></message>", room)
	alice.Expect(isGroupchat(room+"/Bob", "hello from b"))
	bob.Expect(isGroupchat(room+"/Bob", "hello from b"))
	alice.Sendf("<message to='%s' type='groupchat'><body>welcome</body></message>", room)
	bob.Expect(isGroupchat(room+"/Alice", "welcome"))
	alice.Sendf("<message to='%s/Bob' type='chat'><body>just you</body></message>", room)
	bob.Expect(func(el *stanza.Element) bool {
		return el.From() == room+"/Alice" && el.ChildText("", "body") == "just you"
	})

	bob.Close()
	alice.Expect(isUnavailable(room + "/Bob"))
}
