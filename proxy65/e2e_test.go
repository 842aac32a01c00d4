package proxy65_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/proxy65"
	"parley/stanza"
)

const (
	proxyDomain = "proxy." + testutil.Domain
	gateway     = "gw." + testutil.Domain
)

// start runs a server with the proxy on a loopback port and an external
// component (a domain that is not the server's), and logs alice and bob
// in.
func start(t *testing.T) (srv *testutil.Server, alice, bob *testutil.Client) {
	t.Helper()
	srv = testutil.Start(t, testutil.Options{LogLevel: "info", Extra: fmt.Sprintf(`[proxy65]
domain = %q
listen = "127.0.0.1:0"
[components]
listen = "127.0.0.1:0"
[components.secrets]
%q = "gateway-secret-0123456789"
`, proxyDomain, gateway)})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	alice = testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "pc")
	bob = testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "phone")
	return srv, alice, bob
}

// streamhost asks the proxy for its network address.
func streamhost(t *testing.T, c *testutil.Client) string {
	t.Helper()
	r := c.IQ("<iq type='get' to='" + proxyDomain + "'><query xmlns='" + proxy65.NS + "'/></iq>")
	var sh *stanza.Element
	if q := r.Child(proxy65.NS, "query"); q != nil {
		sh = q.Child(proxy65.NS, "streamhost")
	}
	if r.Type() != "result" || sh == nil || sh.Attr("jid") != proxyDomain {
		t.Fatalf("streamhost request: %s", r)
	}
	return net.JoinHostPort(sh.Attr("host"), sh.Attr("port"))
}

// socks5 connects to the proxy at addr for the bytestream hash.
func socks5(t *testing.T, addr, hash string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testutil.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testutil.Timeout))
	req := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(hash))}, hash...)
	if _, err := c.Write(append(req, 0, 0)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2+5+len(hash)+2)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("SOCKS5 answer: %v", err)
	}
	want := append(append([]byte{5, 0, 5, 0, 0, 3, byte(len(hash))}, hash...), 0, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("SOCKS5 answer % x, want % x", got, want)
	}
	c.SetDeadline(time.Time{})
	return c
}

func activate(c *testutil.Client, sid, target string) *stanza.Element {
	return c.IQ("<iq type='set' to='" + proxyDomain + "'><query xmlns='" + proxy65.NS + "' sid='" + sid + "'><activate>" + target + "</activate></query></iq>")
}

func wantError(t *testing.T, what string, r *stanza.Element, condition string) {
	t.Helper()
	if got := testutil.ErrorCondition(r); got != condition {
		t.Errorf("%s: got %s, want the error %s", what, r, condition)
	}
}

