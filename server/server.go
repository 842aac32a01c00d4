// Package server wires parley together: configuration, storage, the router,
// feature modules and listeners.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/adhoc"
	"parley/archive"
	"parley/audit"
	"parley/c2s"
	"parley/certs"
	"parley/component"
	"parley/config"
	"parley/httpserver"
	"parley/idlepoll"
	"parley/memtrim"
	"parley/module"
	"parley/muc"
	"parley/router"
	"parley/s2s"
	"parley/sasl"
	"parley/storage"
	"parley/storage/backend"
	"parley/streamfeature"
)

// Server is one parley instance.
type Server struct {
	cfg    *config.Config
	log    zerolog.Logger
	store  storage.Store
	router *router.Router
	c2s    *c2s.Server
	s2s    *s2s.Service // nil when federation is disabled
	muc    *muc.Service // nil when group chat is disabled
	// modules are the feature modules set up, features the stream
	// features they offer.
	modules  *module.Set
	features *streamfeature.Registry
	// archive writes every message archive in the background; it is
	// flushed before storage closes.
	archive *archive.Writer[storage.ArchivedMessage]
	certs   *certs.Holder    // the server certificate, reloadable
	poller  *idlepoll.Poller // nil where unsupported

	listeners map[string]net.Listener // by role: "c2s", "c2s_direct_tls", "s2s", "s2s_direct_tls", "pprof"
	wg        sync.WaitGroup
	cancel    context.CancelFunc

	components *component.Service // nil when no external component is configured
	http       *httpserver.Server
	commands   *adhoc.Registry // ad-hoc commands (XEP-0050) of the modules

	// audit is the audit log; authFailures and refusals sum up failed
	// logins and refused federation links in it.
	audit        *audit.Log
	authFailures *audit.Repeats
	refusals     *audit.Repeats
}

// Commands returns the server's ad-hoc commands, to which tests and
// tools may add commands of their own.
func (s *Server) Commands() *adhoc.Registry { return s.commands }

