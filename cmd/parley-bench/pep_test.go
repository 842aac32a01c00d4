package main

import (
	"strings"
	"testing"
)

func TestPEP(t *testing.T) {
	eachTransport(t, 9, testPEP)
}

// testPEP runs the pep scenario against parley: accounts 2 and 3
// publish to 6 contacts (accounts 4..9), each with a +notify resource
// and a quiet one.
func testPEP(t *testing.T, common []string) {
	pep := append(common, "-first-user", "2", "-publishers", "2", "-contacts", "6", "-quiet-resources", "1")
	t.Run("closed loop", func(t *testing.T) {
		out, stderr := runBench(t, append(pep, "-window", "2", "-duration", "1s", "-warmup", "300ms", "pep")...)
		if !strings.Contains(stderr, "8 of 8 users") && !strings.Contains(stderr, "0 of 8 users") {
			t.Errorf("roster setup of 8 users not reported:\n%s", stderr)
		}
		checkFields(t, out, "pep", "publishes", "notifications", "notifications_expected", "lost", "duplicates", "misdirected",
			"publishes_per_s", "notifications_per_s", "notifications_per_cpu_s", "p50_ms", "p99_ms", "p999_ms")
		checkTransport(t, out, common)
		pubs, got := num(t, out, "publishes"), num(t, out, "notifications")
		if pubs == 0 || got != pubs*6 || num(t, out, "notifications_expected") != got || num(t, out, "lost") != 0 {
			t.Errorf("publishes %v, notifications %v (want 6 each), expected %v, lost %v", pubs, got, out["notifications_expected"], out["lost"])
		}
		if n := num(t, out, "misdirected"); n != 0 {
			t.Errorf("%v notifications reached resources without +notify", n)
		}
		if n := num(t, out, "duplicates"); n != 0 {
			t.Errorf("%v notifications arrived twice", n)
		}
		if num(t, out, "notifications_per_cpu_s") <= 0 || num(t, out, "p50_ms") <= 0 {
			t.Errorf("implausible figures: %v", out)
		}
	})
	t.Run("paced", func(t *testing.T) {
		out, _ := runBench(t, append(pep, "-rate", "50", "-duration", "1s", "-warmup", "200ms", "pep")...)
		checkFields(t, out, "pep", "publishes", "notifications")
		pubs := num(t, out, "publishes")
		if pubs < 40 || pubs > 60 || num(t, out, "notifications") != pubs*6 {
			t.Errorf("at 50/s for 1s: publishes %v, notifications %v", pubs, out["notifications"])
		}
	})
}
