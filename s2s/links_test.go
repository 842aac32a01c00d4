package s2s_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

// isErrorFrom matches an error stanza about a stanza sent to `to`.
func isErrorFrom(kind, from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		return el.Kind() == kind && el.Type() == "error" && el.From() == from
	}
}

// silentListener accepts connections and never answers, like a peer
// that hangs.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

func TestUnreachablePeersBounceEveryQueuedStanza(t *testing.T) {
	refused := testutil.FreeListenAddr(t) // nothing listens there
	hung := silentListener(t)
	s := federate(t, peer{
		domain: "a.test",
		s2s:    `connect_timeout = "1s"`,
		hosts:  map[string]string{"refused.test": refused, "hung.test": hung},
	})
	if got := s[0].Config.S2S.ConnectTimeout.Duration; got != time.Second {
		t.Fatalf("connect_timeout = %v, want 1s", got)
	}
	alice := testutil.Login(t, s[0].Addr, "alice@a.test", "alice-pw", "pc")
	cases := []struct {
		domain, condition string
	}{
		{"refused.test", "remote-server-not-found"},
		{"hung.test", "remote-server-timeout"},
		{"nowhere.invalid", "remote-server-not-found"}, // no address at all
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			start := time.Now()
			// Several stanzas queue while the link is set up; each one
			// comes back.
			for _, id := range []string{"m1", "m2", "m3"} {
				alice.Sendf("<message to='bob@%s' type='chat' id='%s'><body>hello</body></message>", c.domain, id)
			}
			alice.Sendf("<iq to='%s' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>", c.domain)
			for _, id := range []string{"m1", "m2", "m3"} {
				el := alice.Expect(func(el *stanza.Element) bool {
					return el.Kind() == "message" && el.ID() == id && el.Type() == "error"
				})
				if got := testutil.ErrorCondition(el); got != c.condition {
					t.Errorf("message %s: error %q, want %q: %s", id, got, c.condition, el)
				}
				if el.From() != "bob@"+c.domain {
					t.Errorf("message %s: error from %q, want bob@%s", id, el.From(), c.domain)
				}
			}
			el := alice.Expect(func(el *stanza.Element) bool { return el.ID() == "ping1" })
			if el.Type() != "error" || testutil.ErrorCondition(el) != c.condition {
				t.Errorf("ping: got %s, want a %s error", el, c.condition)
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("bounces took %v; the connect timeout is 1s", d)
			}
			s[0].WaitLog(time.Second, `"s2s link failed"`, `"remote":"`+c.domain+`"`, "stanzas bounced with "+c.condition)
		})
	}
}

func TestPolicyRefusesPeers(t *testing.T) {
	s := federate(t,
		peer{domain: "a.test", s2s: `allow = ["c.test"]`},
		peer{domain: "b.test", s2s: `deny = ["a.test"]`},
		peer{domain: "c.test"},
	)
	a, b, c := s[0], s[1], s[2]

	// a.test only federates with c.test: nothing leaves for b.test.
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hi</body></message>")
	el := alice.Expect(isErrorFrom("message", "bob@b.test"))
	if got := testutil.ErrorCondition(el); got != "not-allowed" {
		t.Errorf("a.test to b.test: error %q, want not-allowed: %s", got, el)
	}
	alice.Send("<message to='bob@c.test' type='chat' id='m2'><body>hi c</body></message>")
	bobC := testutil.Login(t, c.Addr, "bob@c.test", "bob-pw", "pc")
	alice.Send("<message to='bob@c.test/pc' type='chat' id='m3'><body>hi again</body></message>")
	bobC.Expect(isMessageFrom(alice.JID, "hi again"))

	// b.test denies a.test: nothing leaves b.test for a.test.
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	bob.Send("<message to='alice@a.test' type='chat' id='m4'><body>hi a</body></message>")
	el = bob.Expect(isErrorFrom("message", "alice@a.test"))
	if got := testutil.ErrorCondition(el); got != "not-allowed" {
		t.Errorf("b.test to a.test: error %q, want not-allowed: %s", got, el)
	}
	// c.test users still reach b.test.
	alice2 := testutil.Login(t, c.Addr, "alice@c.test", "alice-pw", "pc")
	alice2.Send("<message to='bob@b.test/pc' type='chat' id='m5'><body>from c</body></message>")
	bob.Expect(isMessageFrom(alice2.JID, "from c"))
}

func TestDeniedPeerIsRefusedAtTheStream(t *testing.T) {
	s := federate(t,
		peer{domain: "a.test"},
		peer{domain: "b.test", s2s: `deny = ["a.test"]`},
	)
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	alice.Send("<message to='bob@b.test' type='chat' id='m1'><body>hi</body></message>")
	el := alice.Expect(isErrorFrom("message", "bob@b.test"))
	if got := testutil.ErrorCondition(el); got != "remote-server-not-found" {
		t.Errorf("error %q, want remote-server-not-found: %s", got, el)
	}
	if !strings.Contains(el.String(), "policy-violation") {
		t.Errorf("the bounce should say the peer refused by policy: %s", el)
	}
	b.WaitLog(time.Second, `"s2s link refused"`, `"direction":"in"`, `"remote":"a.test"`, "s2s.deny")
	a.WaitLog(time.Second, `"s2s link failed"`, `"remote":"b.test"`, "policy-violation")
}

func TestPeerRestartIsReconnectedPromptly(t *testing.T) {
	f := newFederation(t, peer{domain: "a.test"}, peer{domain: "b.test"})
	a := f.servers[0]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, f.servers[1].Addr, "bob@b.test", "bob-pw", "pc")
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>one</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "one"))

	// b.test goes down: a.test sees the link close and bounces what is
	// sent while the peer is away.
	f.servers[1].Stop()
	a.WaitLog(5*time.Second, `"s2s link closed"`, `"direction":"out"`, `"remote":"b.test"`, "system-shutdown")
	alice.Send("<message to='bob@b.test/pc' type='chat' id='away'><body>two</body></message>")
	el := alice.Expect(func(el *stanza.Element) bool { return el.ID() == "away" })
	if testutil.ErrorCondition(el) != "remote-server-not-found" {
		t.Fatalf("while b.test is down: %s", el)
	}

	// Back up: the next stanza opens a new link at once.
	b := f.restart(1)
	bob = testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	start := time.Now()
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>three</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "three"))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("reconnecting took %v", d)
	}
}

func TestIdleLinksCloseAndReopen(t *testing.T) {
	s := federate(t, peer{domain: "a.test", s2s: `idle_timeout = "300ms"`}, peer{domain: "b.test"})
	a, b := s[0], s[1]
	alice := testutil.Login(t, a.Addr, "alice@a.test", "alice-pw", "pc")
	bob := testutil.Login(t, b.Addr, "bob@b.test", "bob-pw", "pc")
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>one</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "one"))
	a.WaitLog(3*time.Second, `"s2s link closed"`, `"direction":"out"`, `"remote":"b.test"`, `"reason":"idle"`)
	b.WaitLog(3*time.Second, `"s2s link closed"`, `"direction":"in"`, `"remote":"a.test"`)
	alice.Send("<message to='bob@b.test/pc' type='chat'><body>two</body></message>")
	bob.Expect(isMessageFrom(alice.JID, "two"))
	if n := len(a.LogLines(`"s2s link established"`, `"direction":"out"`, `"remote":"b.test"`)); n != 2 {
		t.Errorf("%d outgoing links established, want 2 (one before and one after the idle close)", n)
	}
}
