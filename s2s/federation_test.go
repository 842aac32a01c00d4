package s2s_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

// peer describes one server of a federation test.
type peer struct {
	domain string
	s2s    string // extra [s2s] keys
	extra  string // extra sections after [s2s]
}

// federate starts one parley server per peer, each knowing the others'
// s2s listeners through [s2s.hosts], and adds alice and bob to each.
func federate(t *testing.T, peers ...peer) []*testutil.Server {
	t.Helper()
	addrs := make([]string, len(peers))
	for i := range peers {
		addrs[i] = testutil.FreeAddrOn(t, "127.0.0.1")
	}
	servers := make([]*testutil.Server, len(peers))
	for i, p := range peers {
		var hosts strings.Builder
		for j, q := range peers {
			if j != i {
				fmt.Fprintf(&hosts, "%q = %q\n", q.domain, addrs[j])
			}
		}
		extra := fmt.Sprintf("[s2s]\nlisten = %q\nconnect_timeout = \"5s\"\n%s\n[s2s.hosts]\n%s\n%s", addrs[i], p.s2s, hosts.String(), p.extra)
		servers[i] = testutil.Start(t, testutil.Options{Domain: p.domain, Extra: extra, LogLevel: "info"})
		servers[i].AddUser("alice", "alice-pw")
		servers[i].AddUser("bob", "bob-pw")
	}
	return servers
}

func isMessageFrom(from, body string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Kind() == "message" && el.From() == from && el.ChildText("", "body") == body
	}
}

func TestMessagesBothWaysWithDialback(t *testing.T) {
	s := federate(t, peer{domain: "a.test"}, peer{domain: "b.test"})
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")

	alice.Send("<message to='bob@b.test/pc' type='chat' id='m1'><body>any objections if I restart the dev server?</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "any objections if I restart the dev server?"))
	bob.Send("<message to='" + alice.JID + "' type='chat' id='m2'><body>go ahead</body></message>")
	alice.Expect(isMessageFrom(bob.JID, "go ahead"))

	// One link each way, both authenticated with dialback (the
	// certificates are self-signed, so neither can verify the other).
	a.WaitLog(5*time.Second, `"s2s link established"`, `"direction":"out"`, `"remote":"b.test"`, `"auth":"dialback"`)
	a.WaitLog(5*time.Second, `"s2s link established"`, `"direction":"in"`, `"remote":"b.test"`, `"auth":"dialback"`)
	b.WaitLog(5*time.Second, `"s2s link established"`, `"direction":"out"`, `"remote":"a.test"`, `"auth":"dialback"`)
	b.WaitLog(5*time.Second, `"s2s link established"`, `"direction":"in"`, `"remote":"a.test"`, `"auth":"dialback"`)
}
