package compliance_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"parley/audit"
	"parley/compliance"
	"parley/internal/testutil"
	"parley/stanza"
)

const archiveOn = `
[muc]
domain = "conference.parley.test"
lock_new_rooms = false
[archive]
enabled = true
`

// export returns the archived messages of the server's archive.
func export(t *testing.T, s *testutil.Server, f compliance.Filter) []compliance.Entry {
	t.Helper()
	var out []compliance.Entry
	if err := compliance.Export(s.Config.ArchiveDir(), f, func(e compliance.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// withBody returns the entries whose body is body.
func withBody(es []compliance.Entry, body string) []compliance.Entry {
	var out []compliance.Entry
	for _, e := range es {
		if e.Body() == body {
			out = append(out, e)
		}
	}
	return out
}

// online logs in and sends initial presence.
func online(t *testing.T, addr, user, password, resource string) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, addr, user, password, resource)
	c.Send("<presence/>")
	return c
}

func isMessageWith(body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Local == "message" && el.ChildText("", "body") == body }
}

func joinRoom(t *testing.T, c *testutil.Client, room, nick string) {
	t.Helper()
	c.Sendf("<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room, nick)
	c.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.Type() == "groupchat" && el.Child("", "subject") != nil
	})
}

// TestEveryMessageArchivedOnce: one-to-one, offline, room and private
// room messages are each archived once, in order, with their direction;
// messages without content are not; the chain verifies against the
// checkpoints the server noted in the audit log.
func TestEveryMessageArchivedOnce(t *testing.T) {
	s := testutil.StartServer(t, archiveOn)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		s.AddUser(u, u+"-pw")
	}
	alice := online(t, s.Addr, "alice", "alice-pw", "phone")
	bob := online(t, s.Addr, "bob", "bob-pw", "desk")
	carol := online(t, s.Addr, "carol", "carol-pw", "laptop")

	alice.Send("<message to='bob@parley.test' type='chat' id='m1'><body>lunch at noon?</body></message>")
	bob.Expect(isMessageWith("lunch at noon?"))
	alice.Send("<message to='bob@parley.test' type='chat' id='m2'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	bob.Send("<message to='alice@parley.test/phone' type='chat' id='m3'><body>sure</body><x xmlns='jabber:x:oob'><url>https://files.parley.test/menu.pdf</url></x></message>")
	alice.Expect(isMessageWith("sure"))
	// Dave is offline: stored for him, archived once.
	carol.Send("<message to='dave@parley.test' type='chat' id='m4'><body>call me when you are back</body></message>")

	const room = "standup@conference.parley.test"
	joinRoom(t, alice, room, "Alice")
	joinRoom(t, bob, room, "Bob")
	joinRoom(t, carol, room, "Carol")
	alice.Sendf("<message to='%s' type='groupchat' id='g1'><body>good morning team</body></message>", room)
	for _, c := range []*testutil.Client{alice, bob, carol} {
		c.Expect(isMessageWith("good morning team"))
	}
	bob.Sendf("<message to='%s' type='groupchat' id='g2'><body>/me waves</body></message>", room)
	carol.Expect(isMessageWith("/me waves"))
	bob.Sendf("<message to='%s/Carol' type='chat' id='p1'><body>psst, carol</body></message>", room)
	carol.Expect(isMessageWith("psst, carol"))

	dave := testutil.Login(t, s.Addr, "dave", "dave-pw", "tablet")
	dave.Send("<presence/>")
	dave.Expect(isMessageWith("call me when you are back"))

	s.Stop()
	all := export(t, s, compliance.Filter{})
	want := []struct {
		body, dir, from, to, sender string
	}{
		{"lunch at noon?", "local", "alice@parley.test/phone", "bob@parley.test", "alice@parley.test/phone"},
		{"sure", "local", "bob@parley.test/desk", "alice@parley.test/phone", "bob@parley.test/desk"},
		{"call me when you are back", "local", "carol@parley.test/laptop", "dave@parley.test", "carol@parley.test/laptop"},
		{"good morning team", "room", room + "/Alice", room, "alice@parley.test/phone"},
		{"/me waves", "room", room + "/Bob", room, "bob@parley.test/desk"},
		{"psst, carol", "room", room + "/Bob", room + "/Carol", "bob@parley.test/desk"},
	}
	if len(all) != len(want) {
		for _, e := range all {
			t.Logf("%d %s %s -> %s: %s", e.Seq, e.Direction, e.From, e.To, e.Stanza)
		}
		t.Fatalf("%d records, want %d", len(all), len(want))
	}
	for i, w := range want {
		e := all[i]
		if e.Body() != w.body || e.Direction.String() != w.dir || e.From != w.from || e.To != w.to || e.Sender != w.sender || e.Seq != uint64(i+1) {
			t.Errorf("record %d: %d %s %s -> %s (by %s): %q; want %+v", i, e.Seq, e.Direction, e.From, e.To, e.Sender, e.Body(), w)
		}
	}
	if !bytes.Contains(all[1].Stanza, []byte("menu.pdf")) {
		t.Errorf("the attachment link is not in the archived stanza: %s", all[1].Stanza)
	}
	// A room's message as its occupants received it: with the room's
	// stanza ID.
	if !bytes.Contains(all[3].Stanza, []byte("urn:xmpp:sid:0")) {
		t.Errorf("the room message is archived without its stanza ID: %s", all[3].Stanza)
	}

	sum, err := compliance.Verify(s.Config.ArchiveDir(), audit.DefaultDir(s.Config.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 6 || sum.Head != 6 || sum.Anchors == 0 {
		t.Fatalf("verify: %+v; want 6 records and the shutdown checkpoint matched", sum)
	}

	// Filters.
	if got := export(t, s, compliance.Filter{User: "dave@parley.test"}); len(got) != 1 || got[0].Body() != "call me when you are back" {
		t.Errorf("-user dave: %d records", len(got))
	}
	if got := export(t, s, compliance.Filter{Room: room}); len(got) != 3 {
		t.Errorf("-room: %d records, want 3 (two room messages, one private)", len(got))
	}
	if got := export(t, s, compliance.Filter{User: "alice@parley.test"}); len(got) != 3 {
		t.Errorf("-user alice: %d records, want 3", len(got))
	}
	// The private message carol received in the room is hers.
	if got := export(t, s, compliance.Filter{User: "carol@parley.test"}); len(got) != 2 || got[1].Recipient != "carol@parley.test/laptop" {
		t.Errorf("-user carol: %+v", got)
	}
	if got := export(t, s, compliance.Filter{Text: "MORNING good"}); len(got) != 1 || got[0].Seq != 4 {
		t.Errorf("-text: %v", got)
	}

	// A room's transcript reads like the conversation.
	var b strings.Builder
	w := compliance.NewTranscriptWriter(&b, "Transcript of room "+room)
	for _, e := range export(t, s, compliance.Filter{Room: room}) {
		if e.Direction.String() == "room" {
			w.Write(e)
		}
	}
	w.Close()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "--- ") ||
		!strings.HasSuffix(lines[2], "] Alice: good morning team") || !strings.HasSuffix(lines[3], "] * Bob waves") ||
		!strings.HasSuffix(lines[4], "] Bob → Carol (private): psst, carol") {
		t.Errorf("transcript:\n%s", b.String())
	}
}

// TestRequirePlaintext: end-to-end encrypted messages are refused with a
// policy-violation error saying why, in chats and rooms; plain ones pass.
func TestRequirePlaintext(t *testing.T) {
	s := testutil.StartServer(t, archiveOn+"require_plaintext = true\n")
	s.AddUser("alice", "alice-pw")
	s.AddUser("bob", "bob-pw")
	alice := online(t, s.Addr, "alice", "alice-pw", "phone")
	bob := online(t, s.Addr, "bob", "bob-pw", "desk")
	omemo := "<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><iv>AAAA</iv></header><payload>BBBB</payload></encrypted><body>I sent you an OMEMO encrypted message</body>"
	cases := []struct{ name, payload, scheme string }{
		{"omemo", omemo, "OMEMO"},
		{"openpgp", "<openpgp xmlns='urn:xmpp:openpgp:0'>BASE64</openpgp>", "OpenPGP"},
		{"otr", "<body>?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA</body>", "OTR"},
	}
	for i, c := range cases {
		id := fmt.Sprintf("e%d", i)
		alice.Sendf("<message to='bob@parley.test' type='chat' id='%s'>%s</message>", id, c.payload)
		errEl := alice.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ID() == id })
		e := errEl.Child("", "error")
		if errEl.Type() != "error" || e == nil || e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "policy-violation") == nil ||
			!strings.Contains(e.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"), c.scheme) {
			t.Errorf("%s: %s", c.name, errEl)
		}
	}
	bob.ExpectNone(func(el *stanza.Element) bool { return el.Local == "message" }, 300_000_000)

	const room = "plain@conference.parley.test"
	joinRoom(t, alice, room, "Alice")
	joinRoom(t, bob, room, "Bob")
	alice.Sendf("<message to='%s' type='groupchat' id='g1'>%s</message>", room, omemo)
	errEl := alice.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ID() == "g1" })
	if errEl.Type() != "error" || !strings.Contains(errEl.String(), "policy-violation") {
		t.Errorf("encrypted groupchat: %s", errEl)
	}
	alice.Sendf("<message to='bob@parley.test' type='chat' id='ok'><body>plain words</body></message>")
	bob.Expect(isMessageWith("plain words"))
	s.Stop()
	if all := export(t, s, compliance.Filter{}); len(all) != 1 || all[0].Body() != "plain words" {
		t.Fatalf("archived %d records; want only the plain message", len(all))
	}
}

