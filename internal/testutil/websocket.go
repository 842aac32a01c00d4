package testutil

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	msasl "mellium.im/sasl"

	"parley/stanza"
	"parley/xmlstream"
)

// DialWebSocket connects to an XMPP over WebSocket endpoint (RFC 7395)
// at url (ws:// or wss://, certificates unchecked), asking for the xmpp
// subprotocol, and opens a stream to domain. Each Write is one message;
// the server's messages are read as one run of elements.
func DialWebSocket(t testing.TB, url, domain string) *Stream {
	t.Helper()
	return WebSocketStream(t, DialWebSocketRaw(t, url, nil), domain)
}

// WebSocketStream opens a stream to domain on the WebSocket connection
// ws, as DialWebSocket does.
func WebSocketStream(t testing.TB, ws *websocket.Conn, domain string) *Stream {
	t.Helper()
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageText)
	t.Cleanup(func() { nc.Close() })
	s := &Stream{T: t, Conn: nc, BR: bufio.NewReader(nc), WebSocket: true}
	s.Open(domain)
	return s
}

// DialWebSocketRaw makes a WebSocket connection to url; o defaults to
// asking for the xmpp subprotocol.
func DialWebSocketRaw(t testing.TB, url string, o *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if o == nil {
		o = &websocket.DialOptions{Subprotocols: []string{"xmpp"}}
	}
	o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, o)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("WebSocket dial %s: %v %s", url, err, status)
	}
	ws.SetReadLimit(1 << 20)
	return ws
}

// openWebSocket sends <open/> and reads the server's <open/> and the
// stream features.
func (s *Stream) openWebSocket(domain string) *stanza.Element {
	s.T.Helper()
	s.Write(fmt.Sprintf("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='%s' version='1.0' xml:lang='en'/>", domain))
	s.RD = xmlstream.NewFragmentReader(s.BR, 1<<20)
	open := s.Next()
	if open.Space != "urn:ietf:params:xml:ns:xmpp-framing" || open.Local != "open" || open.Attr("version") != "1.0" || open.Attr("id") == "" {
		s.T.Fatalf("expected the server's <open/>, got %s", open)
	}
	s.Features = s.Next()
	if s.Features.Space != stanza.NSStream || s.Features.Local != "features" {
		s.T.Fatalf("expected stream features, got %s", s.Features)
	}
	return s.Features
}

// LoginWebSocket connects over WebSocket at url, authenticates with
// SCRAM-SHA-256 and binds resource; local is a localpart at Domain or a
// bare JID.
func LoginWebSocket(t testing.TB, url, local, password, resource string) *Client {
	t.Helper()
	domain, user := Domain, local
	if i := strings.IndexByte(local, '@'); i >= 0 {
		user, domain = local[:i], local[i+1:]
	}
	s := DialWebSocket(t, url, domain)
	if el := s.Authenticate(msasl.ScramSha256, user, password); el.Local != "success" {
		t.Fatalf("login %s@%s over WebSocket: %s", user, domain, el)
	}
	s.Open(domain)
	return s.client(s.Bind(resource))
}

// ReadMessage reads one text message from a raw WebSocket connection.
func ReadMessage(t testing.TB, ws *websocket.Conn) (string, error) {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	_, b, err := ws.Read(ctx)
	return string(b), err
}

// WriteMessage writes one text message to a raw WebSocket connection.
func WriteMessage(t testing.TB, ws *websocket.Conn, msg string) {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("WebSocket write: %v", err)
	}
}

// Context returns a context that ends after Timeout.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), Timeout)
}
