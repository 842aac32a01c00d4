package proxy65

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// testWait bounds every wait of these tests.
const testWait = 10 * time.Second

// startProxy runs a proxy on a loopback port with o's limits (defaults
// for those unset) until the test ends.
func startProxy(t *testing.T, o Options) *Service {
	s, _ := startProxyStop(t, o)
	return s
}

// startProxyStop is startProxy that also returns a function stopping the
// proxy and waiting until its Run returned.
func startProxyStop(t *testing.T, o Options) (*Service, func()) {
	t.Helper()
	o.Domain, o.Listen, o.PublicHost = "proxy.a.test", "127.0.0.1:0", "127.0.0.1"
	if o.MaxTransfers == 0 {
		o.MaxTransfers = 10
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = testWait
	}
	if o.ActivationTimeout == 0 {
		o.ActivationTimeout = testWait
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = testWait
	}
	o.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(testWait):
			t.Error("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func dial(t *testing.T, s *Service) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testWait))
	return c
}

// connect opens a SOCKS5 connection to the bytestream hash and returns
// it with the proxy's reply code.
func connect(t *testing.T, s *Service, hash string) (net.Conn, byte) {
	t.Helper()
	c := dial(t, s)
	if _, err := c.Write(append([]byte{5, 1, 0}, connectRequest(hash)...)); err != nil {
		t.Fatal(err)
	}
	var method [2]byte
	if _, err := io.ReadFull(c, method[:]); err != nil || method != [2]byte{5, 0} {
		t.Fatalf("method selection: % x, %v", method, err)
	}
	rep := make([]byte, 5+len(hash)+2)
	if _, err := io.ReadFull(c, rep[:2]); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if rep[1] != repSucceeded {
		io.ReadFull(c, rep[2:10]) // the rest of a reply without address, if any
		return c, rep[1]
	}
	if _, err := io.ReadFull(c, rep[2:]); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if want := reply(repSucceeded, hash, 0); !bytes.Equal(rep, want) {
		t.Fatalf("reply % x, want % x", rep, want)
	}
	return c, rep[1]
}

// mustConnect is connect for a connection that must be accepted.
func mustConnect(t *testing.T, s *Service, hash string) net.Conn {
	t.Helper()
	c, code := connect(t, s, hash)
	if code != repSucceeded {
		t.Fatalf("connection to %s refused with %#x", hash, code)
	}
	return c
}

// expectClosed waits until the proxy closes c, discarding what it reads.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s", within)
	}
}

// waitStreams waits until the proxy holds n bytestreams.
func waitStreams(t *testing.T, s *Service, n int) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for s.streamCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytestreams, want %d", s.streamCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// parties returns how many parties of the bytestream hash are connected.
func (s *Service) parties(hash string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[hash]; st != nil {
		return st.n
	}
	return 0
}

const (
	ini = "alice@a.test/pc"
	tgt = "bob@a.test/phone"
)

func TestHandshakeTimeout(t *testing.T) {
	s := startProxy(t, Options{HandshakeTimeout: 200 * time.Millisecond})
	silent := dial(t, s)
	partial := dial(t, s)
	partial.Write([]byte{5, 1, 0, 5, 1, 0, 3, 40, 'a'}) // the address never ends
	start := time.Now()
	expectClosed(t, silent, 5*time.Second)
	expectClosed(t, partial, 5*time.Second)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %s, before the timeout", d)
	}
	waitStreams(t, s, 0)
}

