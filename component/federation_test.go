package component_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
)

// TestFederatedUser: the component's domain is served for federation. A
// user of another server reaches the component, through a link the other
// server authenticates with dialback against this one, and the
// component's reply reaches the user through a link from the component's
// domain.
func TestFederatedUser(t *testing.T) {
	const (
		a  = "a.test"
		b  = "b.test"
		gw = "gw.a.test"
	)
	aAddr, bAddr := testutil.FreeListenAddr(t), testutil.FreeListenAddr(t)
	srvA := testutil.Start(t, testutil.Options{Domain: a, LogLevel: "info", Extra: fmt.Sprintf(`[s2s]
listen = %q
connect_timeout = "5s"
[s2s.hosts]
%q = %q
[components]
listen = "127.0.0.1:0"
[components.secrets]
%q = %q
`, aAddr, b, bAddr, gw, gwSecret)})
	srvB := testutil.Start(t, testutil.Options{Domain: b, LogLevel: "info", Extra: fmt.Sprintf(`[s2s]
listen = %q
connect_timeout = "5s"
[s2s.hosts]
%q = %q
%q = %q
`, bAddr, a, aAddr, gw, aAddr)})
	srvB.AddUser("bob", "pw")
	bob := testutil.Login(t, srvB.Addr, "bob@"+b, "pw", "pc")

	c := dialComponent(t, srvA, gw)
	c.handshake(gwSecret)
	if el := c.Next(); !isHandshakeOK(el) {
		t.Fatalf("handshake answered with %s", el)
	}

	bob.Send("<message to='bot@" + gw + "' type='chat' id='f1'><body>hello from afar</body></message>")
	m := c.expectStanza("message")
	if m.From() != bob.JID || m.ID() != "f1" || m.ChildText(nsAccept, "body") != "hello from afar" {
		t.Fatalf("component got %s", m)
	}
	c.Write("<message from='bot@" + gw + "' to='" + bob.JID + "' type='chat' id='f2'><body>hello back</body></message>")
	if r := bob.Expect(testutil.IsFrom("message", "bot@"+gw)); r.ID() != "f2" || r.ChildText("", "body") != "hello back" {
		t.Fatalf("bob got %s", r)
	}
	// Both links are the component domain's own.
	for _, dir := range []string{`"direction":"in"`, `"direction":"out"`} {
		srvA.WaitLog(testutil.Timeout, `"message":"s2s link established"`, dir, `"local":"`+gw+`"`, `"remote":"`+b+`"`)
	}
}
