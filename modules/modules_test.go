// Package modules_test checks IQ behaviour common to every feature module,
// through a real server with all modules registered.
package modules_test

import (
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

func TestIQRouting(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	cases := []struct {
		name, iq, want string // want: "result" or an error condition
	}{
		{"unknown namespace to server", "<iq type='get' to='" + srv.Domain + "'><x xmlns='urn:example:unknown'/></iq>", "service-unavailable"},
		{"unknown namespace to bare JID", "<iq type='get' to='" + bob + "'><x xmlns='urn:example:unknown'/></iq>", "service-unavailable"},
		{"unknown namespace to own account", "<iq type='get'><x xmlns='urn:example:unknown'/></iq>", "service-unavailable"},
		{"server-only namespace to bare JID", "<iq type='get' to='" + bob + "'><query xmlns='jabber:iq:version'/></iq>", "service-unavailable"},
		{"known namespace to missing account", "<iq type='get' to='nobody@" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>", "service-unavailable"},
		{"ping to server", "<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>", "result"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.IQ(c.iq)
			if cond := testutil.ErrorCondition(got); cond != c.want && !(c.want == "result" && got.Type() == "result") {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestResponsesToServerNotAnswered(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	for _, typ := range []string{"result", "error"} {
		for _, to := range []string{" to='" + srv.Domain + "'", ""} {
			a.Sendf("<iq type='%s' id='resp-%s'%s><query xmlns='jabber:iq:version'/></iq>", typ, typ, to)
		}
	}
	// A ping afterwards proves the server processed the responses first.
	if got := a.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); got.Type() != "result" {
		t.Fatalf("ping: %s", got)
	}
	a.ExpectNone(func(el *stanza.Element) bool { return el.Local == "iq" }, 300*time.Millisecond)
}
