package config

import (
	"fmt"
	"maps"
	"slices"

	"github.com/BurntSushi/toml"
)

// Components is the [components] section: external components (XEP-0114)
// such as gateways, bridges and bots, each serving a domain of its own.
type Components struct {
	// Listen is the plain TCP address components connect to. The
	// listener runs only when Secrets lists at least one component;
	// empty disables it.
	Listen string `toml:"listen"`
	// Secrets maps each component domain (normalized) to the secret it
	// authenticates with; the [components.secrets] table.
	Secrets map[string]string `toml:"secrets"`
}

// MinComponentSecretLength is the shortest accepted component secret, in
// bytes. Anyone who can reach components.listen may try secrets, one per
// connection: a short one could be guessed.
const MinComponentSecretLength = 16

// DefaultComponentsListen is the default components.listen: the port
// XEP-0114 components customarily use, on loopback only, since the
// protocol carries stanzas unencrypted.
const DefaultComponentsListen = "127.0.0.1:5347"

// defaultComponents returns the [components] defaults.
func defaultComponents() Components {
	return Components{Listen: DefaultComponentsListen}
}

// ComponentDomains returns the configured component domains, sorted.
func (c *Config) ComponentDomains() []string {
	return slices.Sorted(maps.Keys(c.Components.Secrets))
}

// validateComponents checks the [components] section: a listen address
// that no other listener uses, and for each component a normalized domain
// of its own with a secret of at least MinComponentSecretLength bytes.
func (c *Config) validateComponents() error {
	comp := &c.Components
	if comp.Listen != "" {
		if err := checkListen(comp.Listen); err != nil {
			return fmt.Errorf("components.listen: %w", err)
		}
		if len(comp.Secrets) > 0 {
			if other := c.listenerClash("components.listen", comp.Listen); other != "" {
				return fmt.Errorf("components.listen: %q is also %s", comp.Listen, other)
			}
		}
	}
	// Sorted, so that the error reported does not depend on map order.
	for _, domain := range c.ComponentDomains() {
		key := toml.Key{"components", "secrets", domain}.String()
		if err := checkDomain(domain); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if slices.Contains(c.Server.Domains, domain) {
			return fmt.Errorf("%s: %q is also in server.domains; a component needs a domain of its own", key, domain)
		}
		if domain == c.MUC.Domain {
			return fmt.Errorf("%s: %q is also muc.domain; a component needs a domain of its own", key, domain)
		}
		switch n := len(comp.Secrets[domain]); {
		case n == 0:
			return fmt.Errorf("%s: the secret must not be empty", key)
		case n < MinComponentSecretLength:
			return fmt.Errorf("%s: the secret is too short (%d bytes, at least %d needed; for instance 32 random hex digits from openssl rand -hex 16)",
				key, n, MinComponentSecretLength)
		}
	}
	return nil
}
