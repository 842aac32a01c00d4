package c2s

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"parley/idlepoll"
	"parley/stanza"
	"parley/xmlstream"
)

// NSFraming is the namespace of the WebSocket framing elements <open/>
// and <close/> (RFC 7395).
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// WebSocketSubprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.1).
const WebSocketSubprotocol = "xmpp"

// WebSocketOptions configure the WebSocket endpoint.
type WebSocketOptions struct {
	// AllowOrigin reports whether a browser page from the request's Origin
	// may connect; nil allows only requests without an Origin.
	AllowOrigin func(r *http.Request) bool
	// Secure reports whether a request arrived encrypted: over HTTPS, or
	// on a listener trusted to be behind a TLS-terminating proxy or on
	// loopback. Clients authenticate only on secure streams.
	Secure func(r *http.Request) bool
	// Keepalive is the interval of WebSocket pings to an otherwise quiet
	// client; one not answered within it closes the stream. Default 1m.
	Keepalive time.Duration
}

// WebSocket returns the handler of XMPP over WebSocket (RFC 7395): each
// connection is a client stream like one over TCP, framed with <open/>
// and <close/> and one element per message. Streams live until ctx ends
// or Shutdown.
func (s *Server) WebSocket(ctx context.Context, o WebSocketOptions) http.Handler {
	if o.Keepalive == 0 {
		o.Keepalive = time.Minute
	}
	if o.AllowOrigin == nil {
		o.AllowOrigin = func(r *http.Request) bool { return r.Header.Get("Origin") == "" }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !offersSubprotocol(r, WebSocketSubprotocol) {
			http.Error(w, "this endpoint speaks XMPP over WebSocket (RFC 7395): ask for the \"xmpp\" subprotocol", http.StatusBadRequest)
			return
		}
		if !o.AllowOrigin(r) {
			http.Error(w, "pages from origin "+r.Header.Get("Origin")+" may not connect here", http.StatusForbidden)
			return
		}
		c := &conn{srv: s}
		var t *wsTransport
		hj := &wsHijacker{ResponseWriter: w, readPool: s.readPool, writePool: s.wsWritePool, timeout: time.Minute}
		// A ping or pong is read whole inside the library's reader, which
		// then waits for the next frame: the stream may park there.
		boundary := func() { t.nc.atBoundary() }
		ws, err := websocket.Accept(hj, r, &websocket.AcceptOptions{
			Subprotocols: []string{WebSocketSubprotocol},
			// The origin was checked above, against the configured list.
			InsecureSkipVerify: true,
			OnPingReceived:     func(context.Context, []byte) bool { boundary(); return true },
			OnPongReceived:     func(context.Context, []byte) { boundary() },
		})
		if err != nil {
			s.opts.Log.Debug().Str("remote", r.RemoteAddr).Err(err).Msg("WebSocket upgrade failed")
			return
		}
		secure := o.Secure != nil && o.Secure(r)
		t = newWebSocketTransport(ws, hj.conn, wsOptions{
			remote:    r.RemoteAddr,
			secure:    secure,
			tlsState:  r.TLS,
			maxStanza: s.opts.MaxStanzaSize,
			keepalive: o.Keepalive,
			poller:    s.opts.Poller,
			resume:    c.loop,
			onWriteError: func(err error) {
				s.opts.Log.Debug().Str("remote", r.RemoteAddr).Err(err).Msg("WebSocket write failed")
				c.t.Close(false)
			},
		})
		c.t = t
		c.init()
		if !s.conns.Add(c) {
			ws.Close(websocket.StatusGoingAway, "the server is shutting down")
			return
		}
		// The stream outlives the request: once parked it is resumed in a
		// goroutine of its own, and net/http forgets a hijacked
		// connection.
		c.serve(ctx)
	})
}

// offersSubprotocol reports whether the WebSocket handshake r asks for
// the subprotocol name.
func offersSubprotocol(r *http.Request, name string) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), name) {
				return true
			}
		}
	}
	return false
}

type wsOptions struct {
	remote       string
	secure       bool
	tlsState     *tls.ConnectionState
	maxStanza    int
	keepalive    time.Duration
	poller       *idlepoll.Poller // parks idle streams; nil keeps a goroutine per stream
	resume       func()           // goes on reading a parked stream, in a new goroutine
	onWriteError func(error)
}

