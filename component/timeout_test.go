package component_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/component"
	"parley/internal/testutil"
	"parley/router"
)

// TestHandshakeTimeout: a component that does not complete its handshake
// within HandshakeTimeout gets a connection-timeout stream error.
func TestHandshakeTimeout(t *testing.T) {
	r := router.New([]string{testutil.Domain}, nil, zerolog.Nop())
	svc := component.New(component.Options{
		Router:           r,
		Secrets:          map[string]string{gw: gwSecret},
		HandshakeTimeout: 100 * time.Millisecond,
		Log:              zerolog.Nop(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln) }()
	t.Cleanup(func() {
		ln.Close()
		svc.Shutdown(context.Background())
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()

	for _, tc := range []struct {
		name  string
		write string
	}{
		{"no header", ""},
		{"no handshake", "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='" + gw + "'>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.DialRaw(t, addr)
			if tc.write != "" {
				s.Write(tc.write)
			}
			if got := s.ExpectHeaderThenError(); got != "connection-timeout" {
				t.Fatalf("stream error %q, want connection-timeout", got)
			}
		})
	}

}
