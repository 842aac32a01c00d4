package accept

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestLoopServesUntilClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan net.Conn, 2)
	done := make(chan error, 1)
	go func() { done <- Loop(context.Background(), ln, func(c net.Conn) { got <- c }) }()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case s := <-got:
			s.Close()
		case <-time.After(5 * time.Second):
			t.Fatalf("connection %d not handed over", i)
		}
	}
	ln.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Loop after Close: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Loop did not return after the listener closed")
	}
}
