package xmlstream

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"time"

	"parley/stanza"
)

// Writer writes to one stream. Send never blocks on the network: stanzas
// are queued and a short-lived goroutine, started only while there is
// something to write, serializes every queued stanza into one pooled buffer
// and flushes it once per batch.
type Writer struct {
	conn    net.Conn
	pool    *sync.Pool
	timeout time.Duration
	maxQ    int

	mu      sync.Mutex
	queue   []item
	running bool
	closed  bool // no more sends accepted
	onError func(error)
	message func([]byte) error
	flush   func() error
	idle    chan struct{} // closed when the queue drains, if someone waits
}

type item struct {
	el  *stanza.Element
	raw string
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	// Pool supplies *bufio.Writer buffers shared between streams.
	Pool *sync.Pool
	// Timeout bounds each flush; a peer that does not read is dropped.
	Timeout time.Duration
	// MaxQueue is the number of queued items after which the stream is
	// considered stuck and OnError is called.
	MaxQueue int
	// OnError is called once when writing fails.
	OnError func(error)
	// Message, if set, frames what is written: each queued item is
	// serialized on its own, stanzas with their namespace declared
	// (see stanza.Element.WriteQualified), and handed to Message as one
	// message (a WebSocket message, RFC 7395), instead of batches being
	// written to the connection. Message bounds its own time.
	Message func(b []byte) error
	// Flush, with Message, is called after each batch's messages, so
	// that a transport may gather a batch's messages into one write.
	Flush func() error
}

// NewBufferPool returns a pool of write buffers of the given size.
func NewBufferPool(size int) *sync.Pool {
	return &sync.Pool{New: func() any { return bufio.NewWriterSize(io.Discard, size) }}
}

// NewWriter returns a writer on conn; conn may be nil when o.Message is
// set.
func NewWriter(conn net.Conn, o WriterOptions) *Writer {
	if o.Pool == nil {
		o.Pool = NewBufferPool(4096)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if o.MaxQueue == 0 {
		o.MaxQueue = 10000
	}
	return &Writer{conn: conn, pool: o.Pool, timeout: o.Timeout, maxQ: o.MaxQueue, onError: o.OnError, message: o.Message, flush: o.Flush}
}

// SetConn switches the underlying connection (after STARTTLS). The queue
// must be empty.
func (w *Writer) SetConn(c net.Conn) {
	w.mu.Lock()
	w.conn = c
	w.mu.Unlock()
}

// Send queues a stanza. It reports false if the stream no longer accepts
// stanzas.
func (w *Writer) Send(el *stanza.Element) bool {
	return w.push(item{el: el})
}

// SendRaw queues already serialized XML (stream headers, features).
func (w *Writer) SendRaw(s string) bool {
	return w.push(item{raw: s})
}

func (w *Writer) push(it item) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	if len(w.queue) >= w.maxQ {
		w.closed = true
		w.queue = nil
		w.mu.Unlock()
		w.fail(errQueueFull)
		return false
	}
	w.queue = append(w.queue, it)
	if !w.running {
		w.running = true
		go w.flushLoop()
	}
	w.mu.Unlock()
	return true
}

type queueFullError struct{}

func (queueFullError) Error() string { return "write queue full: peer is not reading" }

var errQueueFull error = queueFullError{}

func (w *Writer) fail(err error) {
	if w.onError != nil {
		w.onError(err)
	}
}

func (w *Writer) flushLoop() {
	var batch []item
	var msg bytes.Buffer // one message, with Message
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			if w.idle != nil {
				close(w.idle)
				w.idle = nil
			}
			w.mu.Unlock()
			return
		}
		batch, w.queue = w.queue, batch[:0]
		conn := w.conn
		w.mu.Unlock()

		var err error
		if w.message != nil {
			err = w.writeMessages(batch, &msg)
		} else {
			err = w.writeBatch(conn, batch)
		}
		if err != nil {
			w.mu.Lock()
			w.closed = true
			w.queue = nil
			w.running = false
			if w.idle != nil {
				close(w.idle)
				w.idle = nil
			}
			w.mu.Unlock()
			w.fail(err)
			return
		}
	}
}

// writeBatch writes batch to conn in one flush.
func (w *Writer) writeBatch(conn net.Conn, batch []item) error {
	bw := w.pool.Get().(*bufio.Writer)
	bw.Reset(conn)
	conn.SetWriteDeadline(time.Now().Add(w.timeout))
	for i, it := range batch {
		if it.el != nil {
			it.el.WriteTo(bw)
		} else {
			bw.WriteString(it.raw)
		}
		batch[i] = item{}
	}
	err := bw.Flush()
	bw.Reset(io.Discard)
	w.pool.Put(bw)
	return err
}

// writeMessages hands each item of batch to w.message as one message,
// serialized in buf, then calls w.flush.
func (w *Writer) writeMessages(batch []item, buf *bytes.Buffer) error {
	for i, it := range batch {
		batch[i] = item{}
		if it.el != nil {
			buf.Reset()
			it.el.WriteQualified(buf)
			if err := w.message(buf.Bytes()); err != nil {
				return err
			}
			continue
		}
		if err := w.message([]byte(it.raw)); err != nil {
			return err
		}
	}
	if w.flush != nil {
		return w.flush()
	}
	return nil
}

// Drain waits until everything queued so far has been written or the
// timeout passes.
func (w *Writer) Drain(timeout time.Duration) {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		return
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	ch := w.idle
	w.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
	}
}

// Close queues final raw XML (such as a stream error and the closing tag),
// refuses further sends, and waits up to timeout for the queue to drain.
func (w *Writer) Close(final string, timeout time.Duration) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	if final != "" {
		w.SendRaw(final)
	}
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.Drain(timeout)
}

// Closed reports whether the writer stopped accepting stanzas.
func (w *Writer) Closed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}
