// Package httpserver is parley's one HTTP server. Every HTTP feature
// (XMPP over WebSocket, and later BOSH, file upload, metrics and the
// admin API) mounts its handler on it; it serves plain HTTP for loopback
// or a TLS-terminating proxy, HTTPS with the server certificate, or both,
// and publishes the endpoints that clients discover from a domain alone
// (XEP-0156 host-meta).
package httpserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/xmlstream"
)

// Link relations of XEP-0156 for the client endpoints.
const (
	RelWebSocket = "urn:xmpp:alt-connections:websocket"
	RelBOSH      = "urn:xmpp:alt-connections:xbosh"
)

// Options configure the HTTP server.
type Options struct {
	Listen    string      // plain HTTP address; empty disables it
	TLSListen string      // HTTPS address; empty disables it
	TLS       *tls.Config // the server certificate, for TLSListen
	// Host is the host name in URLs made outside a request (see URL)
	// when the listener's address is not one: the server's domain.
	Host string
	// PublicURL is the base URL clients are given; empty derives it from
	// each request's scheme and Host.
	PublicURL string
	// Origins are the web origins, besides the server's own, whose
	// scripts may connect (see config.HTTP.Origins).
	Origins []string
	Log     zerolog.Logger
}

// Server is the HTTP server. Handlers are mounted before Start.
type Server struct {
	o       Options
	mux     *http.ServeMux
	links   []link
	servers []*http.Server

	mu        sync.Mutex
	listeners map[string]net.Listener // "http", "https"
	wg        sync.WaitGroup
}

type link struct {
	rel, path string
	websocket bool
}

// New returns an HTTP server; it serves nothing until Start.
func New(o Options) *Server {
	s := &Server{o: o, mux: http.NewServeMux(), listeners: make(map[string]net.Listener)}
	s.mux.HandleFunc("GET /.well-known/host-meta", s.hostMeta)
	s.mux.HandleFunc("GET /.well-known/host-meta.json", s.hostMetaJSON)
	return s
}

// Enabled reports whether any listener is configured.
func (s *Server) Enabled() bool { return s.o.Listen != "" || s.o.TLSListen != "" }

// Handle mounts h on pattern (see http.ServeMux).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Publish names an endpoint at path in host-meta under the link relation
// rel (XEP-0156); websocket gives it a ws:// or wss:// address.
func (s *Server) Publish(rel, path string, websocket bool) {
	s.links = append(s.links, link{rel: rel, path: path, websocket: websocket})
}

// Start listens and serves in the background until Shutdown.
func (s *Server) Start() error {
	for _, l := range []struct {
		role, addr string
		tls        bool
	}{{"http", s.o.Listen, false}, {"https", s.o.TLSListen, true}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.Shutdown(context.Background())
			return fmt.Errorf("listen http on %s: %w", l.addr, err)
		}
		hs := &http.Server{
			Handler:           s.mux,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          log.New(s.o.Log, "", 0),
		}
		if l.tls {
			cfg := s.o.TLS.Clone()
			// WebSocket needs HTTP/1.1's Upgrade.
			cfg.NextProtos = []string{"http/1.1"}
			ln = tls.NewListener(ln, cfg)
		}
		s.mu.Lock()
		s.listeners[l.role] = ln
		s.servers = append(s.servers, hs)
		s.mu.Unlock()
		s.o.Log.Info().Str("role", l.role).Str("addr", ln.Addr().String()).Msg("listening")
		if l.role == "http" {
			if host, _, _ := net.SplitHostPort(l.addr); !isLoopbackHost(host) {
				s.o.Log.Warn().Str("addr", l.addr).Msg("http.listen is plain HTTP on a non-loopback address: put it behind a TLS-terminating proxy on this machine, or use http.tls_listen")
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.o.Log.Error().Err(err).Str("addr", ln.Addr().String()).Msg("HTTP serving failed")
			}
		}()
	}
	return nil
}

// Addr returns the bound address of "http" or "https", or "".
func (s *Server) Addr(role string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln, ok := s.listeners[role]; ok {
		return ln.Addr().String()
	}
	return ""
}

// Shutdown stops accepting and waits (up to ctx) for requests in
// progress. Connections taken over by a handler, such as WebSockets, are
// their handler's to close.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	servers := s.servers
	s.mu.Unlock()
	for _, hs := range servers {
		hs.Shutdown(ctx)
	}
	s.wg.Wait()
}

// Secure reports whether r arrived encrypted end to end as far as this
// server can tell: over HTTPS, or from this machine (the contract's
// plain listener is for loopback and for a TLS-terminating proxy on the
// same machine).
func (s *Server) Secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	return err == nil && isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AllowOrigin reports whether a script from r's Origin may use the
// server's endpoints: requests without an Origin (not from a browser),
// pages from the server's own host or public URL, and the configured
// origins.
func (s *Server) AllowOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if pu, err := url.Parse(s.o.PublicURL); err == nil && s.o.PublicURL != "" && strings.EqualFold(pu.Host, u.Host) {
		return true
	}
	for _, pattern := range s.o.Origins {
		target := u.Host
		if strings.Contains(pattern, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// URL returns the base URL of the server for links made outside a
// request, such as upload slots: PublicURL, or else from the HTTPS
// listener, or the plain one, with its address, or Options.Host when it
// listens on every address. It is empty before Start.
func (s *Server) URL() string {
	if s.o.PublicURL != "" {
		return s.o.PublicURL
	}
	for _, l := range []struct{ role, scheme string }{{"https", "https"}, {"http", "http"}} {
		addr := s.Addr(l.role)
		if addr == "" {
			continue
		}
		host, port, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = s.o.Host
		}
		return l.scheme + "://" + net.JoinHostPort(host, port)
	}
	return ""
}

// BaseURL returns the base URL clients reach the server at: PublicURL,
// or the scheme and Host r came with.
func (s *Server) BaseURL(r *http.Request) string {
	if s.o.PublicURL != "" {
		return s.o.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// endpoints returns the published links as absolute addresses for r.
func (s *Server) endpoints(r *http.Request) []link {
	base := s.BaseURL(r)
	out := make([]link, 0, len(s.links))
	for _, l := range s.links {
		href := base + l.path
		if l.websocket {
			href = "ws" + strings.TrimPrefix(href, "http")
		}
		out = append(out, link{rel: l.rel, path: href})
	}
	return out
}

// hostMeta serves the XRD document of XEP-0156.
func (s *Server) hostMeta(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n")
	for _, l := range s.endpoints(r) {
		b.WriteString("  <Link rel='" + l.rel + "' href='" + xmlstream.Escape(l.path) + "'/>\n")
	}
	b.WriteString("</XRD>\n")
	w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
	// Public information: any page may read it (XEP-0156 §3).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write([]byte(b.String()))
}

// hostMetaJSON serves the JSON form of host-meta (RFC 6415 JRD).
func (s *Server) hostMetaJSON(w http.ResponseWriter, r *http.Request) {
	type jsonLink struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
	}
	doc := struct {
		Links []jsonLink `json:"links"`
	}{Links: []jsonLink{}}
	for _, l := range s.endpoints(r) {
		doc.Links = append(doc.Links, jsonLink{Rel: l.rel, Href: l.path})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	json.NewEncoder(w).Encode(doc)
}
