package c2s

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"parley/xmlstream"
)

// errIdle ends a read at a WebSocket frame boundary when no input came
// for the stream's park interval; nothing of the next frame was consumed,
// so reading may start again later (see wsTransport.WaitInput).
var errIdle = errors.New("websocket stream idle")

// maxPooledWrite is the capacity above which a batch's write buffer is
// dropped rather than kept for the next batch.
const maxPooledWrite = 64 << 10

// wsHijacker hands the WebSocket library a wsConn in place of the
// connection net/http hijacks, with small buffers of its own; the
// library's frames then pass through it.
type wsHijacker struct {
	http.ResponseWriter
	readPool  *sync.Pool
	writePool *sync.Pool
	timeout   time.Duration
	conn      *wsConn // set by Hijack
}

// Hijack takes over the connection from net/http.
func (h *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent right after the handshake may be waiting
	// in net/http's reader.
	pre, _ := brw.Reader.Peek(brw.Reader.Buffered())
	in := xmlstream.NewSource(nc, h.readPool)
	h.conn = &wsConn{
		Conn:      nc,
		pre:       bytes.Clone(pre),
		in:        in,
		sfd:       in.FD(),
		writePool: h.writePool,
		timeout:   h.timeout,
	}
	// The library reads frame headers a byte at a time and payloads in
	// large reads, and wsConn buffers input itself, so its reader needs
	// the smallest buffer; its writer's buffer only has to hold a
	// control frame, since wsConn gathers a batch's data frames.
	return h.conn, bufio.NewReadWriter(bufio.NewReaderSize(h.conn, 16), bufio.NewWriterSize(h.conn, 512)), nil
}

// Unwrap returns the wrapped ResponseWriter.
func (h *wsHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// wsConn is the connection under a WebSocket stream. Reads go through a
// pooled buffer, held only while it has unread bytes; a read at a frame
// boundary may give up with errIdle after the park interval, so that the
// stream can be parked without a goroutine. Writes made while the stream
// writer is corked are gathered and written in one system call when it
// flushes; other writes (control frames) go out at once.
type wsConn struct {
	net.Conn
	pre []byte            // bytes read past the handshake, read first
	in  *xmlstream.Source // reads the socket through pooled buffers
	sfd int               // the socket's descriptor, or -1 (see fd)

	// Set by the stream's goroutine; read also by the library's closing
	// handshake, which reads on a goroutine of its own.
	boundary  atomic.Bool  // the next byte read begins a frame
	parkAfter atomic.Int64 // a time.Duration; > 0: a read at a boundary may end with errIdle

	writePool *sync.Pool
	timeout   time.Duration // bound on each write to the network

	wmu     sync.Mutex
	corked  bool
	pending *[]byte // writes gathered while corked
}

// idleAfter lets the next read, which must begin a frame, end with
// errIdle when no input arrives within d; 0 makes reads wait.
func (c *wsConn) idleAfter(d time.Duration) {
	c.parkAfter.Store(int64(d))
	c.boundary.Store(d > 0)
}

// atBoundary records that a frame was read whole (a ping or pong seen by
// the library's reader).
func (c *wsConn) atBoundary() { c.boundary.Store(c.parkAfter.Load() > 0) }

// buffered reports whether input is held above the socket.
func (c *wsConn) buffered() bool { return len(c.pre) > 0 || c.in.Buffered() > 0 }

// fd returns the socket's descriptor for parking, or -1 where the stream
// cannot be parked (under TLS, whose buffered plaintext is not visible).
func (c *wsConn) fd() int { return c.sfd }

func (c *wsConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		c.boundary.Store(false)
		return n, nil
	}
	if c.boundary.Load() && c.in.Buffered() == 0 {
		ready, err := c.in.Poll()
		if err != nil {
			return 0, err
		}
		if !ready {
			c.Conn.SetReadDeadline(time.Now().Add(time.Duration(c.parkAfter.Load())))
			err := c.in.WaitReadable()
			c.Conn.SetReadDeadline(time.Time{})
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, errIdle
			}
			if err != nil {
				return 0, err
			}
		}
	}
	n, err := c.in.Read(p)
	if n > 0 {
		c.boundary.Store(false)
	}
	return n, err
}

// cork makes writes gather until flush.
func (c *wsConn) cork() {
	c.wmu.Lock()
	c.corked = true
	c.wmu.Unlock()
}

// flush writes what was gathered since cork, in one write, and ends
// the corking.
func (c *wsConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.corked = false
	if c.pending == nil {
		return nil
	}
	b := *c.pending
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.Conn.Write(b)
	if cap(b) <= maxPooledWrite {
		*c.pending = b[:0]
		c.writePool.Put(c.pending)
	}
	c.pending = nil
	return err
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.corked {
		if c.pending == nil {
			c.pending = c.writePool.Get().(*[]byte)
		}
		*c.pending = append(*c.pending, p...)
		return len(p), nil
	}
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}
