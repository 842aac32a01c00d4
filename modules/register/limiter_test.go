package register

import (
	"testing"
	"time"
)

func TestAddressKey(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
	} {
		if addressKey(c.a) != addressKey(c.b) {
			t.Errorf("%s and %s count apart", c.a, c.b)
		}
	}
	for _, c := range []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.2"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
	} {
		if addressKey(c.a) == addressKey(c.b) {
			t.Errorf("%s and %s count together", c.a, c.b)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, time.Hour)
	now := time.Now()
	take := func(addr string, at time.Time) (func(), bool) { return l.reserve(addr, at) }
	if _, ok := take("192.0.2.1", now); !ok {
		t.Fatal("first refused")
	}
	release, ok := take("192.0.2.1", now.Add(time.Minute))
	if !ok {
		t.Fatal("second refused")
	}
	if _, ok := take("192.0.2.1", now.Add(2*time.Minute)); ok {
		t.Fatal("third allowed")
	}
	if _, ok := take("192.0.2.2", now.Add(2*time.Minute)); !ok {
		t.Fatal("another address refused")
	}
	release() // that registration failed
	if _, ok := take("192.0.2.1", now.Add(3*time.Minute)); !ok {
		t.Fatal("a released registration still counts")
	}
	if _, ok := take("192.0.2.1", now.Add(4*time.Minute)); ok {
		t.Fatal("allowed past the limit")
	}
	// The first registration leaves the window.
	if _, ok := take("192.0.2.1", now.Add(time.Hour)); !ok {
		t.Fatal("refused after the window")
	}
	unlimited := newLimiter(0, time.Hour)
	for range 100 {
		if _, ok := unlimited.reserve("192.0.2.1", now); !ok {
			t.Fatal("no limit refused")
		}
	}
	if len(unlimited.seen) != 0 {
		t.Fatal("no limit keeps addresses")
	}
}

func TestLimiterForgets(t *testing.T) {
	l := newLimiter(1, time.Minute)
	now := time.Now()
	l.reserve("192.0.2.1", now)
	l.reserve("192.0.2.2", now)
	l.sweep(now.Add(time.Minute))
	if len(l.seen) != 0 {
		t.Fatalf("kept %v", l.seen)
	}
}
