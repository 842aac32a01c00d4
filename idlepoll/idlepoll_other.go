//go:build !linux

package idlepoll

import "context"

// Poller is unavailable on this system.
type Poller struct{}

// New reports ErrUnsupported.
func New() (*Poller, error) { return nil, ErrUnsupported }

// Park is never called without a poller.
func (p *Poller) Park(int, func()) error { return ErrUnsupported }

// Cancel reports false.
func (p *Poller) Cancel(int) bool { return false }

// Parked reports 0.
func (p *Poller) Parked() int { return 0 }

// Run returns at once.
func (p *Poller) Run(context.Context) {}
