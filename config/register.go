package config

import (
	"errors"
	"fmt"
	"time"
)

// Register is the [register] section: in-band registration of new
// accounts (XEP-0077), open to anyone or only with an admin's invitation
// (parley invite). Password changes and account removal by their users
// need no configuration.
type Register struct {
	// Enabled offers in-band registration of new accounts on encrypted
	// client streams.
	Enabled bool `toml:"enabled"`
	// Open lets anyone register; otherwise a valid invitation token is
	// required.
	Open bool `toml:"open"`
	// MaxPerAddress is how many accounts may be registered from one IP
	// address (IPv6: one /64) within Per; 0 means no limit.
	MaxPerAddress int `toml:"max_per_address"`
	// Per is the window MaxPerAddress counts in.
	Per Duration `toml:"per"`
	// MinPasswordLength is the fewest characters a password chosen in
	// band (at registration or when changing it) may have.
	MinPasswordLength int `toml:"min_password_length"`
}

// defaultRegister returns the [register] defaults: off; when on, only
// with an invitation, 3 accounts per address and hour, passwords of 8
// characters or more.
func defaultRegister() Register {
	return Register{
		MaxPerAddress:     3,
		Per:               Duration{time.Hour},
		MinPasswordLength: 8,
	}
}

// Limits of the [register] values.
const (
	MaxRegisterPerAddress     = 1000000
	MaxRegisterPasswordLength = 1024
)

// validateRegister checks the [register] section.
func (c *Config) validateRegister() error {
	r := &c.Register
	if r.Open && !r.Enabled {
		return errors.New("register.open: true needs register.enabled = true (registration is off)")
	}
	if r.MaxPerAddress < 0 || r.MaxPerAddress > MaxRegisterPerAddress {
		return fmt.Errorf("register.max_per_address: %d is not between 0 and %d (0 means no limit)", r.MaxPerAddress, MaxRegisterPerAddress)
	}
	if p := r.Per.Duration; p < time.Second || p > 365*24*time.Hour {
		return fmt.Errorf("register.per: %s is not between 1s and 365d", p)
	}
	if r.MinPasswordLength < 1 || r.MinPasswordLength > MaxRegisterPasswordLength {
		return fmt.Errorf("register.min_password_length: %d is not between 1 and %d", r.MinPasswordLength, MaxRegisterPasswordLength)
	}
	return nil
}
