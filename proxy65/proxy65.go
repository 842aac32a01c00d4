// Package proxy65 is the SOCKS5 bytestreams proxy (XEP-0065): when two
// clients cannot connect to each other directly, for a file transfer
// offered with stream initiation (XEP-0096) or Jingle (XEP-0260), both
// connect to the proxy instead and it relays the bytes between them.
//
// A local user asks the proxy's domain for its network address (the
// streamhost) and offers it to the other party. Each party opens a TCP
// connection to that address and sends a SOCKS5 CONNECT whose address is
// SHA-1(SID + initiator JID + target JID) in hexadecimal; the proxy pairs
// the two connections with the same hash. The initiator then asks the
// proxy to activate the bytestream, and from then on whatever either
// party sends reaches the other. Only users of the server's domains may
// get the address and activate, transfers are bounded in size, number and
// idle time, and connections that do not negotiate or get activated in
// time are closed.
package proxy65

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"parley/internal/accept"
	"parley/internal/connset"
	"parley/internal/linger"
	"parley/router"
)

// NS is the namespace of SOCKS5 bytestreams.
const NS = "http://jabber.org/protocol/bytestreams"

// ServiceName is the name the proxy gives itself in service discovery.
const ServiceName = "SOCKS5 Bytestreams"

// Sizes of the buffers each connection holds.
const (
	// handshakeBuffer reads the SOCKS5 negotiation, and keeps what a
	// client sends before its bytestream is activated.
	handshakeBuffer = 4 << 10
	// relayBuffer carries the bytes of one direction of an active
	// bytestream.
	relayBuffer = 32 << 10
)

// connectionsPerTransfer is how many connections are accepted at once
// per bytestream allowed (see Options.MaxTransfers).
const connectionsPerTransfer = 3

// shutdownWait bounds how long Run waits, once its context ends, for
// the connections it closed to finish.
const shutdownWait = 10 * time.Second

// Options configure the proxy.
type Options struct {
	// Domain is the proxy's address, the JID of its streamhost.
	Domain string
	// Listen is the SOCKS5 listener address (host:port).
	Listen string
	// PublicHost is the host clients are told to connect to; the port
	// is the listener's.
	PublicHost string
	// MaxTransferSize is the most bytes relayed for one bytestream, both
	// directions together; 0 means no limit.
	MaxTransferSize int64
	// MaxTransfers is how many bytestreams may be connected at once.
	// Three times as many connections are accepted at once: a
	// bytestream's two parties, and room for connections still
	// negotiating or being refused.
	MaxTransfers int
	// HandshakeTimeout bounds a new connection's SOCKS5 negotiation.
	HandshakeTimeout time.Duration
	// ActivationTimeout is how long a connected party waits for the
	// initiator to activate the bytestream.
	ActivationTimeout time.Duration
	// IdleTimeout closes an active bytestream that carried nothing in
	// either direction for this long.
	IdleTimeout time.Duration
	// Log receives the proxy's log lines.
	Log zerolog.Logger
}

// Service is the bytestreams proxy.
type Service struct {
	o     Options
	r     *router.Router
	ln    net.Listener
	port  string
	conns connset.Set[net.Conn]
	slots chan struct{} // one per open connection

	mu      sync.Mutex
	streams map[string]*stream // by hash
}

// stream is one bytestream: the two connections with the same hash,
// paired by the order they came in. Its fields are guarded by the
// Service's mu until activation; after it, conns and readers no longer
// change.
type stream struct {
	hash    string
	conns   [2]net.Conn
	readers [2]*bufio.Reader
	n       int // connected parties
	// replied[i] is closed once party i has been sent its SOCKS5
	// reply (or failed to be): relayed bytes must come after it.
	replied   [2]chan struct{}
	active    bool          // activated by its initiator
	activated chan struct{} // closed on activation

	// Set on activation.
	sid, initiator, target string
	started                time.Time
	idle                   *time.Timer

	bytes      atomic.Int64 // relayed, both directions
	lastActive atomic.Int64 // Unix nanoseconds of the last byte relayed
	ended      atomic.Int32 // directions that reached their end
	closeOnce  sync.Once
	closed     chan struct{} // closed when both connections are
}