// wsTransport is a client stream over WebSocket (RFC 7395). Each message
// holds whole elements; the stream opens and restarts with <open/> and
// ends with <close/>. A stream quiet between messages is parked on the
// poller like a TCP stream, where its connection is plain TCP (behind a
// TLS-terminating proxy or on loopback).
type wsTransport struct {
	ws       *websocket.Conn
	nc       *wsConn
	remote   string
	secure   bool
	tlsState *tls.ConnectionState
	w        *xmlstream.Writer
	rd       *xmlstream.Reader
	src      messageSource
	msg      bytes.Buffer // the message being parsed

	keepalive time.Duration
	pinger    *time.Timer

	dmu      sync.Mutex
	deadline time.Time // reads fail after it; zero for none

	poller  *idlepoll.Poller
	resume  func()
	mu      sync.Mutex // orders parking against closing
	closing bool       // the transport is being closed: never park again
	closed  chan struct{}
}

func newWebSocketTransport(ws *websocket.Conn, nc *wsConn, o wsOptions) *wsTransport {
	t := &wsTransport{ws: ws, nc: nc, remote: o.remote, secure: o.secure, tlsState: o.tlsState, keepalive: o.keepalive,
		poller: o.poller, resume: o.resume, closed: make(chan struct{})}
	// A message holds a stanza and a little whitespace; more ends the
	// connection with "message too big" (1009).
	ws.SetReadLimit(int64(o.maxStanza) + 1024)
	// A batch's messages are gathered by nc and written at once; nc
	// bounds the time of that write.
	t.w = xmlstream.NewWriter(nil, xmlstream.WriterOptions{
		OnError: o.onWriteError,
		Message: func(b []byte) error {
			nc.cork()
			return ws.Write(context.Background(), websocket.MessageText, qualify(b))
		},
		Flush: nc.flush,
	})
	t.pinger = time.AfterFunc(t.keepalive, t.ping)
	return t
}

// ping checks that a quiet client still answers; one that does not is
// disconnected.
func (t *wsTransport) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), t.keepalive)
	defer cancel()
	if err := t.ws.Ping(ctx); err != nil {
		t.Close(false)
		return
	}
	select {
	case <-t.closed:
	default:
		t.pinger.Reset(t.keepalive)
	}
}

// qualify declares the stream prefix on the elements that use it (stream
// features and errors), since each message is a document of its own.
func qualify(b []byte) []byte {
	for _, name := range []string{"<stream:features", "<stream:error"} {
		if bytes.HasPrefix(b, []byte(name)) {
			out := make([]byte, 0, len(b)+len(stanza.NSStream)+24)
			out = append(out, name...)
			out = append(out, " xmlns:stream='"+stanza.NSStream+"'"...)
			return append(out, b[len(name):]...)
		}
	}
	return b
}

// readMessage reads the next message whose content is not only
// whitespace into t.msg.
func (t *wsTransport) readMessage() error {
	for {
		err := t.readOne()
		if err != nil || len(bytes.TrimSpace(t.msg.Bytes())) > 0 {
			return err
		}
	}
}

// readOne reads one message into t.msg, within the read deadline.
func (t *wsTransport) readOne() error {
	ctx := context.Background()
	t.dmu.Lock()
	d := t.deadline
	t.dmu.Unlock()
	if !d.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	typ, r, err := t.ws.Reader(ctx)
	if err == nil {
		t.msg.Reset()
		_, err = t.msg.ReadFrom(r)
	}
	switch {
	case err == nil:
	case errors.Is(err, errIdle):
		return errIdle
	case !d.IsZero() && time.Now().After(d):
		return timeoutError{}
	case websocket.CloseStatus(err) == websocket.StatusMessageTooBig || errors.Is(err, websocket.ErrMessageTooBig):
		return xmlstream.Errorf("policy-violation", "message larger than the largest stanza")
	default:
		return io.EOF
	}
	if typ != websocket.MessageText {
		return xmlstream.Errorf("bad-format", "XMPP over WebSocket uses text messages only")
	}
	t.src.reset(t.msg.Bytes())
	t.pinger.Reset(t.keepalive)
	return nil
}

// timeoutError is the net.Error of a read past the deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "read timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// next reads the next element, from what is left of the current message
// or from the next message. An element must end in the message it began
// in (RFC 7395 §3.3.3).
func (t *wsTransport) next() (*stanza.Element, error) {
	if t.src.blank() {
		if err := t.readMessage(); err != nil {
			return nil, err
		}
	}
	el, err := t.rd.Next()
	if errors.Is(err, io.EOF) {
		return nil, xmlstream.Errorf("bad-format", "a WebSocket message must hold whole elements")
	}
	return el, err
}

