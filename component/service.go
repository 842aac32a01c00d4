// Package component serves external components (XEP-0114, the Jabber
// Component Protocol): gateways, bridges, bots and push services that
// connect over plain TCP, authenticate with a secret shared with the
// server, and then send and receive the stanzas of a domain of their own.
//
// Every configured component domain is registered with the router when
// the service is created. While the component is connected, stanzas to
// its domain (or any JID at it) are written to its stream; while it is
// not, they bounce with service-unavailable.
//
// Only one stream per domain is accepted: a second component that
// authenticates for a domain already connected is refused with a conflict
// stream error, and the connected one keeps running. This is what Prosody
// does by default; a component that lost its connection without the
// server noticing can connect again once the server detects the loss.
package component

import (
	"context"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/internal/accept"
	"parley/internal/connset"
	"parley/router"
	"parley/stanza"
	"parley/xmlstream"
)

// NS is the content namespace of component streams.
const NS = "jabber:component:accept"

// Defaults of Options.
const (
	DefaultMaxStanzaSize    = 256 << 10
	DefaultHandshakeTimeout = 30 * time.Second
)

// Options configure the component service.
type Options struct {
	// Router delivers stanzas from components and routes stanzas for
	// their domains to them.
	Router *router.Router
	// Secrets maps each component domain (normalized) to its shared
	// secret.
	Secrets map[string]string
	// MaxStanzaSize is the largest stanza accepted from a component, in
	// bytes; default DefaultMaxStanzaSize.
	MaxStanzaSize int
	// HandshakeTimeout bounds the time from connecting to a successful
	// handshake; default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Log receives one line per component connected, refused and
	// disconnected. Secrets are never logged.
	Log zerolog.Logger
}

// Service accepts component streams and routes their domains' stanzas.
type Service struct {
	opts   Options
	wpool  *sync.Pool
	conns  connset.Set[*conn] // every open stream
	mu     sync.Mutex
	active map[string]*conn // authenticated stream by domain
}

// New returns the component service and registers a router handler for
// every domain in o.Secrets; call it before the router serves streams.
func New(o Options) *Service {
	if o.MaxStanzaSize <= 0 {
		o.MaxStanzaSize = DefaultMaxStanzaSize
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	o.Secrets = maps.Clone(o.Secrets)
	s := &Service{
		opts:   o,
		wpool:  xmlstream.NewBufferPool(4096),
		active: make(map[string]*conn),
	}
	for domain := range o.Secrets {
		o.Router.RegisterComponent(domain, s.handler(domain))
	}
	return s
}

// Connected reports whether the component for domain is connected and
// authenticated.
func (s *Service) Connected(domain string) bool {
	return s.stream(domain) != nil
}

// handler returns the router's handler for domain: it writes each stanza
// to the component's stream, or bounces it when the component is not
// connected.
func (s *Service) handler(domain string) router.Handler {
	return func(ctx context.Context, el *stanza.Element) {
		if c := s.stream(domain); c != nil && c.w.Send(el) {
			return
		}
		s.opts.Router.Bounce(ctx, el, stanza.ErrText("service-unavailable", domain+" is not connected"))
	}
}

// stream returns the authenticated stream of domain, or nil.
func (s *Service) stream(domain string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[domain]
}

// claim makes c the stream of its domain, logs the connection and, in the
// same step, answers its handshake, so that no stanza for the domain can
// reach the component before the answer. It reports false if another
// stream holds the domain.
func (s *Service) claim(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[c.domain] != nil {
		return false
	}
	s.active[c.domain] = c
	s.opts.Log.Info().Str("domain", c.domain).Str("remote", c.remote).Msg("component connected")
	c.w.SendRaw("<handshake/>")
	return true
}

// release gives up c's domain, if c holds it.
func (s *Service) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[c.domain] == c {
		delete(s.active, c.domain)
	}
}

// Serve accepts component connections on ln until it is closed or ctx
// ends.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	return accept.Loop(ctx, ln, func(nc net.Conn) {
		c := s.newConn(nc)
		if !s.conns.Add(c) {
			nc.Close()
			return
		}
		go func() {
			defer s.conns.Done(c)
			c.serve(ctx)
		}()
	})
}

// Shutdown closes every component stream with a system-shutdown error and
// waits for them to end, or for ctx.
func (s *Service) Shutdown(ctx context.Context) {
	s.conns.Close(ctx, (*conn).shutdown)
}
