package config

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// ExternalService is one [[external_services]] table: a STUN or TURN
// server that clients learn of through External Service Discovery
// (XEP-0215), typically for audio and video calls.
type ExternalService struct {
	// Type is "stun", "turn", "stuns" or "turns".
	Type string `toml:"type"`
	// Host is the service's host name or IP address.
	Host string `toml:"host"`
	// Port is the service's port; 0 means the type's standard port
	// (3478, or 5349 for stuns and turns).
	Port int `toml:"port"`
	// Transport is "udp" or "tcp"; empty means udp for stun and turn,
	// tcp for stuns and turns.
	Transport string `toml:"transport"`
	// Secret is the TURN server's shared secret (coturn's
	// static-auth-secret) from which short-lived credentials are made
	// for each user who asks; empty gives no credentials.
	Secret string `toml:"secret"`
	// TTL is how long such credentials stay valid; 0 means 24 hours.
	TTL Duration `toml:"ttl"`
	// Name is a human-readable name of the service; may be empty.
	Name string `toml:"name"`
}

// External service credential lifetimes.
const (
	DefaultExternalServiceTTL = 24 * time.Hour
	MinExternalServiceTTL     = time.Minute
	MaxExternalServiceTTL     = 30 * 24 * time.Hour
)

// validateExternalServices checks the [[external_services]] tables and
// fills in the default port, transport and credential lifetime.
func (c *Config) validateExternalServices() error {
	seen := make(map[string]int, len(c.ExternalServices))
	for i := range c.ExternalServices {
		s := &c.ExternalServices[i]
		key := fmt.Sprintf("external_services[%d]", i)
		tls := false
		switch s.Type {
		case "stun", "turn":
		case "stuns", "turns":
			tls = true
		case "":
			return fmt.Errorf("%s.type: must be set to stun, turn, stuns or turns", key)
		default:
			return fmt.Errorf("%s.type: %q is not one of stun, turn, stuns, turns", key, s.Type)
		}
		if s.Host == "" {
			return fmt.Errorf("%s.host: must be set", key)
		}
		if err := checkHost(s.Host); err != nil {
			return fmt.Errorf("%s.host: %w", key, err)
		}
		switch {
		case s.Port == 0 && tls:
			s.Port = 5349
		case s.Port == 0:
			s.Port = 3478
		case s.Port < 0 || s.Port > 65535:
			return fmt.Errorf("%s.port: %d is not between 1 and 65535", key, s.Port)
		}
		switch s.Transport {
		case "udp", "tcp":
		case "":
			s.Transport = "udp"
			if tls {
				s.Transport = "tcp"
			}
		default:
			return fmt.Errorf("%s.transport: %q is not one of udp, tcp", key, s.Transport)
		}
		if s.Secret != "" && !strings.HasPrefix(s.Type, "turn") {
			return fmt.Errorf("%s.secret: only turn and turns services take credentials, this one is %s", key, s.Type)
		}
		if s.TTL.Duration == 0 {
			s.TTL.Duration = DefaultExternalServiceTTL
		}
		if s.TTL.Duration < MinExternalServiceTTL || s.TTL.Duration > MaxExternalServiceTTL {
			return fmt.Errorf("%s.ttl: %s is not between %s and %s", key, s.TTL.Duration, MinExternalServiceTTL, MaxExternalServiceTTL)
		}
		if strings.IndexFunc(s.Name, unicode.IsControl) >= 0 {
			return fmt.Errorf("%s.name: %q contains control characters", key, s.Name)
		}
		id := fmt.Sprintf("%s %s %d %s", s.Type, s.Host, s.Port, s.Transport)
		if j, dup := seen[id]; dup {
			return fmt.Errorf("%s: the same service (%s) as external_services[%d]", key, id, j)
		}
		seen[id] = i
	}
	return nil
}
