package sasl

import (
	"context"
	"errors"
	"testing"
)

// TestCredentialsRejectedOnlyForPasswordChecks: a wrong password is a
// credentials failure (it slows down later attempts); a channel-binding
// mismatch, as when a client falls back from a -PLUS mechanism, is not.
func TestCredentialsRejectedOnlyForPasswordChecks(t *testing.T) {
	store := testStore(t)
	store.addUser(t, "alice@example.test", "right")
	cb := map[string][]byte{"tls-exporter": []byte("0123456789abcdef0123456789abcdef")}
	cases := []struct {
		name, mech string
		in         []byte
		want       bool
	}{
		{"PLAIN wrong password", "PLAIN", []byte("\x00alice\x00wrong"), true},
		{"PLAIN unknown user", "PLAIN", []byte("\x00nobody\x00right"), true},
		{"SCRAM downgrade flag", "SCRAM-SHA-256", []byte("y,,n=alice,r=abcdefgh"), false},
		{"SCRAM unsupported binding type", "SCRAM-SHA-256-PLUS", []byte("p=tls-unique,,n=alice,r=abcdefgh"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := NewAuthenticator()
			ex, err := a.NewExchange(c.mech, "example.test", store, cb)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ex.Step(context.Background(), c.in)
			var f *Failure
			if !errors.As(err, &f) {
				t.Fatalf("got %v, want a failure", err)
			}
			if f.CredentialsRejected() != c.want {
				t.Fatalf("CredentialsRejected = %v, want %v (%v)", f.CredentialsRejected(), c.want, f)
			}
		})
	}
}
