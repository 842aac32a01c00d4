package config

import (
	"testing"
	"time"
)

func TestRegisterSection(t *testing.T) {
	const on = "[register]\nenabled = true\n"
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "off by default", body: "", check: func(t *testing.T, c *Config) {
			r := c.Register
			if r.Enabled || r.Open || r.MaxPerAddress != 3 || r.Per.Duration != time.Hour || r.MinPasswordLength != 8 {
				t.Fatalf("defaults: %+v", r)
			}
		}},
		{name: "contract example", body: on + "open = false  # true: anyone may register; false: only with an admin's invitation\n", check: func(t *testing.T, c *Config) {
			if !c.Register.Enabled || c.Register.Open {
				t.Fatalf("got %+v", c.Register)
			}
		}},
		{name: "settings", body: on + "open = true\nmax_per_address = 0\nper = \"1d\"\nmin_password_length = 12\n", check: func(t *testing.T, c *Config) {
			r := c.Register
			if !r.Open || r.MaxPerAddress != 0 || r.Per.Duration != 24*time.Hour || r.MinPasswordLength != 12 {
				t.Fatalf("got %+v", r)
			}
		}},
		{name: "open without enabled", body: "[register]\nopen = true\n", wantErr: "register.open: true needs register.enabled = true"},
		{name: "negative limit", body: on + "max_per_address = -1\n", wantErr: "register.max_per_address"},
		{name: "huge limit", body: on + "max_per_address = 1000001\n", wantErr: "register.max_per_address"},
		{name: "short window", body: on + "per = \"10ms\"\n", wantErr: "register.per"},
		{name: "long window", body: on + "per = \"400d\"\n", wantErr: "register.per"},
		{name: "bad window", body: on + "per = \"hourly\"\n", wantErr: "register.per: invalid duration"},
		{name: "no password length", body: on + "min_password_length = 0\n", wantErr: "register.min_password_length"},
		{name: "long password length", body: on + "min_password_length = 2000\n", wantErr: "register.min_password_length"},
		{name: "wrong type", body: on + "open = \"yes\"\n", wantErr: "register.open: expected a boolean"},
		{name: "unknown key", body: on + "captcha = true\n", wantErr: `unknown key "register.captcha"`},
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
