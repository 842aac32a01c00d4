package config

import "fmt"

// PEP is the [pep] section: the Personal Eventing Protocol (XEP-0163),
// each account's publish-subscribe service, which carries OMEMO keys,
// avatars, bookmarks and nicknames.
type PEP struct {
	// MaxNodes is how many nodes one account may have.
	MaxNodes int `toml:"max_nodes"`
	// MaxItemsPerNode is the most items a node keeps; a node configured
	// for more (or for "max") keeps this many.
	MaxItemsPerNode int `toml:"max_items_per_node"`
	// MaxItemSize is the largest item payload accepted, in bytes.
	MaxItemSize int `toml:"max_item_size"`
}

// defaultPEP returns the [pep] defaults: 1000 nodes per account, 1000
// items per node, items up to 256 KiB.
func defaultPEP() PEP {
	return PEP{MaxNodes: 1000, MaxItemsPerNode: 1000, MaxItemSize: 256 << 10}
}

// Upper bounds of the [pep] limits.
const (
	MaxPEPNodes    = 100000
	MaxPEPItems    = 100000
	MaxPEPItemSize = 16 << 20
)

// validatePEP checks the [pep] section.
func (c *Config) validatePEP() error {
	p := &c.PEP
	for _, l := range []struct {
		key string
		v   int
		min int
		max int
	}{
		{"pep.max_nodes", p.MaxNodes, 1, MaxPEPNodes},
		{"pep.max_items_per_node", p.MaxItemsPerNode, 1, MaxPEPItems},
		{"pep.max_item_size", p.MaxItemSize, 1024, MaxPEPItemSize},
	} {
		if l.v < l.min || l.v > l.max {
			return fmt.Errorf("%s: %d is not between %d and %d", l.key, l.v, l.min, l.max)
		}
	}
	return nil
}
