package config

import (
	"testing"
	"time"
)

func TestFastTokenLifetime(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		want                time.Duration
	}{
		{name: "default", body: "", want: 21 * 24 * time.Hour},
		{name: "set", body: "[c2s]\nfast_token_lifetime = \"72h\"\n", want: 72 * time.Hour},
		{name: "off", body: "[c2s]\nfast_token_lifetime = \"0s\"\n", want: 0},
		{name: "too short", body: "[c2s]\nfast_token_lifetime = \"10m\"\n", wantErr: "c2s.fast_token_lifetime: 10m0s is not 0"},
		{name: "too long", body: "[c2s]\nfast_token_lifetime = \"9000h\"\n", wantErr: "c2s.fast_token_lifetime"},
		{name: "negative", body: "[c2s]\nfast_token_lifetime = \"-1h\"\n", wantErr: "c2s.fast_token_lifetime"},
		{name: "wrong type", body: "[c2s]\nfast_token_lifetime = 3600\n", wantErr: "c2s.fast_token_lifetime: expected a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg != nil && cfg.C2S.FastTokenLifetime.Duration != c.want {
				t.Fatalf("fast_token_lifetime %s, want %s", cfg.C2S.FastTokenLifetime, c.want)
			}
		})
	}
}
