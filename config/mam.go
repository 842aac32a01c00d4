package config

import (
	"fmt"
	"time"
)

// MAM is the [mam] section: the message archive of every account
// (XEP-0313), which lets each of a user's devices fetch the conversations
// it missed.
type MAM struct {
	// Enabled archives every one-to-one message with a body for both
	// local parties and answers archive queries.
	Enabled bool `toml:"enabled"`
	// Default is the archiving preference of accounts that set none:
	// "always", "roster" (only messages with contacts in the roster) or
	// "never"; users change their own (XEP-0313 preferences).
	Default string `toml:"default"`
	// Retention removes archived messages older than this; 0 keeps them
	// until the account is deleted.
	Retention Duration `toml:"retention"`
	// MaxPage is the most messages one query returns; a client asking
	// for more gets a page of this size, and a client asking for no
	// particular number gets DefaultMAMPage.
	MaxPage int `toml:"max_page"`
}

// DefaultMAMPage is the page size of archive queries that name none.
const DefaultMAMPage = 50

func defaultMAM() MAM {
	return MAM{Default: "always", MaxPage: 250}
}

// validateMAM checks the [mam] section.
func (c *Config) validateMAM() error {
	m := &c.MAM
	switch m.Default {
	case "always", "roster", "never":
	default:
		return fmt.Errorf("mam.default: %q is not one of always, roster, never", m.Default)
	}
	if m.Retention.Duration < 0 {
		return fmt.Errorf("mam.retention: must not be negative")
	}
	if m.Retention.Duration > 0 && m.Retention.Duration < time.Hour {
		return fmt.Errorf("mam.retention: %v is shorter than an hour; use 0 to keep messages", m.Retention.Duration)
	}
	if m.MaxPage < 1 || m.MaxPage > 10000 {
		return fmt.Errorf("mam.max_page: %d is not between 1 and 10000", m.MaxPage)
	}
	return nil
}
