package config

import (
	"testing"
	"time"
)

func TestProxy65Section(t *testing.T) {
	const on = "[proxy65]\ndomain = \"proxy.a.test\"\n"
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "off by default", body: "", check: func(t *testing.T, c *Config) {
			p := c.Proxy65
			if p.Domain != "" || p.Listen != "0.0.0.0:5000" || p.MaxTransferSize != 1<<30 || p.MaxTransfers != 100 ||
				p.HandshakeTimeout.Duration != 10*time.Second || p.ActivationTimeout.Duration != time.Minute || p.IdleTimeout.Duration != 5*time.Minute {
				t.Fatalf("defaults: %+v", p)
			}
		}},
		{name: "contract example", body: on + "listen = \"0.0.0.0:5000\"\n", check: func(t *testing.T, c *Config) {
			// A wildcard listener advertises the proxy's domain.
			if c.Proxy65.Domain != "proxy.a.test" || c.Proxy65Host() != "proxy.a.test" {
				t.Fatalf("got %+v, host %q", c.Proxy65, c.Proxy65Host())
			}
		}},
		{name: "ipv6 wildcard", body: on + "listen = \"[::]:7777\"\n", check: func(t *testing.T, c *Config) {
			if c.Proxy65Host() != "proxy.a.test" {
				t.Fatalf("host %q", c.Proxy65Host())
			}
		}},
		{name: "host from listen", body: on + "listen = \"192.0.2.7:7777\"\n", check: func(t *testing.T, c *Config) {
			if c.Proxy65Host() != "192.0.2.7" {
				t.Fatalf("host %q", c.Proxy65Host())
			}
		}},
		{name: "settings", body: on + "listen = \"0.0.0.0:7777\"\npublic_host = \"files.a.test\"\nmax_transfer_size = 0\nmax_transfers = 5\nhandshake_timeout = \"5s\"\nactivation_timeout = \"30s\"\nidle_timeout = \"1m\"\n", check: func(t *testing.T, c *Config) {
			p := c.Proxy65
			if c.Proxy65Host() != "files.a.test" || p.MaxTransferSize != 0 || p.MaxTransfers != 5 || p.HandshakeTimeout.Duration != 5*time.Second ||
				p.ActivationTimeout.Duration != 30*time.Second || p.IdleTimeout.Duration != time.Minute {
				t.Fatalf("got %+v", p)
			}
		}},
		{name: "public ip", body: on + "public_host = \"2001:db8::1\"\n", check: func(t *testing.T, c *Config) {
			if c.Proxy65Host() != "2001:db8::1" {
				t.Fatalf("host %q", c.Proxy65Host())
			}
		}},
		{name: "off ignores the listener", body: "[http]\nlisten = \"0.0.0.0:5000\"\n"},
		{name: "domain taken", body: "[proxy65]\ndomain = \"a.test\"\n", wantErr: `proxy65.domain: "a.test" is already used`},
		{name: "muc domain", body: "[muc]\ndomain = \"conference.a.test\"\n[proxy65]\ndomain = \"conference.a.test\"\n", wantErr: "proxy65.domain"},
		{name: "bad domain", body: "[proxy65]\ndomain = \"a b\"\n", wantErr: "proxy65.domain"},
		{name: "empty listen", body: on + "listen = \"\"\n", wantErr: "proxy65.listen: must not be empty"},
		{name: "bad listen", body: on + "listen = \"5000\"\n", wantErr: "proxy65.listen"},
		{name: "listener clash", body: "[c2s]\nlisten = \"127.0.0.1:5222\"\n" + on + "listen = \"127.0.0.1:5222\"\n", wantErr: "proxy65.listen: \"127.0.0.1:5222\" is also c2s.listen"},
		{name: "public host with port", body: on + "public_host = \"proxy.a.test:5000\"\n", wantErr: "proxy65.public_host"},
		{name: "negative size", body: on + "max_transfer_size = -1\n", wantErr: "proxy65.max_transfer_size"},
		{name: "no transfers", body: on + "max_transfers = 0\n", wantErr: "proxy65.max_transfers"},
		{name: "handshake timeout", body: on + "handshake_timeout = \"0s\"\n", wantErr: "proxy65.handshake_timeout"},
		{name: "activation timeout", body: on + "activation_timeout = \"2h\"\n", wantErr: "proxy65.activation_timeout"},
		{name: "idle timeout", body: on + "idle_timeout = \"10ms\"\n", wantErr: "proxy65.idle_timeout"},
		{name: "wrong type", body: on + "max_transfers = \"10\"\n", wantErr: "proxy65.max_transfers: expected an integer"},
		{name: "unknown key", body: on + "port = 5000\n", wantErr: `unknown key "proxy65.port"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg != nil && c.check != nil {
				c.check(t, cfg)
			}
		})
	}
}
