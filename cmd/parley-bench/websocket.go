package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// XMPP over WebSocket (RFC 7395): the stream opens and restarts with
// <open/>, ends with <close/>, and every message holds one element.
const (
	nsFraming     = "urn:ietf:params:xml:ns:xmpp-framing"
	wsSubprotocol = "xmpp"
)

// wsClose ends a stream over WebSocket.
var wsClose = []byte("<close xmlns='" + nsFraming + "'/>")

// wsHeader returns the <open/> that starts (and restarts) a stream to
// domain over WebSocket.
func wsHeader(domain string) []byte {
	return []byte("<open xmlns='" + nsFraming + "' to='" + escape(domain) + "' version='1.0' xml:lang='en'/>")
}

// qualify gives a stanza (message, presence or iq) without a namespace
// of its own the jabber:client namespace: over WebSocket each element is
// a document of its own and inherits none from <open/>. Other elements,
// and stanzas that have an xmlns, are returned as they are.
func qualify(b []byte) []byte {
	name := elemName(b)
	switch string(name) {
	case "message", "presence", "iq":
	default:
		return b
	}
	if _, ok := attr(b, "xmlns"); ok {
		return b
	}
	n := 1 + len(name)
	out := make([]byte, 0, len(b)+len(nsClientAttr))
	out = append(out, b[:n]...)
	out = append(out, nsClientAttr...)
	return append(out, b[n:]...)
}

// nsClientAttr is what qualify inserts.
const nsClientAttr = " xmlns='jabber:client'"

// wsHostPort returns the host:port a ws:// or wss:// URL connects to.
func wsHostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
	switch {
	case port == "":
		return "", fmt.Errorf("scheme %q: want ws:// or wss://", u.Scheme)
	case u.Hostname() == "":
		return "", errors.New("no host")
	case u.Port() != "":
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// dialWebSocket opens a WebSocket connection to the connector's URL with
// the xmpp subprotocol (no Origin header: the generator is no browser
// page) and opens the stream; it returns the session with the stream's
// features. A ws:// endpoint on loopback counts as secure to the servers
// under test, so there is no STARTTLS: SASL follows at once. The raw
// connection's deadline covers the negotiation; callers clear it when
// done.
func (c *connector) dialWebSocket(ctx context.Context) (*session, features, error) {
	var raw *corkConn
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := c.src.dialer()
			d.Timeout = setupTimeout
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			nc.SetDeadline(time.Now().Add(setupTimeout))
			raw = &corkConn{Conn: nc}
			return raw, nil
		},
		TLSClientConfig:     c.tls, // wss://
		TLSHandshakeTimeout: setupTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, c.wsURL, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		Subprotocols: []string{wsSubprotocol},
	})
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, features{}, fmt.Errorf("connect: %w", err)
	}
	if p := ws.Subprotocol(); p != wsSubprotocol {
		ws.CloseNow()
		return nil, features{}, fmt.Errorf("connect: the server chose subprotocol %q, not %q", p, wsSubprotocol)
	}
	ws.SetReadLimit(maxStanza)
	s := &session{nc: raw, ws: ws, cork: raw, sc: newScanner(&wsReader{ws: ws}, c.readBuffer, maxStanza)}
	s.sc.framed = true
	feats, err := c.open(s)
	if err != nil {
		ws.CloseNow()
		return nil, features{}, fmt.Errorf("open stream: %w", err)
	}
	return s, feats, nil
}

// wsReader reads the text messages of a WebSocket connection as one run
// of bytes; since each message is one element, the scanner finds the
// same boundaries again.
type wsReader struct {
	ws  *websocket.Conn
	msg io.Reader // the message being read; nil between messages
}

func (r *wsReader) Read(p []byte) (int, error) {
	for {
		if r.msg == nil {
			typ, msg, err := r.ws.Reader(context.Background())
			if err != nil {
				return 0, err
			}
			if typ != websocket.MessageText {
				return 0, errors.New("binary WebSocket message (RFC 7395 uses text messages)")
			}
			r.msg = msg
		}
		n, err := r.msg.Read(p)
		if err == io.EOF {
			r.msg = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

// corkConn is the connection under a WebSocket: while held, what the
// WebSocket library writes (one flush per message) is kept, and release
// sends it in one write, so that several messages leave together as
// several stanzas do in one write over TCP.
type corkConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold starts keeping writes.
func (c *corkConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release writes what was kept and stops keeping writes.
func (c *corkConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// writeMessages sends the elements of b, which end at the offsets ends,
// one message each, in one write to the connection. The stanzas among
// them carry their namespace already (see newSender): this is the
// traffic's hot path.
func (s *session) writeMessages(b []byte, ends []int) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.cork.hold()
	start := 0
	for _, end := range ends {
		if err := s.ws.Write(context.Background(), websocket.MessageText, b[start:end]); err != nil {
			s.cork.release()
			return err
		}
		start = end
	}
	return s.cork.release()
}

// wsPing is the keepalive over WebSocket, where a message is one
// element and whitespace has no place: a ping frame, whose pong the
// read loop consumes.
func (s *session) wsPing() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), keepaliveInterval)
		defer cancel()
		s.ws.Ping(ctx)
	}()
}
