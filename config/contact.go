package config

import (
	"fmt"
	"net/url"
	"strings"

	"mellium.im/xmpp/jid"
)

// Contact is the [contact] section: the addresses the server publishes
// for its operators (XEP-0157), as URIs such as "mailto:abuse@a.test",
// "xmpp:admin@a.test" or "https://a.test/support".
type Contact struct {
	Abuse    []string `toml:"abuse"`    // reports of abusive traffic
	Admin    []string `toml:"admin"`    // the service administrators
	Feedback []string `toml:"feedback"` // customer feedback
	Sales    []string `toml:"sales"`    // sales and marketing
	Security []string `toml:"security"` // security concerns
	Status   []string `toml:"status"`   // service status updates
	Support  []string `toml:"support"`  // customer support
}

// ContactList is one kind of contact address and its URIs.
type ContactList struct {
	Key  string // the key in [contact], such as "abuse"
	URIs []string
}

// Lists returns every kind of contact address, sorted by key, including
// the empty ones.
func (c *Contact) Lists() []ContactList {
	return []ContactList{
		{"abuse", c.Abuse},
		{"admin", c.Admin},
		{"feedback", c.Feedback},
		{"sales", c.Sales},
		{"security", c.Security},
		{"status", c.Status},
		{"support", c.Support},
	}
}

// validateContact checks that every contact address is a URI that says
// how to reach someone.
func (c *Config) validateContact() error {
	for _, l := range c.Contact.Lists() {
		seen := make(map[string]bool, len(l.URIs))
		for i, u := range l.URIs {
			key := fmt.Sprintf("contact.%s[%d]", l.Key, i)
			if err := checkContactURI(u); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if seen[u] {
				return fmt.Errorf("%s: %q is listed twice", key, u)
			}
			seen[u] = true
		}
	}
	return nil
}

// checkContactURI reports whether s is an absolute URI with something to
// contact: a mail address for mailto, a JID for xmpp, a host for http and
// https, anything for other schemes (tel, sip, ...).
func checkContactURI(s string) error {
	const hint = `(such as "mailto:abuse@example.com", "xmpp:admin@example.com" or "https://example.com/support")`
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%q is not a URI %s: it contains white space", s, hint)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%q is not a URI %s", s, hint)
	}
	switch strings.ToLower(u.Scheme) {
	case "mailto":
		addr, _, _ := strings.Cut(u.Opaque, "?")
		if local, domain, ok := strings.Cut(addr, "@"); !ok || local == "" || domain == "" {
			return fmt.Errorf("%q is not a mailto URI with a mail address %s", s, hint)
		}
	case "xmpp":
		addr, _, _ := strings.Cut(u.Opaque, "?")
		if addr == "" {
			return fmt.Errorf("%q is not an xmpp URI with a JID (write xmpp:user@domain) %s", s, hint)
		}
		if unescaped, err := url.PathUnescape(addr); err == nil {
			addr = unescaped
		}
		if _, err := jid.Parse(addr); err != nil {
			return fmt.Errorf("%q does not name a valid JID: %w", s, err)
		}
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("%q is not a web address with a host %s", s, hint)
		}
	default:
		if u.Opaque == "" && u.Host == "" && u.Path == "" {
			return fmt.Errorf("%q is not a URI with an address after its scheme %s", s, hint)
		}
	}
	return nil
}
