package ping_test

import (
	"testing"

	"parley/internal/testutil"
)

func TestPing(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	cases := []struct {
		name, to, typ, payload, want string
	}{
		{"server", srv.Domain, "get", "<ping xmlns='urn:xmpp:ping'/>", ""},
		{"own bare JID", alice, "get", "<ping xmlns='urn:xmpp:ping'/>", ""},
		{"own account without to", "", "get", "<ping xmlns='urn:xmpp:ping'/>", ""},
		{"other account", bob, "get", "<ping xmlns='urn:xmpp:ping'/>", ""},
		{"set", srv.Domain, "set", "<ping xmlns='urn:xmpp:ping'/>", "bad-request"},
		{"unknown element", srv.Domain, "get", "<pong xmlns='urn:xmpp:ping'/>", "feature-not-implemented"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			to := ""
			if c.to != "" {
				to = " to='" + c.to + "'"
			}
			got := a.IQ("<iq type='" + c.typ + "'" + to + ">" + c.payload + "</iq>")
			if c.want != "" {
				if cond := testutil.ErrorCondition(got); cond != c.want {
					t.Fatalf("got %s, want %s", got, c.want)
				}
				return
			}
			if got.Type() != "result" || len(got.Elements()) != 0 {
				t.Fatalf("want an empty result, got %s", got)
			}
			if want := c.to; want != "" && got.From() != want {
				t.Fatalf("result from %q, want %q", got.From(), want)
			}
		})
	}
}
