package c2s

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"parley/idlepoll"
	"parley/internal/linger"
	"parley/stanza"
	"parley/xmlstream"
)

// tcpOptions configure a tcpTransport.
type tcpOptions struct {
	ReadPool  *sync.Pool // read buffers, shared by every stream
	WritePool *sync.Pool // write buffers, shared by every stream
	// MaxQueue is the number of queued writes after which the client is
	// taken to be stuck.
	MaxQueue int
	// Poller parks idle streams; nil keeps a goroutine per stream.
	Poller *idlepoll.Poller
	// OnWriteError is called once when writing fails.
	OnWriteError func(error)
	// Resume goes on reading a parked stream, in a new goroutine.
	Resume func()
}

// tcpTransport is a client stream over TCP, with STARTTLS or direct TLS
// (XEP-0368). An idle stream is parked on the poller by its socket's
// descriptor, holding no read buffer.
type tcpTransport struct {
	raw net.Conn  // the TCP connection
	tc  *tls.Conn // TLS over it, once established
	src *xmlstream.Source
	rd  *xmlstream.Reader
	w   *xmlstream.Writer

	poller  *idlepoll.Poller
	resume  func()     // goes on reading after a parked stream's wait
	fd      int        // socket, for parking; -1 if unknown
	mu      sync.Mutex // orders parking against closing
	closing bool       // the transport is being closed: never park again
}

func newTCPTransport(nc net.Conn, o tcpOptions) *tcpTransport {
	t := &tcpTransport{raw: nc, poller: o.Poller, resume: o.Resume}
	t.src = xmlstream.NewSource(nc, o.ReadPool)
	t.fd = t.src.FD()
	t.w = xmlstream.NewWriter(nc, xmlstream.WriterOptions{Pool: o.WritePool, MaxQueue: o.MaxQueue, OnError: o.OnWriteError})
	return t
}

func (t *tcpTransport) ReadHeader(maxStanza int) (xmlstream.Header, error) {
	t.rd = xmlstream.NewReader(t.src, maxStanza)
	return t.rd.ReadHeader()
}

func (t *tcpTransport) Next() (*stanza.Element, error) { return t.rd.Next() }

func (t *tcpTransport) Send(el *stanza.Element) bool { return t.w.Send(el) }

func (t *tcpTransport) SendRaw(s string) bool { return t.w.SendRaw(s) }

func (t *tcpTransport) Drain(timeout time.Duration) { t.w.Drain(timeout) }

func (t *tcpTransport) Finish(timeout time.Duration, final ...string) {
	t.w.Close(strings.Join(final, ""), timeout)
}

func (t *tcpTransport) Opening(from, id string) string {
	return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='" +
		id + "' from='" + from + "' version='1.0' xml:lang='en'>"
}

func (t *tcpTransport) Closing() string { return "</stream:stream>" }

func (t *tcpTransport) StartTLS(cfg *tls.Config, deadline time.Time) error {
	t.raw.SetDeadline(deadline)
	tc := tls.Server(t.src.Conn(), cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	t.raw.SetWriteDeadline(time.Time{})
	t.tc = tc
	t.src.SetConn(tc)
	t.w.SetConn(tc)
	return nil
}

func (t *tcpTransport) Secure() bool { return t.tc != nil }

func (t *tcpTransport) TLSState() *tls.ConnectionState {
	if t.tc == nil {
		return nil
	}
	state := t.tc.ConnectionState()
	return &state
}

func (t *tcpTransport) RemoteAddr() string { return t.raw.RemoteAddr().String() }

func (t *tcpTransport) SetReadDeadline(d time.Time) { t.raw.SetReadDeadline(d) }

func (t *tcpTransport) WaitInput(parkAfter time.Duration) (bool, error) {
	for t.src.Buffered() == 0 {
		ready, err := t.src.Poll()
		if err != nil || ready {
			return false, err
		}
		// A busy stream keeps its goroutine: wake-ups through the
		// runtime's poller cost less than parking. Only a stream quiet
		// for parkAfter is parked.
		t.raw.SetReadDeadline(time.Now().Add(parkAfter))
		err = t.src.WaitReadable()
		t.raw.SetReadDeadline(time.Time{})
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if t.park() {
				return true, nil
			}
			err = t.src.WaitReadable()
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// park hands the idle stream to the poller, which calls t.resume in a
// new goroutine when input arrives. It reports false if the stream must
// keep its goroutine.
func (t *tcpTransport) park() bool {
	if t.poller == nil || t.fd < 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.rd.Idle()
	return t.poller.Park(t.fd, t.resume) == nil
}

// Close closes the connection. It acts once: after the socket is closed
// its descriptor number may belong to another connection, which a second
// cancel would disturb.
func (t *tcpTransport) Close(lingering bool) {
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		return
	}
	t.closing = true
	parked := t.poller != nil && t.poller.Cancel(t.fd)
	t.mu.Unlock()
	if lingering {
		linger.Close(t.raw)
	} else {
		t.raw.Close()
	}
	if parked {
		go t.resume()
	}
}
