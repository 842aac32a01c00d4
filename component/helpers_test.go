package component_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/xmlstream"
)

// Test components: gw is connected in most tests, idle never is.
const (
	gw       = "gw." + testutil.Domain
	gwSecret = "gw-secret-0123456789"
	idle     = "idle." + testutil.Domain
	nsAccept = "jabber:component:accept"
)

// componentConfig is the configuration snippet for the test components,
// with stanzas limited to maxStanza bytes.
func componentConfig(maxStanza int) string {
	return fmt.Sprintf(`[c2s]
max_stanza_size = %d
[components]
listen = "127.0.0.1:0"
[components.secrets]
%q = %q
%q = "idle-secret-0123456789"
`, maxStanza, gw, gwSecret, idle)
}

// startServer starts a server with the test components and the user
// alice, logging at info level so that tests can check the log lines.
func startServer(t *testing.T) *testutil.Server {
	t.Helper()
	srv := testutil.Start(t, testutil.Options{Extra: componentConfig(20000), LogLevel: "info"})
	srv.AddUser("alice", "pw")
	return srv
}

// compConn is a raw component connection.
type compConn struct {
	*testutil.Stream
	header xmlstream.Header // the server's stream header
}

// dialComponent connects to the server's component listener, sends a
// stream header for domain and reads the server's.
func dialComponent(t *testing.T, srv *testutil.Server, domain string) *compConn {
	t.Helper()
	c := &compConn{Stream: testutil.DialRaw(t, srv.Server.Addr("components"))}
	c.Write("<stream:stream xmlns='" + nsAccept + "' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "'>")
	c.RD = xmlstream.NewReader(c.BR, 1<<20)
	c.Conn.SetReadDeadline(time.Now().Add(testutil.Timeout))
	h, err := c.RD.ReadHeader()
	if err != nil {
		t.Fatalf("read the server's stream header: %v", err)
	}
	c.header = h
	return c
}

// digest is the XEP-0114 handshake value: the lowercase hex SHA-1 of the
// stream id followed by the secret.
func digest(id, secret string) string {
	sum := sha1.Sum([]byte(id + secret))
	return hex.EncodeToString(sum[:])
}

// handshake sends the handshake for secret.
func (c *compConn) handshake(secret string) {
	c.T.Helper()
	c.Write("<handshake>" + digest(c.header.ID, secret) + "</handshake>")
}

// connect connects and authenticates as the component for gw.
func connect(t *testing.T, srv *testutil.Server) *compConn {
	t.Helper()
	c := dialComponent(t, srv, gw)
	c.handshake(gwSecret)
	if el := c.Next(); !isHandshakeOK(el) {
		t.Fatalf("handshake answered with %s", el)
	}
	return c
}

func isHandshakeOK(el *stanza.Element) bool {
	return el.Space == nsAccept && el.Local == "handshake" && len(el.Children) == 0
}

// expectStanza reads the next element, which must be a stanza of kind in
// the component namespace.
func (c *compConn) expectStanza(kind string) *stanza.Element {
	c.T.Helper()
	el := c.Next()
	if el.Space != nsAccept || el.Local != kind {
		c.T.Fatalf("got %s, want a %s in %s", el, kind, nsAccept)
	}
	return el
}

// close ends the stream and waits for the server's closing tag.
func (c *compConn) close() {
	c.T.Helper()
	c.Write("</stream:stream>")
	for {
		if _, err := c.NextErr(); err != nil {
			if err != xmlstream.ErrStreamClosed {
				c.T.Fatalf("after closing the stream: %v, want the server's closing tag", err)
			}
			return
		}
	}
}

// logLines returns the server's log lines with msg that name domain.
func logLines(srv *testutil.Server, msg, domain string) []string {
	return srv.LogLines(`"message":"`+msg+`"`, `"domain":"`+domain+`"`)
}

// hasReason reports whether one of lines has a reason containing s.
func hasReason(lines []string, s string) bool {
	for _, l := range lines {
		if i := strings.Index(l, `"reason":"`); i >= 0 && strings.Contains(l[i:], s) {
			return true
		}
	}
	return false
}
