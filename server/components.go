package server

import (
	"context"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"parley/component"
	"parley/config"
	"parley/router"
)

// newComponents creates the external component service when components
// are configured, registering their domains with the router; nil when
// there are none.
func newComponents(cfg *config.Config, r *router.Router, log zerolog.Logger) *component.Service {
	if len(cfg.Components.Secrets) == 0 {
		return nil
	}
	return component.New(component.Options{
		Router:        r,
		Secrets:       cfg.Components.Secrets,
		MaxStanzaSize: cfg.C2S.MaxStanzaSize,
		Log:           log.With().Str("component", "components").Logger(),
	})
}

// startComponents listens on components.listen (the listener role
// "components" of Addr) and serves component streams in the background,
// if components are configured and the listener is enabled. The protocol
// is plain TCP: a listener reachable from other machines gets a warning.
func (s *Server) startComponents(ctx context.Context) error {
	if s.components == nil {
		return nil
	}
	addr := s.cfg.Components.Listen
	domains := s.cfg.ComponentDomains()
	if addr == "" {
		s.log.Warn().Strs("domains", domains).Msg("components.listen is empty: the configured components cannot connect, and stanzas to them bounce")
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.closeListeners()
		return fmt.Errorf("listen components on %s: %w", addr, err)
	}
	s.listeners["components"] = ln
	s.log.Info().Str("role", "components").Str("addr", ln.Addr().String()).Strs("domains", domains).Msg("listening")
	if !isLoopback(ln.Addr()) {
		s.log.Warn().Str("addr", ln.Addr().String()).
			Msg("components.listen is not a loopback address: component secrets and stanzas cross the network unencrypted")
	}
	s.wg.Go(func() {
		if err := s.components.Serve(ctx, ln); err != nil {
			s.log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("accept failed")
		}
	})
	return nil
}

// shutdownComponents closes every component stream.
func (s *Server) shutdownComponents(ctx context.Context) {
	if s.components != nil {
		s.components.Shutdown(ctx)
	}
}

// Components returns the external component service, or nil when no
// component is configured.
func (s *Server) Components() *component.Service { return s.components }

// isLoopback reports whether a listener's address accepts connections
// from this machine only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
