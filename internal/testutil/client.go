package testutil

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/stanza"
	"parley/xmlstream"
)

// Timeout is how long helpers wait for an expected stanza.
const Timeout = 10 * time.Second

// Client is a minimal test client: raw XML over TLS, authenticated with
// mellium's independent SASL client implementation.
type Client struct {
	T    testing.TB
	JID  string // full JID after bind
	Conn net.Conn
	rd   *xmlstream.Reader
	br   *bufio.Reader

	mu      sync.Mutex
	pending []*stanza.Element
	arrived chan struct{}
	readErr error
	closed  chan struct{}
	ids     atomic.Int64
	closing string // what ends the stream
}

// Stream is an unauthenticated raw stream for protocol-level tests.
type Stream struct {
	T        testing.TB
	Conn     net.Conn
	BR       *bufio.Reader
	RD       *xmlstream.Reader
	Features *stanza.Element // from the last Open
	// WebSocket marks a stream over WebSocket (RFC 7395), opened with
	// <open/>; see DialWebSocket.
	WebSocket bool
	// BOSH is the connection of a stream over BOSH (XEP-0206); see
	// DialBOSH.
	BOSH *BOSHConn
}

// DialStream opens a TCP connection and sends a stream header for domain.
func DialStream(t testing.TB, addr, domain string) *Stream {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	s := &Stream{T: t, Conn: nc, BR: bufio.NewReader(nc)}
	s.Open(domain)
	return s
}

// Open sends a stream header and reads the server's header and features.
func (s *Stream) Open(domain string) *stanza.Element {
	s.T.Helper()
	if s.WebSocket {
		return s.openWebSocket(domain)
	}
	if s.BOSH != nil {
		s.BOSH.Restart()
		s.Features = s.Next()
		return s.Features
	}
	s.Write(fmt.Sprintf("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0' xml:lang='en'>", domain))
	s.RD = xmlstream.NewReader(s.BR, 1<<20)
	s.Conn.SetReadDeadline(time.Now().Add(Timeout))
	if _, err := s.RD.ReadHeader(); err != nil {
		s.T.Fatalf("read stream header: %v", err)
	}
	s.Features = s.Next()
	return s.Features
}

// Write sends raw text.
func (s *Stream) Write(raw string) {
	s.T.Helper()
	if _, err := s.Conn.Write([]byte(raw)); err != nil {
		s.T.Fatalf("write: %v", err)
	}
}

// Next reads the next top-level element, failing the test on error.
func (s *Stream) Next() *stanza.Element {
	s.T.Helper()
	el, err := s.NextErr()
	if err != nil {
		s.T.Fatalf("read: %v", err)
	}
	return el
}

// NextErr reads the next top-level element.
func (s *Stream) NextErr() (*stanza.Element, error) {
	s.Conn.SetReadDeadline(time.Now().Add(Timeout))
	return s.RD.Next()
}

// StartTLS negotiates STARTTLS on a stream whose features were read and
// reopens the stream; it returns the new features.
func (s *Stream) StartTLS(domain string) *stanza.Element {
	s.T.Helper()
	s.Write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if el := s.Next(); el.Local != "proceed" {
		s.T.Fatalf("starttls: got %s", el)
	}
	tc := tls.Client(s.Conn, &tls.Config{ServerName: domain, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		s.T.Fatalf("TLS handshake: %v", err)
	}
	s.Conn = tc
	s.BR = bufio.NewReader(tc)
	return s.Open(domain)
}

// ExpectStreamError reads until a stream error arrives and returns its
// condition; it fails if the stream ends without one.
func (s *Stream) ExpectStreamError() string {
	s.T.Helper()
	for {
		el, err := s.NextErr()
		if err != nil {
			s.T.Fatalf("expected a stream error, got %v", err)
		}
		if el.Space == stanza.NSStream && el.Local == "error" {
			if c := el.FirstElement(); c != nil {
				return c.Local
			}
			return ""
		}
	}
}

// Authenticate runs SASL with mechanism mech (a mellium mechanism) and
// reports the <success/> or <failure/> element.
func (s *Stream) Authenticate(mech msasl.Mechanism, user, password string) *stanza.Element {
	s.T.Helper()
	return s.authenticate(mech, mech.Name, true, user, password)
}

// AuthenticateAs runs SASL with the client side of mech but names the
// mechanism wireName in <auth/>, without telling the client which
// mechanisms the server offers: a -PLUS client then uses the GS2 "y" flag
// (it supports channel binding, but believes the server does not), as
// clients whose binding types the server lacks do on their second try.
func (s *Stream) AuthenticateAs(mech msasl.Mechanism, wireName, user, password string) *stanza.Element {
	s.T.Helper()
	return s.authenticate(mech, wireName, false, user, password)
}

func (s *Stream) authenticate(mech msasl.Mechanism, wireName string, remote bool, user, password string) *stanza.Element {
	s.T.Helper()
	var opts []msasl.Option
	opts = append(opts, msasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(password), nil }))
	if tc, ok := s.Conn.(*tls.Conn); ok {
		opts = append(opts, msasl.TLSState(tc.ConnectionState()))
	}
	if s.Features != nil && remote {
		if m := s.Features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms"); m != nil {
			var names []string
			for _, n := range m.ChildrenNamed("", "mechanism") {
				names = append(names, n.Text())
			}
			opts = append(opts, msasl.RemoteMechanisms(names...))
		}
	}
	neg := msasl.NewClient(mech, opts...)
	_, resp, err := neg.Step(nil)
	if err != nil {
		s.T.Fatalf("sasl start: %v", err)
	}
	enc := "="
	if len(resp) > 0 {
		enc = base64.StdEncoding.EncodeToString(resp)
	}
	s.Write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + wireName + "'>" + enc + "</auth>")
	for {
		el := s.Next()
		switch el.Local {
		case "challenge":
			data, _ := base64.StdEncoding.DecodeString(el.Text())
			_, resp, err := neg.Step(data)
			if err != nil {
				s.T.Fatalf("sasl step: %v", err)
			}
			s.Write("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString(resp) + "</response>")
		case "success":
			if txt := el.Text(); txt != "" {
				data, _ := base64.StdEncoding.DecodeString(txt)
				if _, _, err := neg.Step(data); err != nil {
					s.T.Fatalf("server signature rejected: %v", err)
				}
			}
			return el
		default:
			return el
		}
	}
}

