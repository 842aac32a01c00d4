package server

import (
	"net"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	cases := []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5347}, true},
		{&net.TCPAddr{IP: net.ParseIP("127.1.2.3"), Port: 5347}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 5347}, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 5347}, false},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 5347}, false},
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 5347}, false},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 5347}, false},
		{&net.UnixAddr{Name: "/run/parley.sock", Net: "unix"}, false},
	}
	for _, c := range cases {
		if got := isLoopback(c.addr); got != c.want {
			t.Errorf("isLoopback(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}
