package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Archive is the [archive] section: the server-wide compliance archive,
// where every message with content that parley routes is written once,
// in order, in a hash-chained journal, whatever users' own archive
// preferences.
type Archive struct {
	// Enabled turns the compliance archive on.
	Enabled bool `toml:"enabled"`
	// Dir is where the archive's files are kept; empty means "archive" in
	// the data directory.
	Dir string `toml:"dir"`
	// Retention removes records older than this, a whole block (a day of
	// records, or 64 MiB) at a time; 0 keeps them for ever.
	Retention Duration `toml:"retention"`
	// DomainRetention overrides Retention for the records of a served
	// domain (or the group-chat domain): a record is kept as long as
	// the longest retention of the domains of its local parties.
	DomainRetention map[string]Duration `toml:"domain_retention"`
	// RequirePlaintext refuses end-to-end encrypted messages (OMEMO,
	// OpenPGP, OTR), which the archive could not read, with a
	// policy-violation error.
	RequirePlaintext bool `toml:"require_plaintext"`
	// OnFailure is what happens to messages while the archive cannot be
	// written (a full or failing disk): "refuse" (they are bounced with
	// an error, so that nothing unarchived is delivered) or "deliver"
	// (they are delivered unarchived; the failure is logged).
	OnFailure string `toml:"on_failure"`
	// CheckpointInterval is how often the archive's newest record is
	// noted in the audit log (and at shutdown), so that records removed
	// from the end or a rewritten chain are detected.
	CheckpointInterval Duration `toml:"checkpoint_interval"`
}

func defaultArchive() Archive {
	return Archive{OnFailure: "refuse", CheckpointInterval: Duration{5 * time.Minute}}
}

// ArchiveDir returns where the compliance archive is kept.
func (c *Config) ArchiveDir() string {
	if c.Archive.Dir != "" {
		return c.Archive.Dir
	}
	return filepath.Join(c.DataDir(), "archive")
}

// ArchiveRetentionDomains returns the domains with a retention of their
// own, sorted.
func (c *Config) ArchiveRetentionDomains() []string {
	var ds []string
	for d := range c.Archive.DomainRetention {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// validateArchive checks the [archive] section.
func (c *Config) validateArchive() error {
	a := &c.Archive
	check := func(key string, d time.Duration) error {
		if d < 0 {
			return fmt.Errorf("%s: must not be negative", key)
		}
		if d > 0 && d < time.Hour {
			return fmt.Errorf("%s: %v is shorter than an hour; use 0 to keep records", key, d)
		}
		return nil
	}
	if err := check("archive.retention", a.Retention.Duration); err != nil {
		return err
	}
	normalized := make(map[string]Duration, len(a.DomainRetention))
	for d, r := range a.DomainRetention {
		key := fmt.Sprintf("archive.domain_retention.%q", d)
		if err := checkDomain(d); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		nd := d
		if !slices.Contains(c.Server.Domains, nd) && nd != c.MUC.Domain {
			return fmt.Errorf("%s: %q is not a served domain nor the group-chat domain", key, d)
		}
		if err := check(key, r.Duration); err != nil {
			return err
		}
		normalized[nd] = r
	}
	if len(normalized) > 0 {
		a.DomainRetention = normalized
	}
	switch a.OnFailure {
	case "refuse", "deliver":
	default:
		return fmt.Errorf("archive.on_failure: %q is not one of refuse, deliver", a.OnFailure)
	}
	if a.CheckpointInterval.Duration < time.Second || a.CheckpointInterval.Duration > 24*time.Hour {
		return fmt.Errorf("archive.checkpoint_interval: %v is not between 1s and 24h", a.CheckpointInterval.Duration)
	}
	return nil
}
