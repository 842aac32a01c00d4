// Package linger closes a connection after a stream error so that the
// peer can still read the error.
//
// Closing a TCP socket that has unread input makes the kernel answer the
// peer with a reset, and a reset can discard data already sent, such as
// the stream error explaining why the stream ends, before the peer reads
// it. A peer that is still writing (the rest of an oversized stanza, say)
// then sees only a broken connection. Close avoids that the way HTTP
// servers do: it stops sending, reads and discards what the peer still
// sends for a short while, and only then closes.
package linger

import (
	"io"
	"net"
	"time"
)

// Limits of the wait before the connection is closed.
const (
	// Wait bounds how long the peer's input is read and discarded.
	Wait = 2 * time.Second
	// MaxDiscard bounds how much of the peer's input is read.
	MaxDiscard = 1 << 20
)

// Close half-closes conn for writing, discards what the peer still sends
// until it closes its side, Wait passes or MaxDiscard bytes were read,
// and then closes conn. conn is the TCP connection under any TLS: what was
// written through TLS must have been flushed before.
func Close(conn net.Conn) error {
	if hc, ok := conn.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(Wait))
	io.CopyN(io.Discard, conn, MaxDiscard)
	return conn.Close()
}
