package c2s

import "testing"

func TestTriedAccount(t *testing.T) {
	tests := []struct {
		mech, msg, want string
	}{
		{"PLAIN", "\x00alice\x00secret", "alice@a.test"},
		{"PLAIN", "admin@a.test\x00Alice@A.test\x00secret", "alice@a.test"},
		{"PLAIN", "alice@b.test\x00alice@b.test\x00secret", "alice@b.test"},
		{"PLAIN", "alice secret", ""},
		{"PLAIN", "\x00\x00secret", ""},
		{"SCRAM-SHA-256", "n,,n=alice,r=abc", "alice@a.test"},
		{"SCRAM-SHA-1-PLUS", "p=tls-exporter,a=alice@a.test,n=Alice,r=abc", "alice@a.test"},
		{"SCRAM-SHA-1", "y,,n=o=3Dk=2Cx,r=abc", "o=k,x@a.test"}, // saslname escapes
		{"SCRAM-SHA-1", "y,,r=abc", ""},
		{"SCRAM-SHA-1", "garbage", ""},
		{"HT-SHA-256-EXPR", "alice\x00proofproofproof", "alice@a.test"},
		{"HT-SHA-256-EXPR", "alice", ""},
		{"EXTERNAL", "alice", ""},
		{"PLAIN", "\x00al/ice\x00secret", ""},
	}
	for _, tt := range tests {
		if got := triedAccount(tt.mech, []byte(tt.msg), "a.test"); got != tt.want {
			t.Errorf("triedAccount(%s, %q) = %q, want %q", tt.mech, tt.msg, got, tt.want)
		}
	}
}

func TestFailureAddress(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:aaaa::1":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::9": "2001:db8:1:2::/64",
		"":                          "",
	} {
		if got := failureAddress(addr); got != want {
			t.Errorf("failureAddress(%q) = %q, want %q", addr, got, want)
		}
	}
}