func TestRefusalsOverTCP(t *testing.T) {
	s := startProxy(t, Options{})
	t.Run("no acceptable method", func(t *testing.T) {
		c := dial(t, s)
		c.Write([]byte{5, 1, 2})
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, []byte{5, 0xff}) {
			t.Fatalf("got % x, want 05 ff and the end", got)
		}
	})
	t.Run("wrong version", func(t *testing.T) {
		c := dial(t, s)
		c.Write([]byte{4, 1, 0, 80, 127, 0, 0, 1, 0})
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Fatalf("got % x, want the end", got)
		}
	})
	t.Run("wrong address type", func(t *testing.T) {
		c := dial(t, s)
		c.Write([]byte{5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80})
		got, _ := io.ReadAll(c)
		if want := append([]byte{5, 0}, reply(repAddressTypeNotSupported, "", 0)...); !bytes.Equal(got, want) {
			t.Fatalf("got % x, want % x and the end", got, want)
		}
	})
	t.Run("unknown address", func(t *testing.T) {
		if _, code := connect(t, s, "files.example.com"); code != repHostUnreachable {
			t.Fatalf("reply %#x, want host unreachable", code)
		}
	})
	waitStreams(t, s, 0)
}

func TestThirdConnectionRefused(t *testing.T) {
	s := startProxy(t, Options{})
	h := hashOf("third")
	mustConnect(t, s, h)
	mustConnect(t, s, h)
	c, code := connect(t, s, h)
	if code != repNotAllowed {
		t.Fatalf("third connection: reply %#x, want %#x", code, repNotAllowed)
	}
	expectClosed(t, c, testWait)
	if s.streamCount() != 1 {
		t.Fatalf("%d bytestreams, want 1", s.streamCount())
	}
}

func TestActivation(t *testing.T) {
	s := startProxy(t, Options{})
	if err := s.activate("nothing", ini, tgt); !errors.Is(err, errNoStream) {
		t.Fatalf("activating an unknown bytestream: %v", err)
	}
	h := Hash("s1", ini, tgt)
	target := mustConnect(t, s, h)
	if err := s.activate("s1", ini, tgt); !errors.Is(err, errOneParty) {
		t.Fatalf("activating with the target alone: %v", err)
	}
	// The target's JID first, as if the target asked: another hash.
	initiator := mustConnect(t, s, h)
	if err := s.activate("s1", tgt, ini); !errors.Is(err, errNoStream) {
		t.Fatalf("activating by the target: %v", err)
	}
	// Sent before activation: kept, then relayed.
	initiator.Write([]byte("early "))
	if err := s.activate("s1", ini, tgt); err != nil {
		t.Fatal(err)
	}
	if err := s.activate("s1", ini, tgt); !errors.Is(err, errActive) {
		t.Fatalf("second activation: %v", err)
	}
	initiator.Write([]byte("data"))
	got := make([]byte, len("early data"))
	if _, err := io.ReadFull(target, got); err != nil || string(got) != "early data" {
		t.Fatalf("target read %q, %v", got, err)
	}
	target.Write([]byte("back"))
	if _, err := io.ReadFull(initiator, got[:4]); err != nil || string(got[:4]) != "back" {
		t.Fatalf("initiator read %q, %v", got[:4], err)
	}
	// The initiator ends its side: the target sees the end and can
	// still answer.
	initiator.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(target); err != nil || len(rest) != 0 {
		t.Fatalf("target after the initiator's end: %q, %v", rest, err)
	}
	target.Write([]byte("bye"))
	target.Close()
	if rest, err := io.ReadAll(initiator); err != nil || string(rest) != "bye" {
		t.Fatalf("initiator after the target's end: %q, %v", rest, err)
	}
	waitStreams(t, s, 0)
}

func TestRelayLargeBothWays(t *testing.T) {
	s := startProxy(t, Options{})
	h := Hash("big", ini, tgt)
	a := mustConnect(t, s, h)
	b := mustConnect(t, s, h)
	if err := s.activate("big", ini, tgt); err != nil {
		t.Fatal(err)
	}
	ab, ba := make([]byte, 3<<20), make([]byte, 2<<20)
	rand.Read(ab)
	rand.Read(ba)
	send := func(c net.Conn, data []byte) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			c.(*net.TCPConn).CloseWrite()
			done <- err
		}()
		return done
	}
	da, db := send(a, ab), send(b, ba)
	gotB, errB := io.ReadAll(b)
	gotA, errA := io.ReadAll(a)
	if errA != nil || errB != nil || <-da != nil || <-db != nil {
		t.Fatalf("errors: %v %v", errA, errB)
	}
	if !bytes.Equal(gotB, ab) || !bytes.Equal(gotA, ba) {
		t.Fatalf("relayed %d and %d bytes, not the %d and %d sent", len(gotB), len(gotA), len(ab), len(ba))
	}
	waitStreams(t, s, 0)
}

