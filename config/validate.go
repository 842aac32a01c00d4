package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"
)

// MinStanzaSize is the smallest accepted c2s.max_stanza_size and
// s2s.max_stanza_size: RFC 6120 §13.12 requires servers to accept stanzas
// of at least 10000 bytes.
const MinStanzaSize = 10000

// validate checks the decoded, path-resolved configuration. Errors start
// with the offending key.
func (c *Config) validate() error {
	if err := c.validateDomains(); err != nil {
		return err
	}
	if c.Storage.SQLite == "" {
		return errors.New("storage.sqlite: must not be empty")
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if err := c.validateC2S(); err != nil {
		return err
	}
	if err := c.validateS2S(); err != nil {
		return err
	}
	if err := c.validateMUC(); err != nil {
		return err
	}
	if err := c.validateMAM(); err != nil {
		return err
	}
	if err := c.validateComponents(); err != nil {
		return err
	}
	if err := c.validateHTTP(); err != nil {
		return err
	}
	if err := c.validateUpload(); err != nil {
		return err
	}
	if err := c.validateProxy65(); err != nil {
		return err
	}
	if err := c.validateContact(); err != nil {
		return err
	}
	if err := c.validateExternalServices(); err != nil {
		return err
	}
	if err := c.validatePEP(); err != nil {
		return err
	}
	if err := c.validateRegister(); err != nil {
		return err
	}
	if err := c.validateArchive(); err != nil {
		return err
	}
	if c.Debug.PprofListen != "" {
		if err := checkListen(c.Debug.PprofListen); err != nil {
			return fmt.Errorf("debug.pprof_listen: %w", err)
		}
		host, _, _ := net.SplitHostPort(c.Debug.PprofListen)
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("debug.pprof_listen: %q is not a loopback address; profiles must not be exposed", c.Debug.PprofListen)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	return nil
}

func (c *Config) validateDomains() error {
	if len(c.Server.Domains) == 0 {
		return errors.New("server.domains: at least one domain is required")
	}
	seen := make(map[string]bool, len(c.Server.Domains))
	for _, d := range c.Server.Domains {
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("server.domains: %w", err)
		}
		if seen[d] {
			return fmt.Errorf("server.domains: %q is listed twice", d)
		}
		seen[d] = true
	}
	admins := make(map[string]bool, len(c.Server.Admins))
	for _, a := range c.Server.Admins {
		if err := checkBareJID(a); err != nil {
			return fmt.Errorf("server.admins: %w", err)
		}
		if _, domain, _ := strings.Cut(a, "@"); !seen[domain] {
			return fmt.Errorf("server.admins: %q is not an account of server.domains", a)
		}
		if admins[a] {
			return fmt.Errorf("server.admins: %q is listed twice", a)
		}
		admins[a] = true
	}
	return nil
}

func (c *Config) validateTLS() error {
	switch {
	case c.TLS.Cert != "" && c.TLS.Key == "":
		return errors.New("tls.key: must be set when tls.cert is set")
	case c.TLS.Cert == "" && c.TLS.Key != "":
		return errors.New("tls.cert: must be set when tls.key is set")
	}
	for _, f := range []struct{ key, path string }{
		{"tls.cert", c.TLS.Cert},
		{"tls.key", c.TLS.Key},
		{"tls.ca", c.TLS.CA},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.key, err)
		}
	}
	return nil
}

