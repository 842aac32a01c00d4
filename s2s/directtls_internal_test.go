package s2s

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/certs"
	"parley/router"
	"parley/stanza"
)

// fakeSRVTable answers SRV lookups from a table keyed by "_service._proto.name".
type fakeSRVTable map[string][]*net.SRV

func (f fakeSRVTable) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if recs, ok := f[key]; ok {
		return key, recs, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

// inbox is a router session that records what it is sent.
type inbox struct {
	mu  sync.Mutex
	got []*stanza.Element
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 16)} }

func (b *inbox) Send(el *stanza.Element) bool {
	b.mu.Lock()
	b.got = append(b.got, el)
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
	return true
}

func (b *inbox) Close(string, string) {}

func (b *inbox) wait(t *testing.T, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		for _, el := range b.got {
			if match(el) {
				b.mu.Unlock()
				return el
			}
		}
		b.mu.Unlock()
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("no matching stanza; got %v", b.got)
		}
	}
}

// testService starts a federation service for domain with its own router
// and a self-signed certificate, listening on ln.
func testService(t *testing.T, domain string, resolver *Resolver, ln net.Listener, directTLS bool) (*Service, *router.Router) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	dir := t.TempDir()
	cert, err := certs.NewHolder(func() (tls.Certificate, error) {
		return certs.LoadOrGenerate("", "", dir, []string{domain}, log)
	})
	if err != nil {
		t.Fatal(err)
	}
	r := router.New([]string{domain}, nil, log)
	s := New(Options{Router: r, Local: []string{domain}, Certificate: cert, Resolver: resolver,
		ConnectTimeout: 5 * time.Second, Log: log.With().Str("server", domain).Logger()})
	r.SetRemote(s.Send)
	ctx, cancel := context.WithCancel(context.Background())
	go s.Serve(ctx, ln, directTLS)
	t.Cleanup(func() {
		ln.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		s.Shutdown(sctx)
		scancel()
		cancel()
	})
	return s, r
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func srvFor(addr string, priority, weight uint16) *net.SRV {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &net.SRV{Target: host + ".", Port: uint16(p), Priority: priority, Weight: weight}
}

// TestDirectTLSThroughSRV follows _xmpps-server SRV records (XEP-0368):
// the first target refuses connections, the second is a direct TLS
// listener, and a message gets through.
func TestDirectTLSThroughSRV(t *testing.T) {
	lnA, lnB := listen(t), listen(t)
	refused := listen(t)
	refusedAddr := refused.Addr().String()
	refused.Close()
	dns := fakeSRVTable{"_xmpps-server._tcp.b.test": {srvFor(refusedAddr, 0, 0), srvFor(lnB.Addr().String(), 1, 0)}}
	_, rA := testService(t, "a.test", &Resolver{DNS: dns}, lnA, false)
	sB, rB := testService(t, "b.test", &Resolver{Hosts: map[string]string{"a.test": lnA.Addr().String()}}, lnB, true)

	bob := newInbox()
	bobJID := jid.MustParse("bob@b.test/pc")
	rB.Bind(context.Background(), bobJID, bob)
	msg := stanza.New("", "message", "from", "alice@a.test/pc", "to", "bob@b.test/pc", "type", "chat")
	msg.Append(stanza.New("", "body").AppendText("over direct TLS"))
	rA.Deliver(context.Background(), msg)
	got := bob.wait(t, func(el *stanza.Element) bool { return el.ChildText("", "body") == "over direct TLS" })
	if got.From() != "alice@a.test/pc" {
		t.Errorf("from %q", got.From())
	}
	sB.mu.Lock()
	n := len(sB.incoming)
	var tlsOn bool
	for in := range sB.incoming {
		tlsOn = in.t.tls && in.directTLS
	}
	sB.mu.Unlock()
	if n != 1 || !tlsOn {
		t.Errorf("b.test has %d incoming streams (direct TLS: %v), want 1 over direct TLS", n, tlsOn)
	}
}
