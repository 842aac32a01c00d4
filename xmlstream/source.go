package xmlstream

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// BufferSize is the size of the read buffers a Source borrows.
const BufferSize = 4096

// Source is the byte source under a stream Reader for one connection. It
// holds a read buffer only while it has unread bytes, borrowing it from a
// pool shared by every stream. Poll looks for input without blocking and
// WaitReadable waits for the socket without a buffer, so an idle stream
// costs little more than its TLS state.
type Source struct {
	conn  net.Conn // current transport: the TCP connection, or TLS over it
	probe *probeConn
	pool  *sync.Pool
	buf   *[]byte
	r, w  int
}

// NewReadPool returns a pool of read buffers for Sources.
func NewReadPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}
}

// NewSource returns a source reading from tcp. If the stream later
// switches to TLS, wrap the connection returned by Conn (not tcp itself)
// and pass the TLS connection to SetConn.
func NewSource(tcp net.Conn, pool *sync.Pool) *Source {
	s := &Source{pool: pool}
	s.probe = newProbeConn(tcp)
	s.conn = s.probe
	return s
}

// Conn returns the connection to layer TLS on: the TCP connection, wrapped
// so that Poll can look for input without blocking.
func (s *Source) Conn() net.Conn { return s.probe }

// SetConn switches reading to c (a TLS connection over Conn()). Nothing
// may be buffered.
func (s *Source) SetConn(c net.Conn) {
	s.release()
	s.r, s.w = 0, 0
	s.conn = c
}

// Buffered returns how many unread bytes are held.
func (s *Source) Buffered() int { return s.w - s.r }

func (s *Source) acquire() {
	if s.buf == nil {
		s.buf = s.pool.Get().(*[]byte)
	}
}

func (s *Source) release() {
	if s.buf != nil {
		s.pool.Put(s.buf)
		s.buf = nil
	}
}

func (s *Source) fill() error {
	s.acquire()
	n, err := s.conn.Read(*s.buf)
	if n > 0 {
		s.r, s.w = 0, n
		return nil
	}
	s.release()
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// ReadByte implements io.ByteReader.
func (s *Source) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	c := (*s.buf)[s.r]
	s.r++
	if s.r == s.w {
		s.r, s.w = 0, 0
		s.release()
	}
	return c, nil
}

// Read implements io.Reader.
func (s *Source) Read(p []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*s.buf)[s.r:s.w])
	s.r += n
	if s.r == s.w {
		s.r, s.w = 0, 0
		s.release()
	}
	return n, nil
}

// Poll reports whether input is available without blocking: buffered
// bytes, plaintext the TLS layer already decrypted, or bytes waiting in
// the socket (which it then reads). When it reports false the source holds
// no buffer and the socket had nothing to read. Where the socket cannot be
// read without blocking it reports true, so that callers fall back to a
// blocking read.
func (s *Source) Poll() (bool, error) {
	if s.r < s.w {
		return true, nil
	}
	if !s.probe.canProbe() {
		return true, nil
	}
	s.acquire()
	s.probe.setProbing(true)
	n, err := s.conn.Read(*s.buf)
	s.probe.setProbing(false)
	if n > 0 {
		s.r, s.w = 0, n
		return true, nil
	}
	s.release()
	if err != nil && !errors.Is(err, errWouldBlock) {
		return false, err
	}
	return false, nil
}

// WaitReadable blocks until the socket may have input (spurious wakeups
// are possible) or the read deadline passes, holding no buffer.
func (s *Source) WaitReadable() error {
	if !s.probe.canProbe() {
		return nil
	}
	return s.probe.waitReadable()
}

// FD returns the socket's file descriptor, or -1.
func (s *Source) FD() int {
	if s.probe.raw == nil {
		return -1
	}
	fd := -1
	s.probe.raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// errWouldBlock is returned by a probing read that found no input. It is
// a temporary net.Error, which crypto/tls does not treat as fatal.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "no input available" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var _ net.Error = wouldBlock{}

// probeConn is the TCP connection under the stream. While probing, Read
// makes one non-blocking attempt instead of waiting.
type probeConn struct {
	net.Conn
	raw syscall.RawConn // nil when the connection does not expose one

	mu      sync.Mutex
	probing bool
}

func newProbeConn(c net.Conn) *probeConn {
	p := &probeConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			p.raw = raw
		}
	}
	return p
}

func (p *probeConn) canProbe() bool { return p.raw != nil && rawReadSupported }

func (p *probeConn) setProbing(v bool) {
	p.mu.Lock()
	p.probing = v
	p.mu.Unlock()
}

func (p *probeConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	probing := p.probing
	p.mu.Unlock()
	if !probing {
		return p.Conn.Read(b)
	}
	return rawReadOnce(p.raw, b)
}

// waitReadable blocks until the socket has input (or is closed or
// failed) or the read deadline passes.
//
// It looks at the socket before every wait: the runtime's poller reports
// a socket readable once per arrival of data and forgets it when a wait
// begins, so input that arrived between the caller's last read and this
// wait would otherwise never wake it.
func (p *probeConn) waitReadable() error {
	return p.raw.Read(socketReadable)
}