// New prepares a server from a loaded configuration: it loads or generates
// the certificate and opens storage, but listens on nothing yet.
func New(cfg *config.Config, log zerolog.Logger) (*Server, error) {
	names := append([]string(nil), cfg.Server.Domains...)
	if cfg.MUC.Domain != "" {
		names = append(names, cfg.MUC.Domain)
	}
	names = append(names, cfg.ComponentDomains()...)
	if cfg.Upload.Domain != "" {
		names = append(names, cfg.Upload.Domain)
	}
	if cfg.Proxy65.Domain != "" {
		names = append(names, cfg.Proxy65.Domain)
	}
	holder, err := certs.NewHolder(func() (tls.Certificate, error) {
		return certs.LoadOrGenerate(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir(), names, log)
	})
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	auditLog, err := audit.Open(audit.DefaultDir(cfg.DataDir()))
	if err != nil {
		return nil, err
	}
	store, err := backend.Open(context.Background(), cfg.Storage)
	if err != nil {
		auditLog.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: store, certs: holder, listeners: make(map[string]net.Listener), audit: auditLog}
	onAuditError := func(err error) { log.Error().Err(err).Msg("recording in the audit log failed") }
	s.authFailures = c2s.NewAuthFailures(auditLog, onAuditError)
	s.router = router.New(cfg.Server.Domains, store, log.With().Str("component", "router").Logger())
	s.features = new(streamfeature.Registry)
	s.archive = archive.NewWriter(store.AppendArchive, log.With().Str("component", "archive").Logger())
	s.http = httpserver.New(httpserver.Options{
		Listen:    cfg.HTTP.Listen,
		TLSListen: cfg.HTTP.TLSListen,
		TLS:       s.tlsConfig(),
		Host:      cfg.Server.Domains[0],
		PublicURL: cfg.HTTP.PublicURL,
		Origins:   cfg.HTTP.Origins,
		Log:       log.With().Str("component", "http").Logger(),
	})
	s.commands = adhoc.New(s.router, cfg.Server.Admins, log.With().Str("component", "adhoc").Logger())
	s.modules, err = module.Setup(modules(), module.Host{
		Router:   s.router,
		Store:    store,
		Config:   cfg,
		Features: s.features,
		Archive:  s.archive,
		HTTP:     s.http,
		Commands: s.commands,
		Audit:    auditLog,
		Log:      log,
	})
	if err != nil {
		store.Close()
		auditLog.Close()
		return nil, err
	}
	s.muc, _ = s.modules.Instance("muc").(*muc.Service)
	s.components = newComponents(cfg, s.router, log)
	if p, err := idlepoll.New(); err == nil {
		s.poller = p
	} else {
		log.Debug().Err(err).Msg("idle streams keep a goroutine each")
	}
	s.c2s = c2s.New(c2s.Options{
		Poller:            s.poller,
		Router:            s.router,
		Features:          s.features,
		TLS:               s.tlsConfig(),
		Credentials:       store,
		Throttle:          sasl.NewThrottle(cfg.C2S.LoginFailureDelay.Duration, cfg.C2S.LoginFailureMaxDelay.Duration),
		MaxStanzaSize:     cfg.C2S.MaxStanzaSize,
		AuthTimeout:       cfg.C2S.AuthTimeout.Duration,
		ResumeTimeout:     cfg.C2S.ResumeTimeout.Duration,
		MaxUnacked:        cfg.C2S.MaxUnacked,
		FastTokens:        store,
		FastTokenLifetime: cfg.C2S.FastTokenLifetime.Duration,
		Log:               log.With().Str("component", "c2s").Logger(),
		AuthFailures:      s.authFailures,
	})
	if cfg.S2S.Listen != "" || cfg.S2S.DirectTLSListen != "" {
		roots, err := certs.LoadPool(cfg.TLS.CA)
		if err != nil {
			store.Close()
			auditLog.Close()
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		s.refusals = s2s.NewRefusals(auditLog, onAuditError)
		s.s2s = s2s.New(s2s.Options{
			Router:         s.router,
			Local:          names,
			Certificate:    holder,
			Roots:          roots,
			Resolver:       &s2s.Resolver{Hosts: cfg.S2S.Hosts},
			Policy:         s2s.Policy{Allow: cfg.S2S.Allow, Deny: cfg.S2S.Deny},
			SecureAuth:     cfg.S2S.SecureAuth,
			ConnectTimeout: cfg.S2S.ConnectTimeout.Duration,
			IdleTimeout:    cfg.S2S.IdleTimeout.Duration,
			MaxStanzaSize:  cfg.S2S.MaxStanzaSize,
			Log:            log.With().Str("component", "s2s").Logger(),
			Audit:          auditLog,
			Refusals:       s.refusals,
		})
		s.router.SetRemote(s.s2s.Send)
	}
	return s, nil
}

func (s *Server) tlsConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: s.certs.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"xmpp-client"},
	}
}

// ReloadCertificate loads the [tls] certificate again (or regenerates
// the self-signed one if it no longer fits): new connections, over every
// listener and outgoing link, present it; established ones are kept. On
// failure the current certificate stays.
func (s *Server) ReloadCertificate() error { return s.Reload("reload") }

