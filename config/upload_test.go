package config

import (
	"strings"
	"testing"
	"time"
)

func TestUploadSection(t *testing.T) {
	const http = "[http]\nlisten = \"127.0.0.1:5280\"\n"
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "off by default", body: "", check: func(t *testing.T, c *Config) {
			if c.Upload.Domain != "" || c.Upload.MaxFileSize != 100<<20 || c.Upload.Expire.Duration != 30*24*time.Hour {
				t.Fatalf("defaults: %+v", c.Upload)
			}
		}},
		{name: "contract example", body: http + "[upload]\ndomain = \"upload.a.test\"\n", check: func(t *testing.T, c *Config) {
			if c.Upload.Domain != "upload.a.test" || !strings.HasSuffix(c.UploadDir(), "/data/uploads") {
				t.Fatalf("got %+v in %s", c.Upload, c.UploadDir())
			}
		}},
		{name: "settings", body: http + "[upload]\ndomain = \"upload.a.test\"\ndir = \"files\"\nmax_file_size = 1000\nquota = 0\nexpire = \"7d\"\ncontent_types = [\"image/*\", \"text/plain\"]\n", check: func(t *testing.T, c *Config) {
			if c.Upload.MaxFileSize != 1000 || c.Upload.Expire.Duration != 7*24*time.Hour || len(c.Upload.ContentTypes) != 2 || !strings.HasSuffix(c.UploadDir(), "/files") || !strings.HasPrefix(c.UploadDir(), "/") {
				t.Fatalf("got %+v in %s", c.Upload, c.UploadDir())
			}
		}},
		{name: "needs http", body: "[upload]\ndomain = \"upload.a.test\"\n", wantErr: "upload.domain: the upload service needs the HTTP server"},
		{name: "domain taken", body: http + "[upload]\ndomain = \"a.test\"\n", wantErr: "upload.domain: \"a.test\" is already used"},
		{name: "bad domain", body: http + "[upload]\ndomain = \"a b\"\n", wantErr: "upload.domain"},
		{name: "zero size", body: http + "[upload]\ndomain = \"upload.a.test\"\nmax_file_size = 0\n", wantErr: "upload.max_file_size"},
		{name: "negative quota", body: http + "[upload]\ndomain = \"upload.a.test\"\nquota = -1\n", wantErr: "upload.quota"},
		{name: "short expiry", body: http + "[upload]\ndomain = \"upload.a.test\"\nexpire = \"1m\"\n", wantErr: "upload.expire"},
		{name: "slot lifetime", body: http + "[upload]\ndomain = \"upload.a.test\"\nslot_lifetime = \"1s\"\n", wantErr: "upload.slot_lifetime"},
		{name: "bad content type", body: http + "[upload]\ndomain = \"upload.a.test\"\ncontent_types = [\"image/png\", \"png\"]\n", wantErr: "upload.content_types[1]"},
		{name: "short secret", body: http + "[upload]\ndomain = \"upload.a.test\"\nsecret = \"x\"\n", wantErr: "upload.secret"},
		{name: "unknown key", body: http + "[upload]\nmax_size = 1\n", wantErr: `unknown key "upload.max_size"`},
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