// Bind binds resource (empty: server-generated) and returns the full JID.
func (s *Stream) Bind(resource string) string {
	s.T.Helper()
	r := ""
	if resource != "" {
		r = "<resource>" + resource + "</resource>"
	}
	s.Write("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>" + r + "</bind></iq>")
	el := s.Next()
	j := el.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").ChildText("urn:ietf:params:xml:ns:xmpp-bind", "jid")
	if el.Type() != "result" || j == "" {
		s.T.Fatalf("bind failed: %s", el)
	}
	return j
}

// Login connects with STARTTLS, authenticates with SCRAM-SHA-256 and binds
// resource; local is the localpart at Domain or a bare JID.
func Login(t testing.TB, addr, local, password, resource string) *Client {
	t.Helper()
	domain := Domain
	user := local
	if i := strings.IndexByte(local, '@'); i >= 0 {
		user, domain = local[:i], local[i+1:]
	}
	s := DialStream(t, addr, domain)
	s.StartTLS(domain)
	if el := s.Authenticate(msasl.ScramSha256, user, password); el.Local != "success" {
		t.Fatalf("login %s@%s: %s", user, domain, el)
	}
	s.Open(domain)
	full := s.Bind(resource)
	return s.client(full)
}

// Client turns a stream bound to the full JID into a Client.
func (s *Stream) Client(full string) *Client { return s.client(full) }

// client turns a bound stream into a Client.
func (s *Stream) client(full string) *Client {
	s.Conn.SetReadDeadline(time.Time{})
	c := &Client{T: s.T, JID: full, Conn: s.Conn, rd: s.RD, br: s.BR, arrived: make(chan struct{}, 1), closed: make(chan struct{}), closing: "</stream:stream>"}
	if s.WebSocket {
		c.closing = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"
	}
	if s.BOSH != nil {
		c.closing = "" // closing the connection terminates the session
	}
	go c.readLoop()
	s.T.Cleanup(c.Close)
	return c
}

func (c *Client) readLoop() {
	defer close(c.closed)
	for {
		el, err := c.rd.Next()
		c.mu.Lock()
		if err != nil {
			c.readErr = err
			c.mu.Unlock()
			c.signal()
			return
		}
		c.pending = append(c.pending, el)
		c.mu.Unlock()
		c.signal()
	}
}

func (c *Client) signal() {
	select {
	case c.arrived <- struct{}{}:
	default:
	}
}

// Send writes raw XML.
func (c *Client) Send(raw string) {
	c.T.Helper()
	if _, err := c.Conn.Write([]byte(raw)); err != nil {
		c.T.Fatalf("%s: write: %v", c.JID, err)
	}
}

// Sendf formats and writes raw XML.
func (c *Client) Sendf(format string, args ...any) {
	c.T.Helper()
	c.Send(fmt.Sprintf(format, args...))
}

// NewID returns a fresh stanza id.
func (c *Client) NewID() string { return "t" + strconv.FormatInt(c.ids.Add(1), 10) }

// Expect waits for the first received element matching match, removing it
// from the inbox; elements that do not match stay for later.
func (c *Client) Expect(match func(*stanza.Element) bool) *stanza.Element {
	c.T.Helper()
	el, err := c.expect(match, Timeout)
	if err != nil {
		c.T.Fatalf("%s: %v", c.JID, err)
	}
	return el
}

// Take removes and returns, in arrival order, every element received so
// far that matches match, without waiting.
func (c *Client) Take(match func(*stanza.Element) bool) []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*stanza.Element
	kept := c.pending[:0:0]
	for _, el := range c.pending {
		if match(el) {
			out = append(out, el)
		} else {
			kept = append(kept, el)
		}
	}
	c.pending = kept
	return out
}

