package main

import (
	"context"
	"sync/atomic"
	"time"
)

// countdown is a count of pending events whose channel closes when the
// count reaches zero.
type countdown struct {
	n    atomic.Int64
	zero chan struct{}
}

func newCountdown(n int) *countdown {
	c := &countdown{zero: make(chan struct{})}
	c.n.Store(int64(n))
	if n <= 0 {
		close(c.zero)
	}
	return c
}

// done records one event.
func (c *countdown) done() {
	if c.n.Add(-1) == 0 {
		close(c.zero)
	}
}

// left returns the events still pending.
func (c *countdown) left() int64 { return max(c.n.Load(), 0) }

// wait waits at most d for the count to reach zero and reports whether
// it did.
func (c *countdown) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.zero:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