// Reload reloads what can change while the server runs, the certificate
// (see ReloadCertificate), and records in the audit log (config.reloaded)
// what was reloaded, or the failure; trigger says what asked for it
// ("SIGHUP").
func (s *Server) Reload(trigger string) error {
	ev := audit.Event{Actor: audit.ServerActor, Action: audit.ConfigReloaded, Target: s.cfg.Path}
	defer func() {
		if err := s.audit.Record(ev); err != nil {
			s.log.Error().Err(err).Msg("recording the reload in the audit log failed")
		}
	}()
	if err := s.certs.Reload(); err != nil {
		s.log.Error().Err(err).Msg("certificate reload failed; the current certificate stays")
		ev.Detail = fmt.Sprintf("%s: reloading the TLS certificate failed, the current one stays: %v", trigger, err)
		return fmt.Errorf("certificate: %w", err)
	}
	leaf := s.certs.Certificate().Leaf
	s.log.Info().Strs("names", leaf.DNSNames).Time("not_after", leaf.NotAfter).Msg("certificate reloaded")
	ev.Detail = fmt.Sprintf("%s: reloaded the TLS certificate for %s, valid until %s", trigger,
		strings.Join(leaf.DNSNames, ", "), leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// Audit returns the server's audit log.
func (s *Server) Audit() *audit.Log { return s.audit }

// Router returns the server's router.
func (s *Server) Router() *router.Router { return s.router }

// Module returns the instance of the named feature module (what its
// Setup returned), or nil if it is not set up.
func (s *Server) Module(name string) any { return s.modules.Instance(name) }

// ParkedStreams returns how many idle streams are parked without a
// goroutine.
func (s *Server) ParkedStreams() int {
	if s.poller == nil {
		return 0
	}
	return s.poller.Parked()
}

// MUC returns the group-chat service, or nil when it is disabled.
func (s *Server) MUC() *muc.Service { return s.muc }

// Store returns the server's storage.
func (s *Server) Store() storage.Store { return s.store }

// Start opens the listeners and begins serving in the background.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	type spec struct {
		role, addr string
		direct     bool
		serve      func(context.Context, net.Listener, bool) error
	}
	specs := []spec{
		{"c2s", s.cfg.C2S.Listen, false, s.c2s.Serve},
		{"c2s_direct_tls", s.cfg.C2S.DirectTLSListen, true, s.c2s.Serve},
	}
	if s.s2s != nil {
		specs = append(specs,
			spec{"s2s", s.cfg.S2S.Listen, false, s.s2s.Serve},
			spec{"s2s_direct_tls", s.cfg.S2S.DirectTLSListen, true, s.s2s.Serve})
	}
	for _, sp := range specs {
		if sp.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", sp.addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen %s on %s: %w", sp.role, sp.addr, err)
		}
		s.listeners[sp.role] = ln
		s.log.Info().Str("role", sp.role).Str("addr", ln.Addr().String()).Strs("domains", s.cfg.Server.Domains).Msg("listening")
		s.wg.Add(1)
		go func(sp spec, ln net.Listener) {
			defer s.wg.Done()
			if err := sp.serve(ctx, ln, sp.direct); err != nil {
				s.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("accept failed")
			}
		}(sp, ln)
	}
	if err := s.startComponents(ctx); err != nil {
		return err
	}
	if err := s.startHTTP(ctx); err != nil {
		s.closeListeners()
		return err
	}
	if s.poller != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.poller.Run(ctx)
		}()
	}
	for _, run := range append(s.modules.Runs(), s.archive.Run, s.authFailures.Run, s.refusals.Run) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			run(ctx)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		memtrim.New(memtrim.Options{Activity: s.router.Routed}).Run(ctx)
	}()
	if addr := s.cfg.Debug.PprofListen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listen pprof on %s: %w", addr, err)
		}
		s.listeners["pprof"] = ln
		s.log.Info().Str("addr", ln.Addr().String()).Msg("serving profiles at /debug/pprof/")
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			hs.Serve(ln)
		}()
	}
	return nil
}

// startHTTP mounts the HTTP endpoints and starts the HTTP server, when
// it is configured.
func (s *Server) startHTTP(ctx context.Context) error {
	if !s.http.Enabled() {
		return nil
	}
	s.http.Handle("/xmpp-websocket", s.c2s.WebSocket(ctx, c2s.WebSocketOptions{
		AllowOrigin: s.http.AllowOrigin,
		Secure:      s.http.Secure,
		Keepalive:   s.cfg.HTTP.WebSocketPing.Duration,
	}))
	s.http.Publish(httpserver.RelWebSocket, "/xmpp-websocket", true)
	s.http.Handle("/http-bind", s.c2s.BOSH(ctx, c2s.BOSHOptions{
		AllowOrigin: s.http.AllowOrigin,
		Secure:      s.http.Secure,
		MaxWait:     s.cfg.HTTP.BOSHMaxWait.Duration,
		Inactivity:  s.cfg.HTTP.BOSHInactivity.Duration,
	}))
	s.http.Publish(httpserver.RelBOSH, "/http-bind", false)
	return s.http.Start()
}

// Addr returns the bound address of a listener role ("c2s",
// "c2s_direct_tls", "s2s", "s2s_direct_tls", "http", "https"), or "" if
// it is not listening.
func (s *Server) Addr(role string) string {
	if ln, ok := s.listeners[role]; ok {
		return ln.Addr().String()
	}
	return s.http.Addr(role)
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// Shutdown stops accepting, closes every stream with </stream:stream>
// and closes storage.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	s.http.Shutdown(ctx)
	s.c2s.Shutdown(ctx)
	if s.s2s != nil {
		s.s2s.Shutdown(ctx)
	}
	s.shutdownComponents(ctx)
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	err := s.store.Close()
	if aerr := s.audit.Close(); err == nil && aerr != nil {
		err = fmt.Errorf("audit log: %w", aerr)
	}
	return err
}

// Run serves until ctx is cancelled, then shuts down.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		s.store.Close()
		s.audit.Close()
		return err
	}
	<-ctx.Done()
	s.log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
