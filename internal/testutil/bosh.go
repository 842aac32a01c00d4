package testutil

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/stanza"
	"parley/xmlstream"
)

// BOSH namespaces (XEP-0124, XEP-0206).
const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"
)

// BOSHConn is a client stream over BOSH seen as a net.Conn, so that a
// Stream and a Client run over it unchanged. Like browser clients it
// keeps one request waiting at the server for output and sends what is
// written in another, never more than two at once; responses are read
// in request order. Writes are batched into the next request.
type BOSHConn struct {
	url    string
	domain string
	wait   int
	http   *http.Client
	// SID is the session id the server gave.
	SID string

	mu          sync.Mutex
	cond        *sync.Cond
	rid         uint64 // the last rid sent
	outstanding int
	pending     []byte
	restart     bool
	terminate   bool
	closed      bool
	nextRID     uint64            // the rid whose response is read next
	done        map[uint64][]byte // responses that came before earlier ones
	buf         []byte            // received content not read yet
	readErr     error
	deadline    time.Time
	sentEnd     chan struct{}
}

// BOSHPost posts body to a BOSH endpoint and returns the HTTP status and
// the response's <body/> (nil if it is none).
func BOSHPost(t testing.TB, url, body string) (int, *stanza.Element) {
	t.Helper()
	status, data, err := boshPost(boshHTTPClient(), url, body)
	if err != nil {
		t.Fatalf("BOSH post: %v", err)
	}
	el, _ := parseBOSHBody(data)
	return status, el
}

func boshHTTPClient() *http.Client {
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 4}}
}

func boshPost(c *http.Client, url, body string) (int, []byte, error) {
	resp, err := c.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func parseBOSHBody(data []byte) (*stanza.Element, error) {
	rd := xmlstream.NewFragmentReader(bufio.NewReader(bytes.NewReader(data)), 1<<22)
	el, err := rd.Next()
	if err != nil {
		return nil, fmt.Errorf("response %q: %w", data, err)
	}
	if el.Space != nsHTTPBind || el.Local != "body" {
		return nil, fmt.Errorf("response is not a BOSH body: %q", data)
	}
	return el, nil
}

// DialBOSH creates a BOSH session at url for domain, asking the server
// to hold requests up to wait seconds, and returns its stream with the
// features read.
func DialBOSH(t testing.TB, url, domain string, wait int) *Stream {
	t.Helper()
	c := &BOSHConn{url: url, domain: domain, wait: wait, http: boshHTTPClient(), done: make(map[uint64][]byte), sentEnd: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	c.rid = 1000 + rand.Uint64N(1<<40)
	status, data, err := boshPost(c.http, url, fmt.Sprintf(
		"<body xmlns='%s' xmlns:xmpp='%s' content='text/xml; charset=utf-8' rid='%d' to='%s' xml:lang='en' wait='%d' hold='1' ver='1.6' xmpp:version='1.0'/>",
		nsHTTPBind, nsXBOSH, c.rid, domain, wait))
	if err != nil || status != http.StatusOK {
		t.Fatalf("BOSH session creation at %s: %d %s %v", url, status, data, err)
	}
	el, err := parseBOSHBody(data)
	if err != nil {
		t.Fatal(err)
	}
	if c.SID = el.Attr("sid"); c.SID == "" {
		t.Fatalf("BOSH session creation response without sid: %s", data)
	}
	c.nextRID = c.rid + 1
	c.buf = inner(data)
	go c.send()
	s := &Stream{T: t, Conn: c, BOSH: c}
	s.BR = bufio.NewReader(c)
	s.RD = xmlstream.NewFragmentReader(s.BR, 1<<20)
	t.Cleanup(func() { c.Close() })
	s.Features = s.Next()
	return s
}

// LoginBOSH creates a BOSH session at url, authenticates with
// SCRAM-SHA-256 and binds resource; local is a localpart at Domain or a
// bare JID.
func LoginBOSH(t testing.TB, url, local, password, resource string) *Client {
	t.Helper()
	domain, user := Domain, local
	if i := strings.IndexByte(local, '@'); i >= 0 {
		user, domain = local[:i], local[i+1:]
	}
	s := DialBOSH(t, url, domain, 5)
	if el := s.Authenticate(msasl.ScramSha256, user, password); el.Local != "success" {
		t.Fatalf("login %s@%s over BOSH: %s", user, domain, el)
	}
	s.Open(domain)
	return s.client(s.Bind(resource))
}

// inner returns the content of a response's <body/>.
func inner(data []byte) []byte {
	data = bytes.TrimSpace(data)
	if bytes.HasSuffix(data, []byte("/>")) && bytes.Count(data, []byte("<")) == 1 {
		return nil
	}
	start := bytes.IndexByte(data, '>')
	end := bytes.LastIndex(data, []byte("</body>"))
	if start < 0 || end < start {
		return nil
	}
	return data[start+1 : end]
}

// send keeps a request at the server and sends what is written.
func (c *BOSHConn) send() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for !c.terminate && c.readErr == nil && (c.outstanding >= 2 || (len(c.pending) == 0 && !c.restart && c.outstanding > 0)) {
			c.cond.Wait()
		}
		if c.readErr != nil && !c.terminate {
			return
		}
		c.rid++
		attrs := ""
		if c.restart {
			attrs = fmt.Sprintf(" xmlns:xmpp='%s' xmpp:restart='true' to='%s' xml:lang='en'", nsXBOSH, c.domain)
			c.restart = false
		}
		if c.terminate {
			attrs += " type='terminate'"
		}
		body := fmt.Sprintf("<body xmlns='%s' rid='%d' sid='%s'%s>%s</body>", nsHTTPBind, c.rid, c.SID, attrs, c.pending)
		c.pending = nil
		c.outstanding++
		rid, last := c.rid, c.terminate
		go c.post(rid, body, last)
		if last {
			return
		}
	}
}

