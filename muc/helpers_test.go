package muc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// service is the group-chat domain of test servers.
const service = "conference." + testutil.Domain

// quiet is how long tests wait to be sure something does not arrive.
const quiet = 300 * time.Millisecond

// mucServer starts a server with the group-chat service; mucKeys are
// further [muc] keys, defaultRoom the [muc.default_room] keys.
func mucServer(t testing.TB, mucKeys, defaultRoom string) *testutil.Server {
	t.Helper()
	return testutil.StartServer(t, mucConfig(mucKeys, defaultRoom))
}

func mucConfig(mucKeys, defaultRoom string) string {
	extra := fmt.Sprintf("[muc]\ndomain = %q\n%s\n", service, mucKeys)
	if defaultRoom != "" {
		extra += "[muc.default_room]\n" + defaultRoom + "\n"
	}
	return extra
}

// user adds an account (password: local + "-pw") and logs it in with
// available presence.
func user(t testing.TB, srv *testutil.Server, local string) *testutil.Client {
	t.Helper()
	srv.AddUser(local, local+"-pw")
	return login(t, srv, local, "pc")
}

// login logs an existing account in with available presence.
func login(t testing.TB, srv *testutil.Server, local, resource string) *testutil.Client {
	t.Helper()
	c := testutil.Login(t, srv.Addr, local, local+"-pw", resource)
	c.Send("<presence/>")
	c.Expect(func(el *stanza.Element) bool { return el.Local == "presence" && el.From() == c.JID })
	return c
}

// roomJID is a room's bare JID at the test service.
func roomJID(room string) string { return room + "@" + service }

// occ is an occupant JID.
func occ(room, nick string) string { return roomJID(room) + "/" + nick }

// joinStanza is the presence that joins room as nick; x is extra content
// of the MUC <x/> (password, history).
func joinStanza(room, nick, x string) string {
	return fmt.Sprintf("<presence to='%s'><x xmlns='%s'>%s</x></presence>", occ(room, nick), muc.NS, x)
}

// join enters room as nick and returns the self-presence; it fails the
// test on an error.
func join(t testing.TB, c *testutil.Client, room, nick, x string) *stanza.Element {
	t.Helper()
	c.Send(joinStanza(room, nick, x))
	p := c.Expect(func(el *stanza.Element) bool {
		return el.Local == "presence" && strings.HasPrefix(el.From(), roomJID(room)+"/") &&
			(el.Type() == "error" || hasStatus(el, muc.StatusSelf))
	})
	if p.Type() == "error" {
		t.Fatalf("%s: joining %s as %s: %s", c.JID, room, nick, p)
	}
	// The subject ends the join.
	c.Expect(isSubject(room))
	return p
}

// joinError tries to enter room as nick and returns the error condition.
func joinError(t testing.TB, c *testutil.Client, room, nick, x string) string {
	t.Helper()
	c.Send(joinStanza(room, nick, x))
	p := c.Expect(func(el *stanza.Element) bool {
		return el.Local == "presence" && strings.HasPrefix(el.From(), roomJID(room)) &&
			(el.Type() == "error" || hasStatus(el, muc.StatusSelf))
	})
	if p.Type() != "error" {
		t.Fatalf("%s: joining %s as %s succeeded: %s", c.JID, room, nick, p)
	}
	if p.Child(muc.NS, "x") == nil {
		t.Errorf("the join error does not echo the MUC <x/>: %s", p)
	}
	return testutil.ErrorCondition(p)
}

// create makes a new room with c as owner under nick and unlocks it with
// the default configuration.
func create(t testing.TB, c *testutil.Client, room, nick string) {
	t.Helper()
	p := join(t, c, room, nick, "")
	if !hasStatus(p, muc.StatusCreated) {
		t.Fatalf("%s: room %s was not created by this join: %s", c.JID, room, p)
	}
	configure(t, c, room, "")
}

// configure submits a muc#roomconfig form with the given fields
// (var -> value) to room.
func configure(t testing.TB, c *testutil.Client, room string, fields ...string) {
	t.Helper()
	if r := c.IQ(configIQ(room, fields...)); r.Type() != "result" {
		t.Fatalf("%s: configuring %s: %s", c.JID, room, r)
	}
}

// configIQ is a muc#owner set submitting fields, given as var, value
// pairs (an empty list accepts the current configuration).
func configIQ(room string, fields ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", fields[i], fields[i+1])
	}
	if b.Len() > 0 {
		b.WriteString("<field var='FORM_TYPE'><value>" + muc.NSRoomConfig + "</value></field>")
	}
	return fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'>%s</x></query></iq>",
		roomJID(room), muc.NSOwner, b.String())
}

// adminIQ sends a muc#admin set with items and returns the response.
func adminIQ(c *testutil.Client, room, typ, items string) *stanza.Element {
	return c.IQ(fmt.Sprintf("<iq type='%s' to='%s'><query xmlns='%s'>%s</query></iq>", typ, roomJID(room), muc.NSAdmin, items))
}

// hasStatus reports whether a MUC stanza carries the status code.
func hasStatus(el *stanza.Element, code int) bool {
	x := el.Child(muc.NSUser, "x")
	if x == nil {
		return false
	}
	for _, s := range x.ChildrenNamed(muc.NSUser, "status") {
		if s.Attr("code") == fmt.Sprint(code) {
			return true
		}
	}
	return false
}

// mucUser returns the child local of a stanza's muc#user <x/>, or nil.
func mucUser(el *stanza.Element, local string) *stanza.Element {
	x := el.Child(muc.NSUser, "x")
	if x == nil {
		return nil
	}
	return x.Child(muc.NSUser, local)
}

// item returns the muc#user item of a presence, failing if there is none.
func item(t testing.TB, el *stanza.Element) *stanza.Element {
	t.Helper()
	it := mucUser(el, "item")
	if it == nil {
		t.Fatalf("no muc#user item in %s", el)
	}
	return it
}

// isPresence matches available presence from an occupant JID.
func isPresence(from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "presence" && el.From() == from && el.Type() == ""
	}
}

// isUnavailable matches unavailable presence from an occupant JID.
func isUnavailable(from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "presence" && el.From() == from && el.Type() == "unavailable"
	}
}

// isGroupchat matches a groupchat message from an occupant JID with body.
func isGroupchat(from, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "message" && el.Type() == "groupchat" && el.From() == from && el.ChildText("", "body") == body
	}
}

// isSubject matches the subject message of room.
func isSubject(room string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == "message" && strings.HasPrefix(el.From(), roomJID(room)) &&
			el.Child("", "subject") != nil && el.Child("", "body") == nil
	}
}

// isError matches an error stanza of kind from an address.
func isError(kind, from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Local == kind && el.Type() == "error" && el.From() == from
	}
}

// anyFrom matches any stanza from an address at the room.
func anyFrom(room string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return strings.HasPrefix(el.From(), roomJID(room)) }
}

// sendGroupchat sends a groupchat message to room.
func sendGroupchat(c *testutil.Client, room, body string) {
	c.Sendf("<message to='%s' type='groupchat' id='%s'><body>%s</body></message>", roomJID(room), c.NewID(), body)
}