// New checks o and opens the proxy's listener; Register puts the proxy
// on the router and Run serves it.
func New(o Options) (*Service, error) {
	switch {
	case o.Domain == "":
		return nil, errors.New("no domain for the bytestreams proxy")
	case o.PublicHost == "":
		return nil, errors.New("no public host for the bytestreams proxy to give clients")
	case o.MaxTransfers < 1:
		return nil, fmt.Errorf("bytestreams proxy: max transfers %d is less than 1", o.MaxTransfers)
	case o.HandshakeTimeout <= 0 || o.ActivationTimeout <= 0 || o.IdleTimeout <= 0:
		return nil, errors.New("bytestreams proxy: timeouts must be positive")
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("SOCKS5 listener: %w", err)
	}
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("listener address %s: %w", ln.Addr(), err)
	}
	return &Service{
		o:       o,
		ln:      ln,
		port:    port,
		slots:   make(chan struct{}, connectionsPerTransfer*o.MaxTransfers),
		streams: make(map[string]*stream),
	}, nil
}

// Addr returns the address the proxy listens on.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Hash returns the address of the bytestream sid from initiator to
// target as both connect to it over SOCKS5: SHA-1(sid + initiator +
// target) in hexadecimal.
func Hash(sid, initiator, target string) string {
	h := sha1.New()
	io.WriteString(h, sid)
	io.WriteString(h, initiator)
	io.WriteString(h, target)
	return hex.EncodeToString(h.Sum(nil))
}

// Register routes the proxy's domain to it and lists it in the server's
// service discovery items.
func (s *Service) Register(r *router.Router) {
	s.r = r
	r.RegisterComponent(s.o.Domain, s.handle)
	r.AddItem(router.Item{JID: s.o.Domain, Name: ServiceName})
}

// Run accepts SOCKS5 connections until ctx ends; then it closes the
// listener and every connection and returns once their goroutines have
// ended.
func (s *Service) Run(ctx context.Context) {
	s.o.Log.Info().Str("addr", s.Addr()).Str("streamhost", net.JoinHostPort(s.o.PublicHost, s.port)).Msg("listening")
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	if err := accept.Loop(ctx, s.ln, func(c net.Conn) { s.accepted(ctx, c) }); err != nil {
		s.o.Log.Error().Err(err).Msg("the bytestreams proxy stopped accepting connections")
	}
	s.ln.Close()
	wctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	s.conns.Close(wctx, func(c net.Conn) { c.Close() })
}

// accepted serves a new connection if a slot is free.
func (s *Service) accepted(ctx context.Context, c net.Conn) {
	select {
	case s.slots <- struct{}{}:
	default:
		s.o.Log.Warn().Str("remote", c.RemoteAddr().String()).Int("max_connections", cap(s.slots)).Msg("too many connections; refusing one")
		c.Close()
		return
	}
	if !s.conns.Add(c) {
		<-s.slots
		c.Close()
		return
	}
	go func() {
		defer func() {
			c.Close()
			s.conns.Done(c)
			<-s.slots
		}()
		s.serve(ctx, c)
	}()
}

// serve runs one connection: the SOCKS5 negotiation, the wait for
// activation and the relay of what it sends. It returns once the
// connection's bytestream has ended.
func (s *Service) serve(ctx context.Context, c net.Conn) {
	log := s.o.Log.With().Str("remote", c.RemoteAddr().String()).Logger()
	c.SetDeadline(time.Now().Add(s.o.HandshakeTimeout))
	br := bufio.NewReaderSize(c, handshakeBuffer)
	req, err := negotiate(br, c)
	if err != nil {
		log.Debug().Err(err).Msg("SOCKS5 negotiation failed")
		var r *refusal
		if errors.As(err, &r) {
			linger.Close(c)
		}
		return
	}
	st, side, replied, code := s.join(req.hash, c, br)
	if code != repSucceeded {
		log.Debug().Str("hash", req.hash).Int("reply", int(code)).Msg("SOCKS5 connection refused")
		if _, err := c.Write(reply(code, req.addr, req.port)); err == nil {
			linger.Close(c)
		}
		return
	}
	_, err = c.Write(reply(repSucceeded, req.addr, req.port))
	close(replied)
	if err != nil {
		log.Debug().Err(err).Msg("SOCKS5 reply failed")
		s.leave(st, side)
		return
	}
	c.SetDeadline(time.Time{})
	log.Debug().Str("hash", req.hash).Int("party", side+1).Msg("connected; waiting for activation")
	if !s.await(ctx, st, side, log) {
		return
	}
	s.relay(st, side)
}

