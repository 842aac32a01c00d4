// Package c2s serves client-to-server streams (RFC 6120): STARTTLS (required
// before authentication) or direct TLS (XEP-0368), SASL, resource binding,
// then stanzas handed to the router with their from address stamped. Modern
// clients log in with SASL2 (XEP-0388) instead, binding inline with Bind 2
// (XEP-0386), resuming inline (XEP-0198), and with FAST tokens (XEP-0484)
// in one round trip.
package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/idlepoll"
	"parley/internal/accept"
	"parley/internal/connset"
	"parley/router"
	"parley/sasl"
	"parley/stanza"
	"parley/storage"
	"parley/streamfeature"
	"parley/xmlstream"
)

// Namespaces of stream features.
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
	nsSASLCB  = "urn:xmpp:sasl-cb:0"
)

// Options configure the client listener.
type Options struct {
	Router *router.Router
	// Features are the stream features modules offer; nil offers none
	// beyond TLS, SASL and binding.
	Features      *streamfeature.Registry
	TLS           *tls.Config // must hold the server certificate
	Credentials   sasl.CredentialSource
	Throttle      *sasl.Throttle
	MaxStanzaSize int           // bytes; default 262144
	AuthTimeout   time.Duration // unauthenticated streams are closed after it; default 30s
	MaxAuthTries  int           // failed SASL attempts before the stream is closed; default 5
	// Poller parks idle sessions without a goroutine; nil keeps one
	// goroutine per stream.
	Poller *idlepoll.Poller
	// ParkAfter is how long a session must be quiet before it is parked;
	// default 2s.
	ParkAfter time.Duration
	// ResumeTimeout is how long a session with stream management waits
	// for its client to resume it after the connection broke (XEP-0198);
	// 0 offers no resumption.
	ResumeTimeout time.Duration
	// MaxUnacked is how many stanzas a client may leave unacknowledged
	// before its stream is closed; default 10000.
	MaxUnacked int
	// FastTokens stores the tokens of FAST logins (XEP-0484), which are
	// offered when it is set and FastTokenLifetime is positive; a token
	// works for FastTokenLifetime after it was issued.
	FastTokens        storage.FastTokens
	FastTokenLifetime time.Duration
	Log               zerolog.Logger

	// AuthFailures sums up failed logins per address in the audit log
	// (see NewAuthFailures); nil counts nothing.
	AuthFailures *audit.Repeats
}

// Server accepts client connections.
type Server struct {
	opts     Options
	features *streamfeature.Registry
	auth     *sasl.Authenticator
	pool     *sync.Pool // write buffers
	readPool *sync.Pool // read buffers
	// wsWritePool holds the buffers WebSocket streams gather a batch's
	// frames in.
	wsWritePool *sync.Pool
	conns       connset.Set[*conn]

	rmu       sync.Mutex
	resumable map[string]*session // sessions that may be resumed, by id

	// saslFeatures caches the rendered authentication features (see
	// conn.saslFeatures), by what they depend on.
	saslFeatures sync.Map
}

func (s *Server) leaf() *x509.Certificate {
	if get := s.opts.TLS.GetCertificate; get != nil {
		if c, err := get(nil); err == nil && c != nil {
			return c.Leaf
		}
		return nil
	}
	if len(s.opts.TLS.Certificates) == 0 {
		return nil
	}
	return s.opts.TLS.Certificates[0].Leaf
}

// New returns a client server. It registers the legacy session IQ
// (RFC 3921 §3) with the router.
func New(o Options) *Server {
	if o.MaxStanzaSize == 0 {
		o.MaxStanzaSize = 256 << 10
	}
	if o.AuthTimeout == 0 {
		o.AuthTimeout = 30 * time.Second
	}
	if o.ParkAfter == 0 {
		o.ParkAfter = 2 * time.Second
	}
	if o.MaxAuthTries == 0 {
		o.MaxAuthTries = 5
	}
	if o.MaxUnacked == 0 {
		o.MaxUnacked = 10000
	}
	if o.Features == nil {
		o.Features = new(streamfeature.Registry)
	}
	// Client State Indication (XEP-0352) is the stream's own business.
	o.Features.Add(streamfeature.Authenticated, stanza.New(NSCSI, "csi"))
	// Stream Management (XEP-0198).
	o.Features.Add(streamfeature.Authenticated, stanza.New(NSSM, "sm"))
	s := &Server{opts: o, features: o.Features, resumable: make(map[string]*session), auth: sasl.NewAuthenticator(), pool: xmlstream.NewBufferPool(4096), readPool: xmlstream.NewReadPool(),
		wsWritePool: &sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}}
	o.Router.HandleIQ(router.TargetAccount, nsSession, func(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
		return nil, nil
	})
	return s
}

// Serve accepts connections on ln until it is closed. With directTLS the
// TLS handshake comes first (XEP-0368); otherwise STARTTLS is offered and
// required.
func (s *Server) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	return accept.Loop(ctx, ln, func(nc net.Conn) {
		c := s.newTCPConn(nc, directTLS)
		if !s.conns.Add(c) {
			nc.Close()
			return
		}
		go c.serve(ctx)
	})
}

// forget drops an ended stream.
func (s *Server) forget(c *conn) { s.conns.Done(c) }

// registerResumable records a session that may be resumed under id.
func (s *Server) registerResumable(id string, sess *session) {
	s.rmu.Lock()
	s.resumable[id] = sess
	s.rmu.Unlock()
}

// forgetResumable forgets id, if it still names sess.
func (s *Server) forgetResumable(id string, sess *session) {
	s.rmu.Lock()
	if s.resumable[id] == sess {
		delete(s.resumable, id)
	}
	s.rmu.Unlock()
}

// resumableSession returns the session id names, or nil.
func (s *Server) resumableSession(id string) *session {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.resumable[id]
}

// shuttingDown reports whether Shutdown began.
func (s *Server) shuttingDown() bool { return s.conns.Closed() }

// Shutdown closes every stream with a system-shutdown error and the
// closing stream tag, ends the sessions waiting for resumption (what
// they held goes to offline storage), and waits for the streams'
// goroutines to end (or ctx).
func (s *Server) Shutdown(ctx context.Context) {
	defer s.endWaitingSessions(ctx)
	s.conns.Close(ctx, func(c *conn) { c.Close("system-shutdown", "the server is shutting down") })
}

// endWaitingSessions ends every session still registered for resumption.
func (s *Server) endWaitingSessions(ctx context.Context) {
	s.rmu.Lock()
	all := make([]*session, 0, len(s.resumable))
	for _, sess := range s.resumable {
		all = append(all, sess)
	}
	s.rmu.Unlock()
	for _, sess := range all {
		sess.end(context.WithoutCancel(ctx))
	}
}
