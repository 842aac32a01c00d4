package idlepoll

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

func pair(t *testing.T) (server *net.TCPConn, client net.Conn, fd int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server = c.(*net.TCPConn)
	raw, _ := server.SyscallConn()
	raw.Control(func(f uintptr) { fd = int(f) })
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client, fd
}

func TestResumeOnInputAndHangup(t *testing.T) {
	p, err := New()
	if err == ErrUnsupported {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	server, client, fd := pair(t)
	resumed := make(chan struct{}, 2)
	if err := p.Park(fd, func() { resumed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resumed:
		t.Fatal("resumed without input")
	case <-time.After(300 * time.Millisecond):
	}
	client.Write([]byte("x"))
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after input")
	}
	buf := make([]byte, 1)
	server.Read(buf)
	// Input that is already there when parking is reported at once.
	client.Write([]byte("y"))
	time.Sleep(50 * time.Millisecond)
	if err := p.Park(fd, func() { resumed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatal("pending input not reported")
	}
	server.Read(buf)
	// A hang-up resumes too.
	if err := p.Park(fd, func() { resumed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	client.Close()
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after hang-up")
	}
}

func TestCancel(t *testing.T) {
	p, err := New()
	if err == ErrUnsupported {
		t.Skip(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	_, client, fd := pair(t)
	resumed := make(chan struct{}, 1)
	p.Park(fd, func() { resumed <- struct{}{} })
	if !p.Cancel(fd) {
		t.Fatal("Cancel of a parked fd reported false")
	}
	if p.Cancel(fd) {
		t.Fatal("second Cancel reported true")
	}
	client.Write([]byte("x"))
	select {
	case <-resumed:
		t.Fatal("resumed after Cancel")
	case <-time.After(300 * time.Millisecond):
	}
	if p.Parked() != 0 {
		t.Fatalf("parked = %d", p.Parked())
	}
	_ = syscall.EINVAL
}
