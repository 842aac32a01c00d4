package version_test

import (
	"testing"

	"parley/internal/testutil"
)

func TestVersion(t *testing.T) {
	srv := testutil.StartServer(t, "")
	bob := srv.AddUser("bob", "pw")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	cases := []struct {
		name, to, typ, want string
	}{
		{"server", srv.Domain, "get", ""},
		{"set", srv.Domain, "set", "bad-request"},
		{"account is not the server", bob, "get", "service-unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.IQ("<iq type='" + c.typ + "' to='" + c.to + "'><query xmlns='jabber:iq:version'/></iq>")
			if c.want != "" {
				if cond := testutil.ErrorCondition(got); cond != c.want {
					t.Fatalf("got %s, want %s", got, c.want)
				}
				return
			}
			q := got.Child("jabber:iq:version", "query")
			if got.Type() != "result" || q == nil {
				t.Fatalf("got %s", got)
			}
			if name := q.ChildText("jabber:iq:version", "name"); name != "parley" {
				t.Errorf("name %q", name)
			}
			if v := q.ChildText("jabber:iq:version", "version"); v == "" {
				t.Errorf("empty version in %s", got)
			}
			if q.Child("jabber:iq:version", "os") != nil {
				t.Errorf("os disclosed: %s", got)
			}
		})
	}
}
