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
	more   []string          // further served domains
	s2s    string            // extra [s2s] keys
	extra  string            // extra sections after [s2s]
	hosts  map[string]string // extra [s2s.hosts] entries
	tls    string            // [tls] keys; empty: a generated self-signed certificate
}

// federation is a set of parley servers linked through [s2s.hosts].
type federation struct {
	t       testing.TB
	peers   []peer
	addrs   []string // s2s listeners
	options []testutil.Options
	servers []*testutil.Server
}

// federate starts one parley server per peer, each knowing the others'
// s2s listeners through [s2s.hosts], and adds alice and bob to each.
func federate(t testing.TB, peers ...peer) []*testutil.Server {
	t.Helper()
	return newFederation(t, peers...).servers
}

func newFederation(t testing.TB, peers ...peer) *federation {
	t.Helper()
	f := &federation{t: t, peers: peers}
	for range peers {
		f.addrs = append(f.addrs, testutil.FreeListenAddr(t))
	}
	for i, p := range peers {
		var hosts strings.Builder
		for j, q := range peers {
			if j != i {
				fmt.Fprintf(&hosts, "%q = %q\n", q.domain, f.addrs[j])
				for _, d := range q.more {
					fmt.Fprintf(&hosts, "%q = %q\n", d, f.addrs[j])
				}
			}
		}
		for d, a := range p.hosts {
			fmt.Fprintf(&hosts, "%q = %q\n", d, a)
		}
		s2sKeys := p.s2s
		if !strings.Contains(s2sKeys, "connect_timeout") {
			s2sKeys += "\nconnect_timeout = \"5s\""
		}
		extra := fmt.Sprintf("[s2s]\nlisten = %q\n%s\n[s2s.hosts]\n%s\n%s", f.addrs[i], s2sKeys, hosts.String(), p.extra)
		if p.tls != "" {
			extra += "\n[tls]\n" + p.tls + "\n"
		}
		o := testutil.Options{Dir: t.TempDir(), Domain: p.domain, MoreDomains: p.more, Extra: extra, LogLevel: "info"}
		f.options = append(f.options, o)
		srv := testutil.Start(t, o)
		srv.AddUser("alice", "alice-pw")
		srv.AddUser("bob", "bob-pw")
		f.servers = append(f.servers, srv)
	}
	return f
}

// restart stops server i and starts it again on the same data and
// listener.
func (f *federation) restart(i int) *testutil.Server {
	f.t.Helper()
	f.servers[i].Stop()
	f.servers[i] = testutil.Start(f.t, f.options[i])
	return f.servers[i]
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

func TestEachDomainPairAuthenticatesSeparately(t *testing.T) {
	s := federate(t, peer{domain: "a.test", more: []string{"a2.test"}}, peer{domain: "b.test"})
	a, b := s[0], s[1]
	a.AddUser("carol@a2.test", "carol-pw")
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	carol := testutil.Login(t, a.Addr, "carol@a2.test", "carol-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>from a</body></message>")
	carol.Send("<message to='bob@b.test/pc' type='chat'><body>from a2</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "from a"))
	bob.Expect(isMessageFrom(carol.JID, "from a2"))
	bob.Send("<message to='" + carol.JID + "' type='chat'><body>to a2</body></message>")
	carol.Expect(isMessageFrom(bob.JID, "to a2"))
	for _, local := range []string{"a.test", "a2.test"} {
		a.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"out"`, `"local":"`+local+`"`, `"remote":"b.test"`, `"auth":"dialback"`)
		b.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"in"`, `"local":"b.test"`, `"remote":"`+local+`"`, `"auth":"dialback"`)
	}
	b.WaitLog(2*time.Second, `"s2s link established"`, `"direction":"out"`, `"local":"b.test"`, `"remote":"a2.test"`)
}
