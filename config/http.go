package config

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// HTTP is the [http] section: the one HTTP server that carries XMPP over
// WebSocket and the other HTTP features.
type HTTP struct {
	// Listen is the plain HTTP address, for loopback or behind a
	// TLS-terminating proxy on the same machine; empty disables it.
	Listen string `toml:"listen"`
	// TLSListen is the HTTPS address, served with the [tls] certificate;
	// empty disables it.
	TLSListen string `toml:"tls_listen"`
	// PublicURL is the base URL clients are given (host-meta); empty
	// derives it from each request.
	PublicURL string `toml:"public_url"`
	// Origins lists the web page origins, besides the server's own, whose
	// scripts may connect ("https://chat.example.com", a host such as
	// "example.com", patterns like "*.example.com", or "*" for any).
	Origins []string `toml:"origins"`
	// WebClient is the directory of a Converse.js build (the "dist"
	// directory of the npm package converse.js), served at /web/ as a
	// web client; empty serves none.
	WebClient string `toml:"web_client"`
	// BOSHMaxWait is the longest a BOSH request is held waiting for data
	// (XEP-0124 wait); clients may ask for less.
	BOSHMaxWait Duration `toml:"bosh_max_wait"`
	// BOSHInactivity is how long a BOSH session lives without a request
	// from its client.
	BOSHInactivity Duration `toml:"bosh_inactivity"`
	// WebSocketPing is the interval of WebSocket pings to a quiet
	// client; one that does not answer within it is disconnected.
	WebSocketPing Duration `toml:"websocket_ping"`
}

// defaultHTTP returns the [http] defaults: no listener.
func defaultHTTP() HTTP {
	return HTTP{BOSHMaxWait: Duration{time.Minute}, BOSHInactivity: Duration{time.Minute}, WebSocketPing: Duration{time.Minute}}
}

// validateHTTP checks the [http] section.
func (c *Config) validateHTTP() error {
	h := &c.HTTP
	for _, l := range []struct{ key, addr string }{{"http.listen", h.Listen}, {"http.tls_listen", h.TLSListen}} {
		if l.addr == "" {
			continue
		}
		if err := checkListen(l.addr); err != nil {
			return fmt.Errorf("%s: %w", l.key, err)
		}
		if other := c.listenerClash(l.key, l.addr); other != "" {
			return fmt.Errorf("%s: %q is also %s", l.key, l.addr, other)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"http.bosh_max_wait", h.BOSHMaxWait.Duration}, {"http.bosh_inactivity", h.BOSHInactivity.Duration}, {"http.websocket_ping", h.WebSocketPing.Duration}} {
		if d.v < time.Second || d.v > 10*time.Minute {
			return fmt.Errorf("%s: %s is not between 1s and 10m", d.key, d.v)
		}
	}
	if h.WebClient != "" {
		if h.Listen == "" && h.TLSListen == "" {
			return fmt.Errorf("http.web_client: the web client needs the HTTP server: set http.listen or http.tls_listen")
		}
		if _, err := os.Stat(filepath.Join(h.WebClient, "converse.min.js")); err != nil {
			return fmt.Errorf("http.web_client: %s holds no converse.min.js: it must be the dist directory of Converse.js", h.WebClient)
		}
	}
	if h.PublicURL != "" {
		u, err := url.Parse(h.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("http.public_url: %q is not an http:// or https:// base URL", h.PublicURL)
		}
		h.PublicURL = strings.TrimSuffix(h.PublicURL, "/")
	}
	for i, o := range h.Origins {
		key := fmt.Sprintf("http.origins[%d]", i)
		if o == "" {
			return fmt.Errorf("%s: must not be empty", key)
		}
		if _, err := path.Match(o, ""); err != nil {
			return fmt.Errorf("%s: %q is not a valid pattern: %w", key, o, err)
		}
		if strings.Contains(o, "/") && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return fmt.Errorf("%s: %q: an origin is a scheme and a host (https://chat.example.com) or a host alone", key, o)
		}
		if strings.Count(o, "/") > 2 {
			return fmt.Errorf("%s: %q: an origin has no path", key, o)
		}
	}
	return nil
}