func (c *Config) validateC2S() error {
	if c.C2S.Listen == "" {
		return errors.New("c2s.listen: must not be empty")
	}
	if err := checkListen(c.C2S.Listen); err != nil {
		return fmt.Errorf("c2s.listen: %w", err)
	}
	if c.C2S.DirectTLSListen != "" {
		if err := checkListen(c.C2S.DirectTLSListen); err != nil {
			return fmt.Errorf("c2s.direct_tls_listen: %w", err)
		}
		if sameAddress(c.C2S.DirectTLSListen, c.C2S.Listen) {
			return fmt.Errorf("c2s.direct_tls_listen: %q is also c2s.listen", c.C2S.DirectTLSListen)
		}
	}
	if c.C2S.MaxStanzaSize < MinStanzaSize {
		return fmt.Errorf("c2s.max_stanza_size: %d is less than the minimum of %d bytes", c.C2S.MaxStanzaSize, MinStanzaSize)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"c2s.auth_timeout", c.C2S.AuthTimeout.Duration},
		{"c2s.login_failure_delay", c.C2S.LoginFailureDelay.Duration},
		{"c2s.login_failure_max_delay", c.C2S.LoginFailureMaxDelay.Duration},
	} {
		if d.d <= 0 {
			return fmt.Errorf("%s: must be positive, got %s", d.key, d.d)
		}
	}
	if c.C2S.LoginFailureMaxDelay.Duration < c.C2S.LoginFailureDelay.Duration {
		return fmt.Errorf("c2s.login_failure_max_delay: %s is less than c2s.login_failure_delay (%s)",
			c.C2S.LoginFailureMaxDelay, c.C2S.LoginFailureDelay)
	}
	if d := c.C2S.ResumeTimeout.Duration; d < 0 || d > 24*time.Hour {
		return fmt.Errorf("c2s.resume_timeout: %s is not between 0 (no resumption) and 24h", d)
	}
	if n := c.C2S.MaxUnacked; n < 100 || n > 1000000 {
		return fmt.Errorf("c2s.max_unacked: %d is not between 100 and 1000000", n)
	}
	if d := c.C2S.FastTokenLifetime.Duration; d != 0 && (d < time.Hour || d > 365*24*time.Hour) {
		return fmt.Errorf("c2s.fast_token_lifetime: %s is not 0 (no FAST logins) or between 1h and 8760h", d)
	}
	return nil
}

