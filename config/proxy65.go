package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Proxy65 is the [proxy65] section: the SOCKS5 bytestreams proxy
// (XEP-0065) that relays file transfers between clients that cannot
// connect to each other directly.
type Proxy65 struct {
	// Domain is the proxy's address; empty disables it.
	Domain string `toml:"domain"`
	// Listen is the SOCKS5 listener address (host:port) clients connect
	// to.
	Listen string `toml:"listen"`
	// PublicHost is the host name or IP address clients are told to
	// connect to; empty takes the host of Listen or, when Listen is a
	// wildcard address, Domain (see Config.Proxy65Host).
	PublicHost string `toml:"public_host"`
	// MaxTransferSize is the most bytes relayed for one bytestream, both
	// directions together; a transfer reaching it is cut. 0 means no
	// limit.
	MaxTransferSize int64 `toml:"max_transfer_size"`
	// MaxTransfers is how many bytestreams may be connected at once,
	// waiting for activation or relaying.
	MaxTransfers int `toml:"max_transfers"`
	// HandshakeTimeout bounds the SOCKS5 negotiation of a new
	// connection.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// ActivationTimeout is how long a connected party waits for the
	// initiator to activate the bytestream.
	ActivationTimeout Duration `toml:"activation_timeout"`
	// IdleTimeout closes an active bytestream that carried no byte in
	// either direction for this long.
	IdleTimeout Duration `toml:"idle_timeout"`
}

// defaultProxy65 returns the [proxy65] defaults: off; on all interfaces
// at port 5000 when on, 1 GiB per transfer, 100 transfers at once.
func defaultProxy65() Proxy65 {
	return Proxy65{
		Listen:            "0.0.0.0:5000",
		MaxTransferSize:   1 << 30,
		MaxTransfers:      100,
		HandshakeTimeout:  Duration{10 * time.Second},
		ActivationTimeout: Duration{time.Minute},
		IdleTimeout:       Duration{5 * time.Minute},
	}
}

// MaxProxy65Transfers is the largest accepted proxy65.max_transfers.
const MaxProxy65Transfers = 100000

// validateProxy65 checks the [proxy65] section.
func (c *Config) validateProxy65() error {
	p := &c.Proxy65
	if p.Domain == "" {
		return nil
	}
	if err := checkDomain(p.Domain); err != nil {
		return fmt.Errorf("proxy65.domain: %w", err)
	}
	if slices.Contains(c.Server.Domains, p.Domain) || p.Domain == c.MUC.Domain || p.Domain == c.Upload.Domain || slices.Contains(c.ComponentDomains(), p.Domain) {
		return fmt.Errorf("proxy65.domain: %q is already used; the bytestreams proxy needs a domain of its own", p.Domain)
	}
	if p.Listen == "" {
		return fmt.Errorf("proxy65.listen: must not be empty while proxy65.domain is set")
	}
	if err := checkListen(p.Listen); err != nil {
		return fmt.Errorf("proxy65.listen: %w", err)
	}
	if other := c.listenerClash("proxy65.listen", p.Listen); other != "" {
		return fmt.Errorf("proxy65.listen: %q is also %s", p.Listen, other)
	}
	if p.PublicHost != "" {
		if err := checkHost(p.PublicHost); err != nil {
			return fmt.Errorf("proxy65.public_host: %w", err)
		}
	}
	if p.MaxTransferSize < 0 {
		return fmt.Errorf("proxy65.max_transfer_size: must not be negative, got %d (0 means no limit)", p.MaxTransferSize)
	}
	if p.MaxTransfers < 1 || p.MaxTransfers > MaxProxy65Transfers {
		return fmt.Errorf("proxy65.max_transfers: %d is not between 1 and %d", p.MaxTransfers, MaxProxy65Transfers)
	}
	for _, d := range []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"proxy65.handshake_timeout", p.HandshakeTimeout.Duration, time.Second, 5 * time.Minute},
		{"proxy65.activation_timeout", p.ActivationTimeout.Duration, time.Second, time.Hour},
		{"proxy65.idle_timeout", p.IdleTimeout.Duration, time.Second, 24 * time.Hour},
	} {
		if d.v < d.min || d.v > d.max {
			return fmt.Errorf("%s: %s is not between %s and %s", d.key, d.v, d.min, d.max)
		}
	}
	return nil
}

// proxy65Listen returns the proxy's listen address, or "" when the proxy
// is off.
func (c *Config) proxy65Listen() string {
	if c.Proxy65.Domain == "" {
		return ""
	}
	return c.Proxy65.Listen
}

// Proxy65Host returns the host the bytestreams proxy gives clients to
// connect to: proxy65.public_host, else the host of proxy65.listen, else
// (a wildcard listen address such as 0.0.0.0) proxy65.domain, which must
// then resolve to this server.
func (c *Config) Proxy65Host() string {
	if c.Proxy65.PublicHost != "" {
		return c.Proxy65.PublicHost
	}
	host, _, err := net.SplitHostPort(c.Proxy65.Listen)
	if err != nil || host == "" {
		return c.Proxy65.Domain
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return c.Proxy65.Domain
	}
	return host
}

// checkHost reports whether h is an IP address or a DNS host name,
// without a port.
func checkHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("%q is not a host name or IP address: too long", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name or IP address (without a port)", h)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("%q is not a host name or IP address (without a port)", h)
			}
		}
	}
	return nil
}
