package config

import (
	"path/filepath"
	"testing"
	"time"
)

func TestArchiveSection(t *testing.T) {
	const on = "[archive]\nenabled = true\n"
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "off by default", body: "", check: func(t *testing.T, c *Config) {
			a := c.Archive
			if a.Enabled || a.Retention.Duration != 0 || a.RequirePlaintext || a.OnFailure != "refuse" || a.CheckpointInterval.Duration != 5*time.Minute {
				t.Fatalf("defaults: %+v", a)
			}
			if c.ArchiveDir() != filepath.Join(c.DataDir(), "archive") {
				t.Fatalf("ArchiveDir() = %q", c.ArchiveDir())
			}
		}},
		{name: "contract example", body: "[archive]\nenabled = false\nretention = \"7y\"                       # records older than this are removed; the chain stays verifiable\n", check: func(t *testing.T, c *Config) {
			if c.Archive.Enabled || c.Archive.Retention.Duration != 7*365*24*time.Hour {
				t.Fatalf("got %+v", c.Archive)
			}
		}},
		{name: "settings", body: "[muc]\ndomain = \"conference.a.test\"\n" + on + "dir = \"journal\"\nretention = \"90d\"\nrequire_plaintext = true\non_failure = \"deliver\"\ncheckpoint_interval = \"1m\"\n[archive.domain_retention]\n\"a.test\" = \"7y\"\n\"conference.a.test\" = \"30d\"\n", check: func(t *testing.T, c *Config) {
			a := c.Archive
			if !a.RequirePlaintext || a.OnFailure != "deliver" || a.Retention.Duration != 90*24*time.Hour || a.CheckpointInterval.Duration != time.Minute {
				t.Fatalf("got %+v", a)
			}
			if a.DomainRetention["a.test"].Duration != 7*365*24*time.Hour || a.DomainRetention["conference.a.test"].Duration != 30*24*time.Hour {
				t.Fatalf("domain retention %+v", a.DomainRetention)
			}
			if !filepath.IsAbs(c.ArchiveDir()) || filepath.Base(c.ArchiveDir()) != "journal" {
				t.Fatalf("ArchiveDir() = %q", c.ArchiveDir())
			}
		}},
		{name: "short retention", body: on + "retention = \"10m\"\n", wantErr: "archive.retention: 10m0s is shorter than an hour"},
		{name: "bad retention", body: on + "retention = \"forever\"\n", wantErr: "archive.retention: invalid duration"},
		{name: "unknown domain", body: on + "[archive.domain_retention]\n\"b.test\" = \"90d\"\n", wantErr: `archive.domain_retention."b.test": "b.test" is not a served domain`},
		{name: "domain retention short", body: on + "[archive.domain_retention]\n\"a.test\" = \"1s\"\n", wantErr: `archive.domain_retention."a.test": 1s is shorter than an hour`},
		{name: "bad policy", body: on + "on_failure = \"drop\"\n", wantErr: `archive.on_failure: "drop" is not one of refuse, deliver`},
		{name: "bad checkpoint interval", body: on + "checkpoint_interval = \"0s\"\n", wantErr: "archive.checkpoint_interval"},
		{name: "wrong type", body: on + "require_plaintext = \"yes\"\n", wantErr: "archive.require_plaintext: expected a boolean"},
		{name: "unknown key", body: on + "compress = true\n", wantErr: `unknown key "archive.compress"`},
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