func (c *Config) validateS2S() error {
	if c.S2S.Listen != "" {
		if err := checkListen(c.S2S.Listen); err != nil {
			return fmt.Errorf("s2s.listen: %w", err)
		}
		for _, other := range []struct{ key, addr string }{
			{"c2s.listen", c.C2S.Listen},
			{"c2s.direct_tls_listen", c.C2S.DirectTLSListen},
		} {
			if sameAddress(c.S2S.Listen, other.addr) {
				return fmt.Errorf("s2s.listen: %q is also %s", c.S2S.Listen, other.key)
			}
		}
	}
	if c.S2S.DirectTLSListen != "" {
		if err := checkListen(c.S2S.DirectTLSListen); err != nil {
			return fmt.Errorf("s2s.direct_tls_listen: %w", err)
		}
		if c.S2S.Listen == "" {
			return errors.New("s2s.direct_tls_listen: set while s2s.listen is empty, which disables federation")
		}
		for _, other := range []struct{ key, addr string }{
			{"s2s.listen", c.S2S.Listen},
			{"c2s.listen", c.C2S.Listen},
			{"c2s.direct_tls_listen", c.C2S.DirectTLSListen},
		} {
			if sameAddress(c.S2S.DirectTLSListen, other.addr) {
				return fmt.Errorf("s2s.direct_tls_listen: %q is also %s", c.S2S.DirectTLSListen, other.key)
			}
		}
	}
	for _, list := range []struct {
		key     string
		domains []string
	}{
		{"s2s.allow", c.S2S.Allow},
		{"s2s.deny", c.S2S.Deny},
	} {
		for _, d := range list.domains {
			if err := checkDomainPattern(d); err != nil {
				return fmt.Errorf("%s: %w", list.key, err)
			}
		}
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"s2s.connect_timeout", c.S2S.ConnectTimeout.Duration},
		{"s2s.idle_timeout", c.S2S.IdleTimeout.Duration},
	} {
		if d.d <= 0 {
			return fmt.Errorf("%s: must be positive, got %s", d.key, d.d)
		}
	}
	if c.S2S.MaxStanzaSize < MinStanzaSize {
		return fmt.Errorf("s2s.max_stanza_size: %d is less than the minimum of %d bytes", c.S2S.MaxStanzaSize, MinStanzaSize)
	}
	// Sorted, so that the error reported does not depend on map order.
	for _, domain := range slices.Sorted(maps.Keys(c.S2S.Hosts)) {
		key := toml.Key{"s2s", "hosts", domain}.String()
		if err := checkDomain(domain); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if err := checkDialAddr(c.S2S.Hosts[domain]); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func (c *Config) validateMUC() error {
	m := &c.MUC
	if m.Domain != "" {
		if err := checkDomain(m.Domain); err != nil {
			return fmt.Errorf("muc.domain: %w", err)
		}
		if slices.Contains(c.Server.Domains, m.Domain) {
			return fmt.Errorf("muc.domain: %q is also in server.domains; the group-chat service needs a domain of its own", m.Domain)
		}
	}
	switch m.Create {
	case "local", "admins", "anyone":
	default:
		return fmt.Errorf("muc.create: %q is not one of local, admins, anyone", m.Create)
	}
	seen := make(map[string]bool, len(m.Admins))
	for _, a := range m.Admins {
		if err := checkBareJID(a); err != nil {
			return fmt.Errorf("muc.admins: %w", err)
		}
		if seen[a] {
			return fmt.Errorf("muc.admins: %q is listed twice", a)
		}
		seen[a] = true
	}
	if m.Create == "admins" && len(m.Admins) == 0 {
		return errors.New("muc.create: \"admins\" needs at least one JID in muc.admins, or nobody could create a room")
	}
	if m.MaxRoomsPerUser < 0 {
		return fmt.Errorf("muc.max_rooms_per_user: must not be negative, got %d (0 means no limit)", m.MaxRoomsPerUser)
	}
	if m.MaxOccupants < 1 {
		return fmt.Errorf("muc.max_occupants: must be at least 1, got %d", m.MaxOccupants)
	}
	if m.HistoryLength < 0 || m.HistoryLength > MaxMUCHistoryLength {
		return fmt.Errorf("muc.history_length: %d is not between 0 and %d", m.HistoryLength, MaxMUCHistoryLength)
	}
	switch m.DefaultRoom.Anonymity {
	case "semi", "non":
	default:
		return fmt.Errorf("muc.default_room.anonymity: %q is not one of semi, non", m.DefaultRoom.Anonymity)
	}
	return nil
}

// checkBareJID reports whether j is a bare JID (local@domain) written in
// its normalized form.
func checkBareJID(j string) error {
	p, err := jid.Parse(j)
	if err != nil {
		return fmt.Errorf("%q is not a valid JID: %w", j, err)
	}
	if p.Localpart() == "" || p.Resourcepart() != "" {
		return fmt.Errorf("%q is not a bare JID of the form user@domain", j)
	}
	if n := p.String(); n != j {
		return fmt.Errorf("%q is not in normalized form; write %q", j, n)
	}
	return nil
}

// checkDomain reports whether d is a valid domainpart written in its
// normalized form.
func checkDomain(d string) error {
	j, err := jid.New("", d, "")
	if err != nil {
		return fmt.Errorf("%q is not a valid domain: %w", d, err)
	}
	if n := j.Domainpart(); n != d {
		return fmt.Errorf("%q is not in normalized form; write %q", d, n)
	}
	return nil
}

// checkDomainPattern reports whether p is a domain, or "*." and a domain
// (its subdomains), written in normalized form.
func checkDomainPattern(p string) error {
	d, wildcard := strings.CutPrefix(p, "*.")
	if !wildcard {
		return checkDomain(p)
	}
	j, err := jid.New("", d, "")
	if err != nil {
		return fmt.Errorf("%q is not a valid domain or \"*.\" and a domain: %w", p, err)
	}
	if n := j.Domainpart(); n != d {
		return fmt.Errorf("%q is not in normalized form; write %q", p, "*."+n)
	}
	return nil
}

// checkDialAddr reports whether addr is a host:port address to connect to:
// a host and a numeric, non-zero port.
func checkDialAddr(addr string) error {
	if err := checkListen(addr); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, _ := strconv.Atoi(port); n == 0 {
		return fmt.Errorf("%q: port 0 cannot be connected to", addr)
	}
	return nil
}

// checkListen reports whether addr is a host:port listen address with a
// numeric port.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("%q is not a host:port address: %s", addr, ae.Err)
		}
		return fmt.Errorf("%q is not a host:port address: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// listenerClash returns the key of a listener other than key whose fixed
// address is addr, or "".
func (c *Config) listenerClash(key, addr string) string {
	for _, other := range []struct{ key, addr string }{
		{"c2s.listen", c.C2S.Listen},
		{"c2s.direct_tls_listen", c.C2S.DirectTLSListen},
		{"s2s.listen", c.S2S.Listen},
		{"s2s.direct_tls_listen", c.S2S.DirectTLSListen},
		{"components.listen", c.Components.Listen},
		{"http.listen", c.HTTP.Listen},
		{"http.tls_listen", c.HTTP.TLSListen},
		{"debug.pprof_listen", c.Debug.PprofListen},
		{"proxy65.listen", c.proxy65Listen()},
	} {
		if other.key != key && sameAddress(addr, other.addr) {
			return other.key
		}
	}
	return ""
}

// sameAddress reports whether a and b name the same fixed listen address.
// Port 0 (any free port) never clashes.
func sameAddress(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	_, port, err := net.SplitHostPort(a)
	return err == nil && port != "0" && a == b
}
