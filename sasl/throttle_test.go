package sasl

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestThrottle(base, max time.Duration) (*Throttle, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	th := NewThrottle(base, max)
	th.now = clk.now
	return th, clk
}

func throttleSize(t *Throttle) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

func TestThrottleGrowthAndCap(t *testing.T) {
	th, _ := newTestThrottle(time.Millisecond, 20*time.Millisecond)
	const addr = "192.0.2.1"
	want := []time.Duration{0, 1, 2, 4, 8, 16, 20, 20, 20}
	for i, w := range want {
		if got := th.Delay(addr); got != w*time.Millisecond {
			t.Errorf("after %d failures: delay %v, want %v", i, got, w*time.Millisecond)
		}
		th.Failed(addr)
	}
	if got := th.Delay("192.0.2.2"); got != 0 {
		t.Errorf("other address delayed %v", got)
	}
	// Many failures must not overflow.
	for range 200 {
		th.Failed(addr)
	}
	if got := th.Delay(addr); got != 20*time.Millisecond {
		t.Errorf("after many failures: %v", got)
	}
}

func TestThrottleHugeMax(t *testing.T) {
	th, _ := newTestThrottle(time.Second, time.Duration(1<<62))
	for range 100 {
		th.Failed("a")
	}
	if got := th.Delay("a"); got != time.Duration(1<<62) {
		t.Errorf("delay %v", got)
	}
}

func TestThrottleReset(t *testing.T) {
	th, _ := newTestThrottle(time.Millisecond, time.Second)
	th.Failed("a")
	th.Failed("a")
	th.Failed("b")
	th.Succeeded("a")
	if got := th.Delay("a"); got != 0 {
		t.Errorf("delay after success %v", got)
	}
	if got := th.Delay("b"); got != time.Millisecond {
		t.Errorf("other address reset: %v", got)
	}
	th.Failed("a")
	if got := th.Delay("a"); got != time.Millisecond {
		t.Errorf("first failure after reset: %v", got)
	}
}

func TestThrottleForgetAndPrune(t *testing.T) {
	const max = 10 * time.Millisecond
	th, clk := newTestThrottle(time.Millisecond, max)
	for range 3 {
		th.Failed("old")
	}
	clk.advance(10*max + time.Nanosecond)
	if got := th.Delay("old"); got != 0 {
		t.Errorf("stale address still delayed %v", got)
	}
	// A new failure after the horizon starts from scratch.
	th.Failed("old")
	if got := th.Delay("old"); got != time.Millisecond {
		t.Errorf("stale failures counted: %v", got)
	}

	for _, a := range []string{"a", "b", "c"} {
		th.Failed(a)
	}
	if n := throttleSize(th); n != 4 {
		t.Fatalf("size %d, want 4", n)
	}
	clk.advance(5 * max)
	th.Failed("d") // a..c are not stale yet
	if n := throttleSize(th); n != 5 {
		t.Fatalf("size %d, want 5", n)
	}
	clk.advance(6 * max)
	th.Failed("e") // old, a..c are stale and pruned; d stays
	if n := throttleSize(th); n != 2 {
		t.Fatalf("size after prune %d, want 2", n)
	}
	if th.Delay("d") != time.Millisecond || th.Delay("e") != time.Millisecond {
		t.Error("fresh entries lost")
	}
}

func TestThrottleBounded(t *testing.T) {
	const max = time.Millisecond
	th, clk := newTestThrottle(time.Microsecond, max)
	for i := range 10000 {
		th.Failed(string(rune('a'+i%26)) + string(rune(i)))
		clk.advance(max / 10)
	}
	// Only addresses seen in the last ~2 horizons (200 failures) remain.
	if n := throttleSize(th); n > 250 {
		t.Errorf("throttle holds %d addresses", n)
	}
}

func TestThrottleZero(t *testing.T) {
	th, _ := newTestThrottle(0, 0)
	th.Failed("a")
	if got := th.Delay("a"); got != 0 {
		t.Errorf("delay %v", got)
	}
	th, _ = newTestThrottle(-time.Second, -time.Second)
	th.Failed("a")
	if got := th.Delay("a"); got != 0 {
		t.Errorf("negative durations: delay %v", got)
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th := NewThrottle(time.Millisecond, 50*time.Millisecond)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			addr := string(rune('a' + i%2))
			for range 100 {
				th.Failed(addr)
				_ = th.Delay(addr)
				if i == 0 {
					th.Succeeded(addr)
				}
			}
		})
	}
	wg.Wait()
}
