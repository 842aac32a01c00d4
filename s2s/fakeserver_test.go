package s2s_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/certs"
	"parley/internal/testutil"
	"parley/router"
	"parley/s2s"
	"parley/stanza"
	"parley/xmlstream"
)

// Stream features a fake remote server offers after TLS.
const (
	dialbackFeature = "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>"
	bidiFeature     = "<bidi xmlns='urn:xmpp:features:bidi'/>"
)

// fakeServer listens for the connections parley opens to a remote
// server (as initiating or as receiving server) and hands them to the
// test, which plays that server by hand.
type fakeServer struct {
	t     *testing.T
	ln    net.Listener
	conns chan net.Conn

	mu   sync.Mutex
	held []net.Conn
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, ln: ln, conns: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.held = append(f.held, c)
			f.mu.Unlock()
			f.conns <- c
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

// close stops listening and drops every connection.
func (f *fakeServer) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.held {
		c.Close()
	}
}

// accept waits for parley to connect.
func (f *fakeServer) accept() *rawPeer {
	f.t.Helper()
	select {
	case c := <-f.conns:
		return &rawPeer{t: f.t, conn: c, br: bufio.NewReader(c)}
	case <-time.After(5 * time.Second):
		f.t.Fatal("parley did not connect to the fake server")
		return nil
	}
}

// serveStream plays the receiving side of a stream parley opened: it
// answers the header as domain, offers STARTTLS, switches to TLS with
// cert and answers the new header with features. It returns the ID of
// the stream after TLS, the one dialback keys are bound to.
func (p *rawPeer) serveStream(domain string, cert tls.Certificate, features string) string {
	p.t.Helper()
	p.answerHeader(domain, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>")
	if el := p.next(); el.Local != "starttls" {
		p.t.Fatalf("expected <starttls/>, got %s", el)
	}
	p.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	tc := tls.Server(p.conn, &tls.Config{Certificates: []tls.Certificate{cert}})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		p.t.Fatalf("TLS: %v", err)
	}
	tc.SetDeadline(time.Time{})
	p.conn, p.br = tc, bufio.NewReader(tc)
	return p.answerHeader(domain, features)
}

// answerHeader reads the initiating server's stream header and answers
// it with ours and features.
func (p *rawPeer) answerHeader(domain, features string) string {
	p.t.Helper()
	p.rd = xmlstream.NewReader(p.br, 1<<20)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := p.rd.ReadHeader()
	if err != nil {
		p.t.Fatalf("read header: %v", err)
	}
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	p.write(fmt.Sprintf("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='%s' to='%s' id='%s' version='1.0'><stream:features>%s</stream:features>", domain, h.From, id, features))
	return id
}

// nextErr reads the next element, waiting at most d.
func (p *rawPeer) nextErr(d time.Duration) (*stanza.Element, error) {
	p.conn.SetReadDeadline(time.Now().Add(d))
	return p.rd.Next()
}

// expectClosed reads until the stream ends and fails if it is still open
// after d.
func (p *rawPeer) expectClosed(d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		el, err := p.nextErr(time.Until(deadline))
		if err == nil {
			p.t.Logf("before the stream closed: %s", el)
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			p.t.Fatalf("the stream is still open after %v", d)
		}
		return
	}
}

// elements reads the rest of the stream in the background.
func (p *rawPeer) elements() <-chan *stanza.Element {
	ch := make(chan *stanza.Element, 16)
	p.conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(ch)
		for {
			el, err := p.rd.Next()
			if err != nil {
				return
			}
			ch <- el
		}
	}()
	return ch
}

// inbox is a router session that records what it is sent.
type inbox struct {
	ch chan *stanza.Element
}

func newInbox() *inbox { return &inbox{ch: make(chan *stanza.Element, 64)} }

func (b *inbox) Send(el *stanza.Element) bool { b.ch <- el; return true }

func (b *inbox) Close(string, string) {}

// expect waits for a stanza matching match, dropping others.
func (b *inbox) expect(t *testing.T, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	deadline := time.After(testutil.Timeout)
	for {
		select {
		case el := <-b.ch:
			if match(el) {
				return el
			}
		case <-deadline:
			t.Fatal("no matching stanza")
			return nil
		}
	}
}

// expectNone fails if a stanza arrives within d.
func (b *inbox) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case el := <-b.ch:
		t.Fatalf("unexpected %s", el)
	case <-time.After(d):
	}
}

// fakeSRV answers SRV lookups from a table keyed by "_service._proto.name".
type fakeSRV map[string][]*net.SRV

func (f fakeSRV) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if recs, ok := f[key]; ok {
		return key, recs, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

func srvRecord(addr string, priority uint16) *net.SRV {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &net.SRV{Target: host + ".", Port: uint16(p), Priority: priority}
}

// standalone runs a federation service for a.test alone, without
// listening, with alice@a.test/pc bound to an inbox. o gives the
// resolver, roots and timeouts; the rest is filled in.
func standalone(t *testing.T, o s2s.Options) (*s2s.Service, *router.Router, *inbox) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	cert := loadCert(t)(testutil.SelfSigned(t, "a.test"))
	o.Certificate, _ = certs.NewHolder(func() (tls.Certificate, error) { return cert, nil })
	o.Local = []string{"a.test"}
	o.Router = router.New(o.Local, nil, log)
	o.Log = log
	s := s2s.New(o)
	o.Router.SetRemote(s.Send)
	alice := newInbox()
	o.Router.Bind(context.Background(), jid.MustParse("alice@a.test/pc"), alice)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, o.Router, alice
}

// caPool returns a pool trusting ca.
func caPool(ca *testutil.CA) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// message returns a chat message.
func message(from, to, id, body string) *stanza.Element {
	el := stanza.New("", "message", "from", from, "to", to, "type", "chat", "id", id)
	el.Append(stanza.New("", "body").AppendText(body))
	return el
}