// TestFederatedMessagesArchivedOnEachSide: a message between two servers
// is archived once as outbound by the sender's server and once as
// inbound by the recipient's.
func TestFederatedMessagesArchivedOnEachSide(t *testing.T) {
	servers := testutil.Federate(t, "[archive]\nenabled = true\n", "a.test", "b.test")
	a, b := servers[0], servers[1]
	alice := online(t, a.Addr, "alice@a.test", "alice-pw", "phone")
	bob := online(t, b.Addr, "bob@b.test", "bob-pw", "desk")
	alice.Send("<message to='bob@b.test' type='chat' id='f1'><body>hello from a</body></message>")
	bob.Expect(isMessageWith("hello from a"))
	bob.Send("<message to='alice@a.test/phone' type='chat' id='f2'><body>hello from b</body></message>")
	alice.Expect(isMessageWith("hello from b"))
	a.Stop()
	b.Stop()
	for _, c := range []struct {
		s       *testutil.Server
		out, in string
	}{{a, "hello from a", "hello from b"}, {b, "hello from b", "hello from a"}} {
		all := export(t, c.s, compliance.Filter{})
		if len(all) != 2 {
			t.Fatalf("%s: %d records, want 2", c.s.Domain, len(all))
		}
		if o := withBody(all, c.out); len(o) != 1 || o[0].Direction != compliance.Outbound {
			t.Errorf("%s: outbound %v", c.s.Domain, o)
		}
		if i := withBody(all, c.in); len(i) != 1 || i[0].Direction != compliance.Inbound {
			t.Errorf("%s: inbound %v", c.s.Domain, i)
		}
		if _, err := compliance.Verify(c.s.Config.ArchiveDir(), audit.DefaultDir(c.s.Config.DataDir())); err != nil {
			t.Errorf("%s: %v", c.s.Domain, err)
		}
	}
}
