package linger_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"parley/internal/linger"
)

// TestPeerReadsWhatWasSentWhileStillWriting has a server answer the first
// bytes of a long upload and close with linger.Close while the client is
// still writing: the client's writes must all succeed and the answer must
// arrive, followed by an orderly end of stream.
func TestPeerReadsWhatWasSentWhileStillWriting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := []byte("<stream:error>policy-violation</stream:error>")
	closed := make(chan time.Duration, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1000)
		io.ReadFull(c, buf)
		c.Write(answer)
		start := time.Now()
		linger.Close(c)
		closed <- time.Since(start)
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	upload := bytes.Repeat([]byte("x"), linger.MaxDiscard/2)
	if _, err := c.Write(upload); err != nil {
		t.Fatalf("write while the server lingers: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the answer: %v (got %q)", err, got)
	}
	if !bytes.Equal(got, answer) {
		t.Fatalf("read %q, want %q", got, answer)
	}
	// The server stops waiting as soon as the client closes its side.
	if d := <-closed; d >= linger.Wait {
		t.Errorf("Close waited %v although the client had closed its side", d)
	}
}

// TestSilentPeer checks that a peer which neither sends nor closes holds
// the connection open at most for linger.Wait.
func TestSilentPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		linger.Close(s)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(linger.Wait + 10*time.Second):
		t.Fatal("Close did not return after linger.Wait")
	}
	// The server's side is closed: the client reads the end of stream.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after Close: %d bytes, %v; want EOF", n, err)
	}
}
