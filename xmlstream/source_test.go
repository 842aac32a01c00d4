package xmlstream

import (
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestWaitReadableSeesInputThatArrivedBefore covers input that arrives
// after Poll found none but before WaitReadable starts waiting: the
// runtime's poller has already reported it, and WaitReadable must not wait
// for a second report that never comes.
func TestWaitReadableSeesInputThatArrivedBefore(t *testing.T) {
	server, client := tcpPair(t)
	src := NewSource(server, NewReadPool())
	if !src.probe.canProbe() {
		t.Skip("no non-blocking reads on this platform")
	}
	if ready, err := src.Poll(); ready || err != nil {
		t.Fatalf("Poll on a quiet connection: %v, %v", ready, err)
	}
	if _, err := client.Write([]byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	// Let the runtime's poller take note of the input before the wait
	// begins: this is the order of events that lost the input.
	time.Sleep(100 * time.Millisecond)
	// The deadline only bounds the test should WaitReadable miss the
	// input.
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := src.WaitReadable(); err != nil {
		t.Fatalf("WaitReadable missed input already waiting: %v", err)
	}
	if ready, err := src.Poll(); !ready || err != nil {
		t.Fatalf("Poll after WaitReadable: %v, %v", ready, err)
	}
}

func TestWaitReadableWaitsForInput(t *testing.T) {
	server, client := tcpPair(t)
	src := NewSource(server, NewReadPool())
	if !src.probe.canProbe() {
		t.Skip("no non-blocking reads on this platform")
	}
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	done := make(chan error, 1)
	go func() { done <- src.WaitReadable() }()
	select {
	case err := <-done:
		t.Fatalf("WaitReadable returned on a quiet connection: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	client.Write([]byte("<presence/>"))
	if err := <-done; err != nil {
		t.Fatalf("WaitReadable: %v", err)
	}
}
