package s2s

import (
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		domain  string
		wantErr string // substring of the error; empty: allowed
	}{
		{"open federation", Policy{}, "b.example", ""},
		{"open federation, empty lists", Policy{Allow: []string{}, Deny: []string{}}, "b.example", ""},
		{"allowed", Policy{Allow: []string{"c.example", "b.example"}}, "b.example", ""},
		{"not allowed", Policy{Allow: []string{"c.example"}}, "b.example", `"b.example" is not in s2s.allow`},
		{"allow is exact", Policy{Allow: []string{"example"}}, "b.example", "not in s2s.allow"},
		{"allow does not match subdomains", Policy{Allow: []string{"example.com"}}, "chat.example.com", "not in s2s.allow"},
		{"denied", Policy{Deny: []string{"b.example"}}, "b.example", `"b.example" is listed in s2s.deny (as "b.example")`},
		{"deny is exact", Policy{Deny: []string{"b.example"}}, "c.example", ""},
		{"deny does not match subdomains", Policy{Deny: []string{"example.com"}}, "chat.example.com", ""},
		{"deny wins over allow", Policy{Allow: []string{"b.example"}, Deny: []string{"b.example"}}, "b.example", "listed in s2s.deny"},
		{"deny wins over wildcard allow", Policy{Allow: []string{"*.example.com"}, Deny: []string{"bad.example.com"}}, "bad.example.com", "listed in s2s.deny"},
		{"wildcard deny wins over allow", Policy{Allow: []string{"bad.example.com"}, Deny: []string{"*.example.com"}}, "bad.example.com", `listed in s2s.deny (as "*.example.com")`},
		{"wildcard allow", Policy{Allow: []string{"*.example.com"}}, "chat.example.com", ""},
		{"wildcard allow, deeper", Policy{Allow: []string{"*.example.com"}}, "a.b.example.com", ""},
		{"wildcard allow excludes the domain itself", Policy{Allow: []string{"*.example.com"}}, "example.com", "not in s2s.allow"},
		{"wildcard allow needs a label boundary", Policy{Allow: []string{"*.example.com"}}, "badexample.com", "not in s2s.allow"},
		{"wildcard allow and the domain itself", Policy{Allow: []string{"*.example.com", "example.com"}}, "example.com", ""},
		{"wildcard deny", Policy{Deny: []string{"*.example.com"}}, "spam.example.com", "listed in s2s.deny"},
		{"wildcard deny excludes the domain itself", Policy{Deny: []string{"*.example.com"}}, "example.com", ""},
		{"wildcard deny needs a label boundary", Policy{Deny: []string{"*.example.com"}}, "notexample.com", ""},
		{"empty wildcard matches nothing", Policy{Deny: []string{"*."}}, "b.example", ""},
		{"case-insensitive allow", Policy{Allow: []string{"B.Example"}}, "b.EXAMPLE", ""},
		{"case-insensitive deny", Policy{Deny: []string{"b.example"}}, "B.Example", "listed in s2s.deny"},
		{"case-insensitive wildcard", Policy{Allow: []string{"*.EXAMPLE.com"}}, "Chat.example.COM", ""},
		{"IDN", Policy{Allow: []string{"*.bücher.example"}}, "chat.BÜCHER.example", ""},
		{"empty domain", Policy{}, "", "empty domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.domain)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Check(%q) = %v, want nil", tt.domain, err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Check(%q) = nil, want an error containing %q", tt.domain, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Check(%q) = %q, want an error containing %q", tt.domain, err, tt.wantErr)
			}
		})
	}
}