// join adds connection c, read through br, to the bytestream of hash. It
// returns the bytestream, c's side in it and the channel to close once c
// has been sent its reply; or the SOCKS5 reply code that refuses c: the
// bytestream has both its parties already, or too many bytestreams are
// connected.
func (s *Service) join(hash string, c net.Conn, br *bufio.Reader) (*stream, int, chan struct{}, byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[hash]
	if st == nil {
		if len(s.streams) >= s.o.MaxTransfers {
			s.o.Log.Warn().Int("max_transfers", s.o.MaxTransfers).Msg("too many bytestreams; refusing a connection")
			return nil, 0, nil, repGeneralFailure
		}
		st = &stream{hash: hash, activated: make(chan struct{}), closed: make(chan struct{})}
		s.streams[hash] = st
	}
	if st.active || st.n == 2 {
		return nil, 0, nil, repNotAllowed
	}
	side := 0
	if st.conns[0] != nil {
		side = 1
	}
	st.conns[side], st.readers[side] = c, br
	st.replied[side] = make(chan struct{})
	st.n++
	return st, side, st.replied[side], repSucceeded
}

// leave takes side's connection out of bytestream st before activation.
// It reports false, changing nothing, if st was activated meanwhile.
func (s *Service) leave(st *stream, side int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.active {
		return false
	}
	st.conns[side], st.readers[side] = nil, nil
	st.n--
	if st.n == 0 && s.streams[st.hash] == st {
		delete(s.streams, st.hash)
	}
	return true
}

// await waits until bytestream st is activated, reporting true, or
// until side's connection is closed, the activation timeout passes or
// ctx ends, when it takes the connection out of st and reports false.
// What the client sends meanwhile stays buffered (up to handshakeBuffer
// bytes; the rest waits in the socket).
func (s *Service) await(ctx context.Context, st *stream, side int, log zerolog.Logger) bool {
	c, br := st.conns[side], st.readers[side]
	c.SetReadDeadline(time.Now().Add(s.o.ActivationTimeout))
	// Watch the connection for its end without consuming its data.
	peeked := make(chan error, 1)
	go func() {
		_, err := br.Peek(1)
		peeked <- err
	}()
	stopWatching := func() {
		if peeked != nil {
			c.SetReadDeadline(time.Now())
			<-peeked
		}
		c.SetReadDeadline(time.Time{})
	}
	timeout := time.NewTimer(s.o.ActivationTimeout)
	defer timeout.Stop()
	for {
		var why string
		select {
		case <-st.activated:
			stopWatching()
			return true
		case err := <-peeked:
			peeked = nil
			if err == nil {
				continue // early data, kept for the relay
			}
			why = err.Error()
		case <-timeout.C:
			why = "not activated in time"
		case <-ctx.Done():
			why = "shutting down"
		}
		if s.leave(st, side) {
			stopWatching()
			log.Debug().Str("hash", st.hash).Str("reason", why).Msg("left before activation")
			return false
		}
		// Activated at the same moment: relay.
		stopWatching()
		return true
	}
}