func TestSizeLimit(t *testing.T) {
	const limit = 100000
	s := startProxy(t, Options{MaxTransferSize: limit})
	h := Hash("limit", ini, tgt)
	a := mustConnect(t, s, h)
	b := mustConnect(t, s, h)
	if err := s.activate("limit", ini, tgt); err != nil {
		t.Fatal(err)
	}
	go a.Write(make([]byte, 1<<20))
	got, _ := io.ReadAll(b)
	if len(got) != limit {
		t.Fatalf("target got %d bytes, want the limit %d", len(got), limit)
	}
	expectClosed(t, a, testWait)
	waitStreams(t, s, 0)
}

func TestIdleTimeout(t *testing.T) {
	s := startProxy(t, Options{IdleTimeout: time.Second})
	h := Hash("idle", ini, tgt)
	a := mustConnect(t, s, h)
	b := mustConnect(t, s, h)
	if err := s.activate("idle", ini, tgt); err != nil {
		t.Fatal(err)
	}
	// Activity keeps it open past the timeout.
	for range 6 {
		time.Sleep(250 * time.Millisecond)
		a.Write([]byte("x"))
		if _, err := io.ReadFull(b, make([]byte, 1)); err != nil {
			t.Fatalf("bytestream ended while active: %v", err)
		}
	}
	start := time.Now()
	expectClosed(t, a, testWait)
	expectClosed(t, b, testWait)
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("closed %s after the last byte, before the idle timeout", d)
	}
	waitStreams(t, s, 0)
}

func TestActivationTimeout(t *testing.T) {
	s := startProxy(t, Options{ActivationTimeout: 300 * time.Millisecond})
	start := time.Now()
	waiting := mustConnect(t, s, hashOf("slow"))
	expectClosed(t, waiting, testWait)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("closed after %s, before the activation timeout", d)
	}
	waitStreams(t, s, 0)
}

// TestLeaving: a party that leaves before activation frees its place for
// another connection.
func TestLeaving(t *testing.T) {
	s := startProxy(t, Options{})
	h := hashOf("retry")
	first := mustConnect(t, s, h)
	mustConnect(t, s, h)
	first.Close()
	deadline := time.Now().Add(testWait)
	for s.parties(h) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d parties after one left, want 1", s.parties(h))
		}
		time.Sleep(5 * time.Millisecond)
	}
	mustConnect(t, s, h)
}

func TestMaxTransfers(t *testing.T) {
	s := startProxy(t, Options{MaxTransfers: 1})
	mustConnect(t, s, hashOf("one"))
	if _, code := connect(t, s, hashOf("two")); code != repGeneralFailure {
		t.Fatalf("second bytestream: reply %#x, want general failure", code)
	}
	// The first bytestream's second party still gets in, while the
	// refused connection lingers; then every connection slot (three
	// per bytestream) is taken.
	mustConnect(t, s, hashOf("one"))
	extra := dial(t, s)
	expectClosed(t, extra, time.Second)
}

func TestShutdown(t *testing.T) {
	s, stop := startProxyStop(t, Options{})
	h := Hash("sh", ini, tgt)
	a := mustConnect(t, s, h)
	b := mustConnect(t, s, h)
	if err := s.activate("sh", ini, tgt); err != nil {
		t.Fatal(err)
	}
	waiting := mustConnect(t, s, hashOf("waiting"))
	silent := dial(t, s)
	silent.Write([]byte{5})
	time.Sleep(50 * time.Millisecond) // let the proxy read it
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	for _, c := range []net.Conn{a, b, waiting, silent} {
		expectClosed(t, c, time.Second)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("the listener still accepts connections")
	}
}