func (t *wsTransport) ReadHeader(maxStanza int) (xmlstream.Header, error) {
	t.rd = xmlstream.NewFragmentReader(&t.src, maxStanza)
	el, err := t.next()
	if err != nil {
		return xmlstream.Header{}, err
	}
	if el.Space != NSFraming || el.Local != "open" {
		return xmlstream.Header{}, xmlstream.Errorf("invalid-namespace", "a stream over WebSocket opens with <open xmlns='%s'/>", NSFraming)
	}
	return xmlstream.Header{To: el.Attr("to"), From: el.Attr("from"), Version: el.Attr("version"), Lang: el.Lang(), Namespace: stanza.NSClient}, nil
}

func (t *wsTransport) Next() (*stanza.Element, error) {
	el, err := t.next()
	if err != nil {
		return nil, err
	}
	if el.Space == NSFraming {
		if el.Local == "close" {
			return nil, xmlstream.ErrStreamClosed
		}
		return nil, xmlstream.Errorf("unsupported-stanza-type", "<%s/> of the WebSocket framing is unexpected here", el.Local)
	}
	return el, nil
}

func (t *wsTransport) Send(el *stanza.Element) bool { return t.w.Send(el) }

func (t *wsTransport) SendRaw(s string) bool { return t.w.SendRaw(s) }

func (t *wsTransport) Drain(timeout time.Duration) { t.w.Drain(timeout) }

func (t *wsTransport) Finish(timeout time.Duration, final ...string) {
	for _, f := range final[:max(len(final)-1, 0)] {
		t.w.SendRaw(f)
	}
	last := ""
	if len(final) > 0 {
		last = final[len(final)-1]
	}
	t.w.Close(last, timeout)
}

func (t *wsTransport) Opening(from, id string) string {
	return "<open xmlns='" + NSFraming + "' id='" + id + "' from='" + from + "' version='1.0' xml:lang='en'/>"
}

func (t *wsTransport) Closing() string { return "<close xmlns='" + NSFraming + "'/>" }

func (t *wsTransport) Secure() bool { return t.secure }

func (t *wsTransport) StartTLS(*tls.Config, time.Time) error {
	return fmt.Errorf("STARTTLS is not available over WebSocket")
}

func (t *wsTransport) TLSState() *tls.ConnectionState { return t.tlsState }

func (t *wsTransport) RemoteAddr() string { return t.remote }

func (t *wsTransport) SetReadDeadline(d time.Time) {
	t.dmu.Lock()
	t.deadline = d
	t.dmu.Unlock()
}

// WaitInput reads the next message that is not only whitespace, unless
// the current one holds more elements. A stream quiet between messages
// for parkAfter is parked instead, where its connection allows.
func (t *wsTransport) WaitInput(parkAfter time.Duration) (bool, error) {
	for t.src.blank() {
		wait := parkAfter
		if t.poller == nil || t.nc.fd() < 0 {
			wait = 0
		}
		t.nc.idleAfter(wait)
		err := t.readOne()
		t.nc.idleAfter(0)
		if errors.Is(err, errIdle) {
			if t.park() {
				return true, nil
			}
			parkAfter = 0
			continue
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
func (t *wsTransport) park() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing || t.nc.buffered() {
		return false
	}
	t.rd.Idle()
	t.msg = bytes.Buffer{}
	return t.poller.Park(t.nc.fd(), t.resume) == nil
}

// Close closes the stream, once. A parked stream is resumed, so that its
// reader sees the end.
func (t *wsTransport) Close(bool) {
	t.mu.Lock()
	if t.closing {
		t.mu.Unlock()
		return
	}
	t.closing = true
	parked := t.poller != nil && t.nc.fd() >= 0 && t.poller.Cancel(t.nc.fd())
	t.mu.Unlock()
	close(t.closed)
	t.pinger.Stop()
	// The closing handshake waits for the client's answer, which the
	// stream's reading goroutine receives; it must not hold up the
	// caller, which may be that goroutine.
	go t.ws.Close(websocket.StatusNormalClosure, "")
	if parked {
		go t.resume()
	}
}

// messageSource reads one WebSocket message's bytes, then reports io.EOF.
type messageSource struct {
	b []byte
	i int
}

func (m *messageSource) reset(b []byte) { m.b, m.i = b, 0 }

// blank reports whether only whitespace is left.
func (m *messageSource) blank() bool {
	for _, c := range m.b[m.i:] {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func (m *messageSource) ReadByte() (byte, error) {
	if m.i >= len(m.b) {
		return 0, io.EOF
	}
	c := m.b[m.i]
	m.i++
	return c, nil
}

func (m *messageSource) Read(p []byte) (int, error) {
	if m.i >= len(m.b) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.i:])
	m.i += n
	return n, nil
}
