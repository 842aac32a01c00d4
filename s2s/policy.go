package s2s

import (
	"errors"
	"fmt"
	"strings"
)

// Policy decides which remote domains may federate.
//
// Entries are domains, compared case-insensitively; an entry "*.example.com"
// matches every subdomain of example.com but not example.com itself.
type Policy struct {
	// Allow lists the only domains that may federate; empty means open
	// federation.
	Allow []string
	// Deny lists domains that may not federate; it wins over Allow.
	Deny []string
}

// Check returns nil if domain may federate, or an error naming why not
// ("not in s2s.allow", "listed in s2s.deny").
func (p Policy) Check(domain string) error {
	if domain == "" {
		return errors.New("federation policy: empty domain")
	}
	if entry, ok := match(p.Deny, domain); ok {
		return fmt.Errorf("federation policy: domain %q is listed in s2s.deny (as %q)", domain, entry)
	}
	if len(p.Allow) == 0 {
		return nil
	}
	if _, ok := match(p.Allow, domain); !ok {
		return fmt.Errorf("federation policy: domain %q is not in s2s.allow", domain)
	}
	return nil
}

// match returns the first entry of list matching domain.
func match(list []string, domain string) (string, bool) {
	domain = strings.ToLower(domain)
	for _, entry := range list {
		e := strings.ToLower(entry)
		if parent, ok := strings.CutPrefix(e, "*."); ok {
			if parent != "" && strings.HasSuffix(domain, "."+parent) && len(domain) > len(parent)+1 {
				return entry, true
			}
			continue
		}
		if e == domain {
			return entry, true
		}
	}
	return "", false
}