func (c *Client) expect(match func(*stanza.Element) bool, d time.Duration) (*stanza.Element, error) {
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		for i, el := range c.pending {
			if match(el) {
				c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
				c.mu.Unlock()
				return el, nil
			}
		}
		rerr := c.readErr
		c.mu.Unlock()
		if rerr != nil {
			return nil, fmt.Errorf("stream ended while waiting: %w", rerr)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errors.New("timed out waiting for a matching stanza; inbox: " + c.inbox())
		}
		select {
		case <-c.arrived:
		case <-time.After(left):
		}
	}
}

func (c *Client) inbox() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, el := range c.pending {
		b.WriteString(el.String())
		b.WriteString(" ")
	}
	return b.String()
}

// ExpectNone fails if an element matching match arrives within d.
func (c *Client) ExpectNone(match func(*stanza.Element) bool, d time.Duration) {
	c.T.Helper()
	if el, err := c.expect(match, d); err == nil {
		c.T.Fatalf("%s: unexpected %s", c.JID, el)
	}
}

// IQ sends an iq (with id set to a fresh one if it has none) and returns
// the response.
func (c *Client) IQ(raw string) *stanza.Element {
	c.T.Helper()
	el, err := stanza.Parse(raw)
	if err != nil {
		c.T.Fatalf("bad iq in test: %v", err)
	}
	id := el.ID()
	if id == "" {
		id = c.NewID()
		el.SetAttr("id", id)
	}
	c.Send(el.String())
	return c.Expect(func(r *stanza.Element) bool {
		return r.Local == "iq" && r.ID() == id && (r.Type() == "result" || r.Type() == "error")
	})
}

// Drain discards everything received so far.
func (c *Client) Drain() {
	c.mu.Lock()
	c.pending = nil
	c.mu.Unlock()
}

// WaitClosed waits for the server to end the stream and returns the read
// error (xmlstream.ErrStreamClosed for a clean close).
func (c *Client) WaitClosed() error {
	c.T.Helper()
	select {
	case <-c.closed:
	case <-time.After(Timeout):
		c.T.Fatalf("%s: stream not closed", c.JID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// Close ends the stream politely.
func (c *Client) Close() {
	c.Conn.Write([]byte(c.closing))
	select {
	case <-c.closed:
	case <-time.After(2 * time.Second):
	}
	c.Conn.Close()
}

// IsKind matches stanzas of a kind ("message", "presence", "iq").
func IsKind(kind string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Local == kind }
}

// IsFrom matches stanzas of a kind from an address.
func IsFrom(kind, from string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool { return el.Local == kind && el.From() == from }
}

// DialRaw opens a TCP connection without sending anything.
func DialRaw(t testing.TB, addr string) *Stream {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &Stream{T: t, Conn: nc, BR: bufio.NewReader(nc)}
}

// ExpectHeaderThenError reads the server's stream header and returns the
// condition of the stream error that follows.
func (s *Stream) ExpectHeaderThenError() string {
	s.T.Helper()
	s.RD = xmlstream.NewReader(s.BR, 1<<20)
	s.Conn.SetReadDeadline(time.Now().Add(Timeout))
	if _, err := s.RD.ReadHeader(); err != nil {
		s.T.Fatalf("read stream header: %v", err)
	}
	return s.ExpectStreamError()
}

// DialTLS connects to a direct TLS (XEP-0368) port and opens a stream;
// Features holds the stream features.
func DialTLS(t testing.TB, addr, domain string) *Stream {
	t.Helper()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: Timeout}, "tcp", addr, &tls.Config{ServerName: domain, InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("dial TLS %s: %v", addr, err)
	}
	t.Cleanup(func() { tc.Close() })
	s := &Stream{T: t, Conn: tc, BR: bufio.NewReader(tc)}
	s.Open(domain)
	return s
}

// OpenFeatures opens a stream on a raw connection and returns the features.
func (s *Stream) OpenFeatures(domain string) *stanza.Element {
	s.T.Helper()
	return s.Open(domain)
}

// ExpectOrderlyClose checks, after a stream error, that the server closes
// the connection in order although the client is still sending: it
// writes more, shuts the client's side, and reads r (the buffered reader
// of conn) to the end, which must not be a reset. A reset can destroy
// data in flight, such as the stream error itself, before the peer reads
// it. conn is the client's connection, TLS or plain TCP.
func ExpectOrderlyClose(t testing.TB, conn net.Conn, r io.Reader) {
	t.Helper()
	more := []byte(strings.Repeat(" ", 16<<10))
	for range 4 {
		if _, err := conn.Write(more); err != nil {
			t.Fatalf("write after the stream error: %v (the server closed the connection without reading what was still arriving)", err)
		}
	}
	tcp := conn
	if tc, ok := conn.(*tls.Conn); ok {
		tcp = tc.NetConn()
	}
	if hc, ok := tcp.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(Timeout))
	if _, err := io.Copy(io.Discard, r); errors.Is(err, syscall.ECONNRESET) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the stream error: %v, want an orderly end of the connection", err)
	}
}

// ExpectOrderlyClose is ExpectOrderlyClose on the stream's connection.
func (s *Stream) ExpectOrderlyClose() {
	s.T.Helper()
	ExpectOrderlyClose(s.T, s.Conn, s.BR)
}