// activate activates the bytestream sid from initiator to target, if
// both its parties are connected.
func (s *Service) activate(sid, initiator, target string) error {
	hash := Hash(sid, initiator, target)
	s.mu.Lock()
	st := s.streams[hash]
	switch {
	case st == nil:
		s.mu.Unlock()
		return errNoStream
	case st.active:
		s.mu.Unlock()
		return errActive
	case st.n < 2:
		s.mu.Unlock()
		return errOneParty
	}
	st.active = true
	st.sid, st.initiator, st.target = sid, initiator, target
	st.started = time.Now()
	st.lastActive.Store(st.started.UnixNano())
	st.idle = time.AfterFunc(s.o.IdleTimeout, func() { s.checkIdle(st) })
	close(st.activated)
	s.mu.Unlock()
	s.o.Log.Info().Str("hash", hash).Str("sid", sid).Str("initiator", initiator).Str("target", target).Msg("bytestream activated")
	return nil
}

// Errors of activate.
const (
	errNoStream = constError("no bytestream with this hash is connected")
	errActive   = constError("the bytestream is active already")
	errOneParty = constError("only one party of the bytestream is connected")
)

// relay copies what side's client sends to the other party until it
// ends its side, then waits for the whole bytestream to end.
func (s *Service) relay(st *stream, side int) {
	dst := st.conns[1-side]
	<-st.replied[1-side]
	err := s.copy(st, dst, st.readers[side])
	switch {
	case err == nil:
		// The client finished sending: pass the end on, and let the
		// other direction go on.
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		if st.ended.Add(1) == 2 {
			s.end(st, "finished")
		}
	case errors.Is(err, errTooLarge):
		s.end(st, fmt.Sprintf("cut at the size limit of %d bytes", s.o.MaxTransferSize))
	default:
		s.end(st, err.Error())
	}
	<-st.closed
}

// copy relays from src to dst, counting against the size limit and
// noting activity for the idle timeout. It returns nil when src ends.
func (s *Service) copy(st *stream, dst io.Writer, src io.Reader) error {
	buf := make([]byte, relayBuffer)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			st.lastActive.Store(time.Now().UnixNano())
			allowed, over := n, false
			if total := st.bytes.Add(int64(n)); s.o.MaxTransferSize > 0 && total > s.o.MaxTransferSize {
				allowed, over = max(0, n-int(total-s.o.MaxTransferSize)), true
			}
			if allowed > 0 {
				if _, err := dst.Write(buf[:allowed]); err != nil {
					return fmt.Errorf("relaying: %w", err)
				}
				st.lastActive.Store(time.Now().UnixNano())
			}
			if over {
				return errTooLarge
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("relaying: %w", rerr)
		}
	}
}

// checkIdle ends bytestream st if it carried nothing for the idle
// timeout, and otherwise checks again when it might have.
func (s *Service) checkIdle(st *stream) {
	select {
	case <-st.closed:
		return
	default:
	}
	idle := time.Since(time.Unix(0, st.lastActive.Load()))
	if idle >= s.o.IdleTimeout {
		s.end(st, "idle for "+s.o.IdleTimeout.String())
		return
	}
	s.mu.Lock() // activate set st.idle while holding it
	timer := st.idle
	s.mu.Unlock()
	timer.Reset(s.o.IdleTimeout - idle)
}

// end closes both connections of active bytestream st and forgets it;
// only its first call does anything.
func (s *Service) end(st *stream, why string) {
	st.closeOnce.Do(func() {
		st.idle.Stop()
		for _, c := range st.conns {
			c.Close()
		}
		s.mu.Lock()
		if s.streams[st.hash] == st {
			delete(s.streams, st.hash)
		}
		s.mu.Unlock()
		s.o.Log.Info().Str("hash", st.hash).Str("sid", st.sid).Str("initiator", st.initiator).Str("target", st.target).
			Int64("bytes", st.bytes.Load()).Dur("duration", time.Since(st.started)).Str("reason", why).Msg("bytestream ended")
		close(st.closed)
	})
}

// streamhost returns the proxy's network address as clients are told.
func (s *Service) streamhost() (host, port string) { return s.o.PublicHost, s.port }

// streamCount returns how many bytestreams are connected, waiting for
// activation or active.
func (s *Service) streamCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}
