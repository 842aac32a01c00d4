package config

import (
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"
)

// Upload is the [upload] section: the HTTP File Upload service (XEP-0363)
// with which clients share files by link.
type Upload struct {
	// Domain is the service's address; empty disables it.
	Domain string `toml:"domain"`
	// Dir is where files are kept; empty is "uploads" in the data
	// directory.
	Dir string `toml:"dir"`
	// MaxFileSize is the largest file accepted, in bytes.
	MaxFileSize int64 `toml:"max_file_size"`
	// Quota is the most bytes one user may keep stored; 0 means no limit.
	Quota int64 `toml:"quota"`
	// Expire is how long files are kept.
	Expire Duration `toml:"expire"`
	// SlotLifetime is how long an upload URL stays valid.
	SlotLifetime Duration `toml:"slot_lifetime"`
	// ContentTypes lists the content types accepted ("image/*" patterns
	// allowed); empty accepts any.
	ContentTypes []string `toml:"content_types"`
	// Secret signs upload and download URLs; empty generates one, kept in
	// Dir.
	Secret string `toml:"secret"`
}

// defaultUpload returns the [upload] defaults: off; 100 MiB files, 1 GiB
// per user, kept 30 days.
func defaultUpload() Upload {
	return Upload{
		MaxFileSize:  100 << 20,
		Quota:        1 << 30,
		Expire:       Duration{30 * 24 * time.Hour},
		SlotLifetime: Duration{5 * time.Minute},
	}
}

// MinUploadSecretLength is the shortest accepted upload.secret, in bytes.
const MinUploadSecretLength = 32

// validateUpload checks the [upload] section.
func (c *Config) validateUpload() error {
	u := &c.Upload
	if u.Domain == "" {
		return nil
	}
	if err := checkDomain(u.Domain); err != nil {
		return fmt.Errorf("upload.domain: %w", err)
	}
	if slices.Contains(c.Server.Domains, u.Domain) || u.Domain == c.MUC.Domain || slices.Contains(c.ComponentDomains(), u.Domain) {
		return fmt.Errorf("upload.domain: %q is already used; the upload service needs a domain of its own", u.Domain)
	}
	if c.HTTP.Listen == "" && c.HTTP.TLSListen == "" {
		return fmt.Errorf("upload.domain: the upload service needs the HTTP server: set http.listen or http.tls_listen")
	}
	if u.MaxFileSize < 1 {
		return fmt.Errorf("upload.max_file_size: must be at least 1 byte, got %d", u.MaxFileSize)
	}
	if u.Quota < 0 {
		return fmt.Errorf("upload.quota: must not be negative, got %d (0 means no limit)", u.Quota)
	}
	if u.Expire.Duration < time.Hour {
		return fmt.Errorf("upload.expire: %s is shorter than an hour", u.Expire.Duration)
	}
	if u.SlotLifetime.Duration < 10*time.Second || u.SlotLifetime.Duration > 24*time.Hour {
		return fmt.Errorf("upload.slot_lifetime: %s is not between 10s and 24h", u.SlotLifetime.Duration)
	}
	for i, t := range u.ContentTypes {
		key := fmt.Sprintf("upload.content_types[%d]", i)
		if !validContentTypePattern(t) {
			return fmt.Errorf("%s: %q is not a content type such as image/png or a pattern such as image/*", key, t)
		}
	}
	if u.Secret != "" && len(u.Secret) < MinUploadSecretLength {
		return fmt.Errorf("upload.secret: must be at least %d bytes, or empty to generate one", MinUploadSecretLength)
	}
	return nil
}

// validContentTypePattern reports whether p is a media type without
// parameters ("image/png"), or a type with any subtype ("image/*").
func validContentTypePattern(p string) bool {
	typ, sub, ok := strings.Cut(p, "/")
	if !ok || typ == "" || sub == "" {
		return false
	}
	if sub == "*" {
		sub = "x"
	}
	mt, params, err := mime.ParseMediaType(typ + "/" + sub)
	return err == nil && len(params) == 0 && mt == strings.ToLower(typ+"/"+sub)
}

// UploadDir returns where uploaded files are kept.
func (c *Config) UploadDir() string {
	if c.Upload.Dir != "" {
		return c.Upload.Dir
	}
	return c.DataDir() + "/uploads"
}