func TestDiscovery(t *testing.T) {
	srv, alice, _ := start(t)
	items := alice.IQ("<iq type='get' to='" + srv.Domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if !strings.Contains(items.String(), "jid='"+proxyDomain+"'") {
		t.Fatalf("server items lack the proxy: %s", items)
	}
	info := alice.IQ("<iq type='get' to='" + proxyDomain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	for _, want := range []string{"category='proxy' type='bytestreams'", "var='" + proxy65.NS + "'"} {
		if !strings.Contains(info.String(), want) {
			t.Errorf("disco#info lacks %s: %s", want, info)
		}
	}
	items = alice.IQ("<iq type='get' to='" + proxyDomain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if items.Type() != "result" {
		t.Errorf("disco#items of the proxy: %s", items)
	}
}

// TestMediatedTransfer runs the XEP-0065 mediated flow between two
// clients of the server: alice offers bob the proxy, bob connects and
// says so, alice connects and activates, and megabytes go both ways.
func TestMediatedTransfer(t *testing.T) {
	_, alice, bob := start(t)
	addr := streamhost(t, alice)
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("streamhost %s, want the listener's host", addr)
	}
	const sid = "transfer-1"
	alice.Send("<iq type='set' id='offer' to='" + bob.JID + "'><query xmlns='" + proxy65.NS + "' sid='" + sid + "' mode='tcp'>" +
		"<streamhost jid='" + proxyDomain + "' host='" + strings.Split(addr, ":")[0] + "' port='" + strings.Split(addr, ":")[1] + "'/></query></iq>")
	offer := bob.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.ID() == "offer" })
	q := offer.Child(proxy65.NS, "query")
	sh := q.Child(proxy65.NS, "streamhost")
	hash := proxy65.Hash(q.Attr("sid"), offer.From(), offer.To())
	toBob := socks5(t, net.JoinHostPort(sh.Attr("host"), sh.Attr("port")), hash)
	bob.Send("<iq type='result' id='offer' to='" + offer.From() + "'><query xmlns='" + proxy65.NS + "'><streamhost-used jid='" + sh.Attr("jid") + "'/></query></iq>")
	used := alice.Expect(func(el *stanza.Element) bool { return el.Local == "iq" && el.ID() == "offer" })
	if used.Type() != "result" {
		t.Fatalf("offer answered %s", used)
	}
	fromAlice := socks5(t, addr, proxy65.Hash(sid, alice.JID, bob.JID))
	if r := activate(alice, sid, bob.JID); r.Type() != "result" {
		t.Fatalf("activation: %s", r)
	}

	up, down := make([]byte, 4<<20), make([]byte, 1<<20)
	rand.Read(up)
	rand.Read(down)
	sent := make(chan error, 2)
	send := func(c net.Conn, data []byte) {
		_, err := c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		sent <- err
	}
	go send(fromAlice, up)
	go send(toBob, down)
	for _, c := range []net.Conn{fromAlice, toBob} {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
	}
	atBob, err := io.ReadAll(toBob)
	if err != nil {
		t.Fatalf("bob reading: %v", err)
	}
	atAlice, err := io.ReadAll(fromAlice)
	if err != nil {
		t.Fatalf("alice reading: %v", err)
	}
	for range 2 {
		if err := <-sent; err != nil {
			t.Fatalf("sending: %v", err)
		}
	}
	if !bytes.Equal(atBob, up) || !bytes.Equal(atAlice, down) {
		t.Fatalf("bob got %d bytes and alice %d; sent %d and %d", len(atBob), len(atAlice), len(up), len(down))
	}
}

func TestActivationErrors(t *testing.T) {
	srv, alice, bob := start(t)
	addr := streamhost(t, alice)
	wantError(t, "unknown sid", activate(alice, "nothing", bob.JID), "item-not-found")

	const sid = "errors-1"
	hash := proxy65.Hash(sid, alice.JID, bob.JID)
	socks5(t, addr, hash) // the target alone
	wantError(t, "target not connected", activate(alice, sid, bob.JID), "not-allowed")
	socks5(t, addr, hash) // the initiator
	// The hash holds the initiator's full JID: nobody else activates.
	wantError(t, "activation by the target", activate(bob, sid, alice.JID), "item-not-found")
	other := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "laptop")
	wantError(t, "activation by another resource", activate(other, sid, bob.JID), "item-not-found")
	wantError(t, "no sid", other.IQ("<iq type='set' to='"+proxyDomain+"'><query xmlns='"+proxy65.NS+"'><activate>"+bob.JID+"</activate></query></iq>"), "bad-request")
	wantError(t, "no activate", other.IQ("<iq type='set' to='"+proxyDomain+"'><query xmlns='"+proxy65.NS+"' sid='x'/></iq>"), "bad-request")
	if r := activate(alice, sid, bob.JID); r.Type() != "result" {
		t.Fatalf("activation: %s", r)
	}
	wantError(t, "second activation", activate(alice, sid, bob.JID), "not-allowed")
}

// TestOnlyLocalUsers: an address that is not a user of the server's
// domains (here an external component's) may neither get the proxy's
// address nor activate.
func TestOnlyLocalUsers(t *testing.T) {
	srv, _, _ := start(t)
	gw := testutil.DialComponent(t, srv.Server.Addr("components"), gateway, "gateway-secret-0123456789")
	from := "eve@" + gateway + "/x"
	r := gw.IQ("<iq type='get' from='" + from + "' to='" + proxyDomain + "'><query xmlns='" + proxy65.NS + "'/></iq>")
	wantError(t, "streamhost for a foreign user", r, "forbidden")
	r = gw.IQ("<iq type='set' from='" + from + "' to='" + proxyDomain + "'><query xmlns='" + proxy65.NS + "' sid='s'><activate>bob@" + srv.Domain + "/phone</activate></query></iq>")
	wantError(t, "activation by a foreign user", r, "forbidden")
	r = gw.IQ("<iq type='get' from='" + gateway + "' to='" + proxyDomain + "'><query xmlns='" + proxy65.NS + "'/></iq>")
	wantError(t, "streamhost for a component", r, "forbidden")
}
