package register

import (
	"net"
	"sync"
	"time"
)

// limiter counts the registrations from each address in a sliding window,
// so that one address cannot create accounts without end. IPv6 addresses
// count by their /64 network, which one host usually has to itself.
type limiter struct {
	max int           // registrations per window and address; 0: no limit
	per time.Duration // the window

	mu   sync.Mutex
	seen map[string][]time.Time // address key -> times of recent registrations, oldest first
}

// maxTrackedAddresses bounds the limiter's memory: past it, addresses
// whose window has passed are forgotten.
const maxTrackedAddresses = 100000

func newLimiter(max int, per time.Duration) *limiter {
	return &limiter{max: max, per: per, seen: make(map[string][]time.Time)}
}

// addressKey returns the key addr counts under: the address itself, or
// the /64 network of an IPv6 address.
func addressKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// reserve takes one registration of addr's allowance at now. It reports
// false when the allowance is used up; otherwise release gives the
// registration back, for one that then failed.
func (l *limiter) reserve(addr string, now time.Time) (release func(), ok bool) {
	if l.max == 0 {
		return func() {}, true
	}
	key := addressKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.recent(key, now)
	if len(times) >= l.max {
		return nil, false
	}
	if len(l.seen) >= maxTrackedAddresses {
		l.sweep(now)
	}
	l.seen[key] = append(times, now)
	return func() { l.release(key, now) }, true
}

// recent returns the times of key still in the window at now, forgetting
// the others; l.mu is held.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	times := l.seen[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.per {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.seen, key)
	} else {
		l.seen[key] = times
	}
	return times
}

// release gives back the registration reserved for key at t.
func (l *limiter) release(key string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.seen[key]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(t) {
			times = append(times[:i:i], times[i+1:]...)
			break
		}
	}
	if len(times) == 0 {
		delete(l.seen, key)
	} else {
		l.seen[key] = times
	}
}

// sweep forgets every address whose window has passed; l.mu is held.
func (l *limiter) sweep(now time.Time) {
	for key := range l.seen {
		l.recent(key, now)
	}
}
