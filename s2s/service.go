// Package s2s federates parley with other XMPP servers (RFC 6120
// server-to-server streams): outgoing links opened on demand, incoming
// streams, SASL EXTERNAL with certificates (XEP-0178) and server dialback
// (XEP-0220, keys per XEP-0185) in every role.
package s2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/certs"
	"parley/internal/accept"
	"parley/router"
	"parley/stanza"
)

// Options configure the federation service.
type Options struct {
	// Router delivers stanzas arriving from peers.
	Router *router.Router
	// Local lists the domains this server federates as: the served
	// domains and the group-chat domain.
	Local []string
	// Certificate is presented on every link, to peers and as a client
	// certificate for SASL EXTERNAL.
	Certificate *certs.Holder
	// Roots verify peers' certificates; nil means the system roots.
	Roots *x509.CertPool
	// Resolver finds peers' addresses.
	Resolver *Resolver
	// Policy decides which peers may federate.
	Policy Policy
	// SecureAuth refuses dialback: peers must authenticate with a valid
	// certificate.
	SecureAuth bool
	// ConnectTimeout bounds setting up an outgoing link.
	ConnectTimeout time.Duration
	// IdleTimeout closes links that carried no stanza for this long.
	IdleTimeout time.Duration
	// MaxStanzaSize is the largest stanza accepted from a peer.
	MaxStanzaSize int
	// DialbackSecret keys dialback; a random one is used when empty.
	DialbackSecret []byte
	// Log receives one line for every link opened, refused or closed.
	Log zerolog.Logger
	// Audit records every link established (federation.established);
	// nil records nothing.
	Audit *audit.Log
	// Refusals sums up refused links in the audit log (see
	// NewRefusals); nil counts nothing.
	Refusals *audit.Repeats
}

// pair is a (local domain, remote domain) pair that a link serves.
type pair struct{ local, remote string }

// Service runs federation: it is the router's handler for remote
// domains and serves incoming server streams.
type Service struct {
	opts   Options
	local  map[string]bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	out      map[pair]*outLink
	incoming map[*inStream]struct{}
	bidi     map[pair]*inStream // incoming streams the peer made bidirectional (XEP-0288)
	closed   bool
}

// New returns a federation service; Start or Serve run it.
func New(o Options) *Service {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 30 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.MaxStanzaSize <= 0 {
		o.MaxStanzaSize = 262144
	}
	if len(o.DialbackSecret) == 0 {
		o.DialbackSecret = make([]byte, 32)
		rand.Read(o.DialbackSecret)
	}
	if o.Resolver == nil {
		o.Resolver = &Resolver{}
	}
	s := &Service{opts: o, local: make(map[string]bool), out: make(map[pair]*outLink), incoming: make(map[*inStream]struct{}), bidi: make(map[pair]*inStream)}
	for _, d := range o.Local {
		s.local[d] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// isLocal reports whether domain is one this server federates as.
func (s *Service) isLocal(domain string) bool { return s.local[domain] }

// Send hands a stanza to the link from its sender's domain to its
// recipient's domain, opening the link if needed. It is the router's
// remote handler: stanzas that cannot be sent are bounced to the sender.
func (s *Service) Send(ctx context.Context, el *stanza.Element) {
	to, err := s.opts.Router.ParseJID(el.To())
	if err != nil {
		s.opts.Router.Bounce(ctx, el, stanza.ErrText("jid-malformed", "invalid to address"))
		return
	}
	from, err := s.opts.Router.ParseJID(el.From())
	if err != nil || !s.isLocal(from.Domainpart()) {
		s.opts.Log.Warn().Str("from", el.From()).Str("to", el.To()).Msg("s2s: dropping stanza not from a local domain")
		return
	}
	p := pair{local: from.Domainpart(), remote: to.Domainpart()}
	if err := s.opts.Policy.Check(p.remote); err != nil {
		s.auditRefused("out", p, whyPolicy, err.Error(), "")
		s.opts.Router.Bounce(ctx, el, stanza.ErrText("not-allowed", "federation with "+p.remote+" is not permitted: "+err.Error()))
		return
	}
	for {
		l := s.link(p)
		if l == nil {
			s.opts.Router.Bounce(ctx, el, stanza.ErrText("remote-server-not-found", "the server is shutting down"))
			return
		}
		if l.send(el) {
			return
		}
		// The link ended between lookup and send: take a fresh one.
	}
}

// sender is where stanzas for a domain pair go: an outgoing link, or an
// incoming stream the peer made bidirectional.
type sender interface {
	send(el *stanza.Element) bool
}

// link returns the outgoing link for p, or a bidirectional incoming
// stream for it, starting a link if there is neither.
func (s *Service) link(p pair) sender {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if l, ok := s.out[p]; ok && !l.done() {
		return l
	}
	if in, ok := s.bidi[p]; ok {
		return in
	}
	ctx, cancel := context.WithCancel(s.ctx)
	l := newOutLink(s, p, cancel)
	s.out[p] = l
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		l.run(ctx)
	}()
	return l
}

// setBidi registers (or, with on false, removes) in as a way to send
// stanzas for p.
func (s *Service) setBidi(p pair, in *inStream, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.bidi[p] = in
	} else if s.bidi[p] == in {
		delete(s.bidi, p)
	}
}

