package main

import (
	"testing"
)

// TestReconnect runs the three kinds of reconnection against parley: each
// completes every login, with the round trips its protocol takes.
func TestReconnect(t *testing.T) {
	eachTransport(t, 10, func(t *testing.T, common []string) {
		out, stderr := runBench(t, append(common, "-mech", "SCRAM-SHA-256", "-logins", "30", "-users", "10", "-clients", "4", "reconnect")...)
		var fields []string
		for _, kind := range reconnectKinds {
			for _, f := range []string{"_logins", "_logins_per_s", "_logins_per_cpu_s", "_server_cpu_s", "_p50_ms", "_p99_ms", "_round_trips"} {
				fields = append(fields, kind+f)
			}
		}
		checkFields(t, out, "reconnect", append(fields, "fast_vs_sasl2_per_cpu", "fast_vs_legacy_per_cpu")...)
		checkTransport(t, out, common)
		for kind, trips := range map[string]float64{"legacy": 4, "sasl2": 2, "fast": 1} {
			if n := num(t, out, kind+"_logins"); n != 30 {
				t.Errorf("%s logins = %v, want 30\n%s", kind, n, stderr)
			}
			rt, ok := out[kind+"_round_trips"].([]any)
			if !ok || len(rt) != 1 || rt[0].(float64) != trips {
				t.Errorf("%s round trips %v, want [%v]", kind, out[kind+"_round_trips"], trips)
			}
		}
	})
}

func TestReconnectNeedsSCRAM(t *testing.T) {
	if _, err := parseOptions([]string{"-mech", "PLAIN", "reconnect"}, discard{}); err == nil {
		t.Fatal("reconnect with PLAIN accepted")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
