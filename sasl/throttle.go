package sasl

import (
	"math"
	"sync"
	"time"
)

// forgetFactor: an address whose last failure is older than forgetFactor
// times the maximum delay is forgotten.
const forgetFactor = 10

// Throttle slows down repeated authentication failures from one remote
// address: after n consecutive failures the next failure is answered after
// base * 2^(n-1), capped at max. It is safe for concurrent use, and forgets
// addresses whose last failure is older than 10 × max, so it does not grow
// without bound.
type Throttle struct {
	base, max time.Duration
	now       func() time.Time // clock, replaceable in tests

	mu        sync.Mutex
	entries   map[string]throttleEntry
	lastPrune time.Time
}

type throttleEntry struct {
	failures int
	last     time.Time
}

// NewThrottle returns a Throttle with delays base * 2^(failures-1), capped
// at max. Negative durations are treated as zero.
func NewThrottle(base, max time.Duration) *Throttle {
	return &Throttle{
		base:    clampDuration(base),
		max:     clampDuration(max),
		now:     time.Now,
		entries: make(map[string]throttleEntry),
	}
}

func clampDuration(d time.Duration) time.Duration {
	return max(d, 0)
}

// horizon is how long an address's failures are remembered.
func (t *Throttle) horizon() time.Duration {
	if t.max > math.MaxInt64/forgetFactor {
		return math.MaxInt64
	}
	return t.max * forgetFactor
}

// Delay returns how long to wait before answering the next failure from
// addr: zero without recorded failures.
func (t *Throttle) Delay(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[addr]
	if !ok || t.now().Sub(e.last) > t.horizon() {
		return 0
	}
	return t.delay(e.failures)
}

// delay computes base * 2^(n-1) capped at max without overflowing.
func (t *Throttle) delay(n int) time.Duration {
	if n <= 0 || t.base == 0 {
		return 0
	}
	d := t.base
	for i := 1; i < n && d < t.max; i++ {
		d *= 2
	}
	return min(d, t.max)
}

// Failed records an authentication failure from addr.
func (t *Throttle) Failed(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.prune(now)
	e := t.entries[addr]
	if now.Sub(e.last) > t.horizon() {
		e.failures = 0
	}
	if e.failures < 1<<30 {
		e.failures++
	}
	e.last = now
	t.entries[addr] = e
}

// Succeeded forgets the failures recorded for addr.
func (t *Throttle) Succeeded(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, addr)
	t.prune(t.now())
}

// prune drops forgotten addresses, at most once per horizon.
func (t *Throttle) prune(now time.Time) {
	h := t.horizon()
	if now.Sub(t.lastPrune) <= h {
		return
	}
	t.lastPrune = now
	for addr, e := range t.entries {
		if now.Sub(e.last) > h {
			delete(t.entries, addr)
		}
	}
}