func (c *BOSHConn) post(rid uint64, body string, last bool) {
	status, data, err := boshPost(c.http, c.url, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.cond.Broadcast()
	if last {
		close(c.sentEnd)
	}
	c.outstanding--
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("BOSH request %d: HTTP %d: %s", rid, status, data)
	}
	if err == nil {
		_, err = parseBOSHBody(data)
	}
	if err != nil {
		if c.readErr == nil {
			c.readErr = err
		}
		return
	}
	c.done[rid] = data
	for {
		d, ok := c.done[c.nextRID]
		if !ok {
			break
		}
		delete(c.done, c.nextRID)
		c.nextRID++
		c.buf = append(c.buf, inner(d)...)
		if b, _ := parseBOSHBody(d); b != nil && b.Attr("type") == "terminate" && c.readErr == nil {
			c.readErr = io.EOF
		}
	}
}

// Restart asks for a stream restart (XEP-0206 §5), after SASL.
func (c *BOSHConn) Restart() {
	c.mu.Lock()
	c.restart = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Read reads the content of the server's responses, in order.
func (c *BOSHConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) == 0 {
		if c.readErr != nil {
			return 0, c.readErr
		}
		if !c.deadline.IsZero() && time.Now().After(c.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		c.cond.Wait()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Write queues p for the next request.
func (c *BOSHConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	c.pending = append(c.pending, p...)
	c.cond.Broadcast()
	return len(p), nil
}

// Close ends the session with a terminate request.
func (c *BOSHConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.terminate = true
	c.cond.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.sentEnd:
	case <-time.After(5 * time.Second):
	}
	c.mu.Lock()
	if c.readErr == nil {
		c.readErr = net.ErrClosed
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// Abandon stops sending requests without ending the session, as a
// client whose network went away, and returns the session id and the rid
// of the next request, for requests made by hand. It first waits until
// every request it made was answered (held ones are, after the session's
// wait), so that the server has taken each of them and requests made by
// hand meet a known window.
func (c *BOSHConn) Abandon() (sid string, nextRID uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.readErr == nil {
		c.readErr = errors.New("abandoned")
	}
	c.cond.Broadcast()
	deadline := time.Now().Add(time.Duration(c.wait)*time.Second + Timeout)
	timer := time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	for c.outstanding > 0 && time.Now().Before(deadline) {
		c.cond.Wait()
	}
	return c.SID, c.rid + 1
}

// SetReadDeadline bounds reads.
func (c *BOSHConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	if !t.IsZero() {
		time.AfterFunc(time.Until(t)+time.Millisecond, func() {
			c.mu.Lock()
			c.cond.Broadcast()
			c.mu.Unlock()
		})
	}
	return nil
}

// SetDeadline sets the read deadline.
func (c *BOSHConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetWriteDeadline does nothing: writes never block.
func (c *BOSHConn) SetWriteDeadline(time.Time) error { return nil }

// LocalAddr is unknown.
func (c *BOSHConn) LocalAddr() net.Addr { return &net.TCPAddr{} }

// RemoteAddr is unknown.
func (c *BOSHConn) RemoteAddr() net.Addr { return &net.TCPAddr{} }