// forget removes l from the registry if it is still the link for its pair.
func (s *Service) forget(l *outLink) {
	s.mu.Lock()
	if s.out[l.pair] == l {
		delete(s.out, l.pair)
	}
	s.mu.Unlock()
}

// Serve accepts incoming server streams on ln until ctx ends or ln is
// closed. With directTLS, TLS starts at the first byte (XEP-0368).
func (s *Service) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	return accept.Loop(ctx, ln, func(nc net.Conn) {
		in := newInStream(s, nc, directTLS)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.incoming[in] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			in.serve(s.ctx)
			s.mu.Lock()
			delete(s.incoming, in)
			s.mu.Unlock()
		}()
	})
}

// Shutdown closes every link with a system-shutdown stream error and
// waits for their goroutines, bouncing stanzas still queued.
func (s *Service) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	outs := make([]*outLink, 0, len(s.out))
	for _, l := range s.out {
		outs = append(outs, l)
	}
	ins := make([]*inStream, 0, len(s.incoming))
	for in := range s.incoming {
		ins = append(ins, in)
	}
	s.mu.Unlock()
	for _, l := range outs {
		l.shutdown()
	}
	for _, in := range ins {
		in.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.cancel()
}

// tlsClientConfig is the TLS configuration for links we open to remote.
// The peer's certificate is checked by the caller, which decides whether
// it authenticates the peer or dialback is needed.
func (s *Service) tlsClientConfig(remote string, alpn bool) *tls.Config {
	c := &tls.Config{
		ServerName:           remote,
		InsecureSkipVerify:   true, // verified by verifyPeerCert; dialback covers the rest
		MinVersion:           tls.VersionTLS12,
		GetClientCertificate: s.opts.Certificate.GetClientCertificate,
	}
	if alpn {
		c.NextProtos = []string{"xmpp-server"}
	}
	return c
}

// tlsServerConfig is the TLS configuration for incoming links: a client
// certificate is asked for, and checked later against the domain the
// peer claims.
func (s *Service) tlsServerConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: s.opts.Certificate.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequestClientCert,
		NextProtos:     []string{"xmpp-server"},
	}
}

// verified reports whether a peer's certificate chain is valid for domain.
func (s *Service) verified(chain []*x509.Certificate, domain string) error {
	return verifyPeerCert(chain, domain, s.opts.Roots)
}

// logLink writes the line admins read to see who federates: event is
// established, refused, failed or closed; reason says why a link was
// refused, failed or closed.
func (s *Service) logLink(event, direction string, p pair, auth, reason string) {
	ev := s.opts.Log.Info()
	if event == "refused" || event == "failed" {
		ev = s.opts.Log.Warn()
	}
	ev = ev.Str("direction", direction).Str("local", p.local).Str("remote", p.remote)
	if a, ok := strings.CutSuffix(auth, "+bidi"); ok {
		auth = a
		ev = ev.Bool("bidi", true)
	}
	if auth != "" {
		ev = ev.Str("auth", auth)
	}
	if reason != "" {
		ev = ev.Str("reason", reason)
	}
	ev.Msg("s2s link " + event)
}

func normalizeDomain(d string) string { return strings.ToLower(strings.TrimSuffix(d, ".")) }
