package sasl

import (
	"context"
	"strings"
	"testing"

	msasl "mellium.im/sasl"
)

func TestPlain(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	// A user with only a SHA-1 credential, and one whose password needs
	// normalization (U+00A0 NO-BREAK SPACE maps to U+0020).
	sha1Only, err := NewCredentials("s3cret", 0)
	if err != nil {
		t.Fatal(err)
	}
	store.put("tybalt@example.com", sha1Only[0])
	store.addUser(t, "nurse@example.com", "good\u00a0night")

	tests := []struct {
		name, msg, want, user string
	}{
		{name: "ok", msg: "\x00juliet\x00r0m30myr0m30", user: "juliet@example.com"},
		{name: "bare JID authcid", msg: "\x00juliet@example.com\x00r0m30myr0m30", user: "juliet@example.com"},
		{name: "case-mapped authcid", msg: "\x00JULIET\x00r0m30myr0m30", user: "juliet@example.com"},
		{name: "own authzid", msg: "juliet@example.com\x00juliet\x00r0m30myr0m30", user: "juliet@example.com"},
		{name: "own authzid uppercase", msg: "Juliet@Example.com\x00juliet\x00r0m30myr0m30", user: "juliet@example.com"},
		{name: "SHA-1 only credential", msg: "\x00tybalt\x00s3cret", user: "tybalt@example.com"},
		{name: "normalized password", msg: "\x00nurse\x00good night", user: "nurse@example.com"},
		{name: "normalized password as stored", msg: "\x00nurse\x00good\u00a0night", user: "nurse@example.com"},
		{name: "other authzid", msg: "romeo@example.com\x00juliet\x00r0m30myr0m30", want: "invalid-authzid"},
		{name: "invalid authzid", msg: "@@\x00juliet\x00r0m30myr0m30", want: "invalid-authzid"},
		{name: "wrong password", msg: "\x00juliet\x00r0m30myr0m31", want: "not-authorized"},
		{name: "wrong password bad authzid", msg: "romeo@example.com\x00juliet\x00nope", want: "not-authorized"},
		{name: "unknown user", msg: "\x00romeo\x00r0m30myr0m30", want: "not-authorized"},
		{name: "foreign domain", msg: "\x00juliet@example.org\x00r0m30myr0m30", want: "not-authorized"},
		{name: "invalid username", msg: "\x00jul iet\x00r0m30myr0m30", want: "not-authorized"},
		{name: "password with control char", msg: "\x00juliet\x00r0m30\x07", want: "not-authorized"},
		{name: "no separators", msg: "juliet", want: "malformed-request"},
		{name: "one separator", msg: "juliet\x00r0m30myr0m30", want: "malformed-request"},
		{name: "three separators", msg: "\x00juliet\x00r0m30\x00myr0m30", want: "malformed-request"},
		{name: "empty authcid", msg: "\x00\x00r0m30myr0m30", want: "malformed-request"},
		{name: "empty password", msg: "\x00juliet\x00", want: "malformed-request"},
		{name: "invalid UTF-8", msg: "\x00juliet\x00r0m30\xff", want: "malformed-request"},
		{name: "too long", msg: "\x00juliet\x00" + strings.Repeat("x", maxMessageSize), want: "malformed-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := NewExchange("PLAIN", testDomain, store, nil)
			if err != nil {
				t.Fatal(err)
			}
			out, done, err := ex.Step(ctx, []byte(tc.msg))
			if got := condition(t, err); got != tc.want {
				t.Fatalf("condition = %q (%v), want %q", got, err, tc.want)
			}
			if done != (tc.want == "") || len(out) != 0 {
				t.Fatalf("done = %v, out = %q", done, out)
			}
			if ex.User() != tc.user {
				t.Errorf("User() = %q, want %q", ex.User(), tc.user)
			}
			if err != nil {
				for _, secret := range []string{"r0m30", "s3cret", "nope"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains the password", err)
					}
				}
			}
			if _, _, err := ex.Step(ctx, []byte(tc.msg)); condition(t, err) != "malformed-request" {
				t.Errorf("step after end: %v", err)
			}
		})
	}
}

func TestPlainEmptyInitialResponse(t *testing.T) {
	ctx := context.Background()
	ex, err := NewExchange("PLAIN", testDomain, testStore(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, done, err := ex.Step(ctx, []byte{})
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("empty initial response: out=%q done=%v err=%v", out, done, err)
	}
	if _, done, err := ex.Step(ctx, []byte("\x00juliet\x00r0m30myr0m30")); err != nil || !done {
		t.Fatalf("response: done=%v err=%v", done, err)
	}
	if ex.User() != "juliet@example.com" {
		t.Fatalf("User() = %q", ex.User())
	}

	ex, _ = NewExchange("PLAIN", testDomain, testStore(t), nil)
	_, _, _ = ex.Step(ctx, nil)
	if _, _, err := ex.Step(ctx, nil); condition(t, err) != "malformed-request" {
		t.Fatalf("empty response after challenge: %v", err)
	}
}

func TestPlainMellium(t *testing.T) {
	ctx := context.Background()
	store := testStore(t)
	for _, tc := range []struct {
		user, pass, authzid, want string
	}{
		{"juliet", "r0m30myr0m30", "", ""},
		{"juliet", "r0m30myr0m30", "juliet@example.com", ""},
		{"juliet", "wrong", "", "not-authorized"},
		{"romeo", "r0m30myr0m30", "", "not-authorized"},
		{"juliet", "r0m30myr0m30", "nurse@example.com", "invalid-authzid"},
	} {
		ex, _ := NewExchange("PLAIN", testDomain, store, nil)
		serr, cerr := runClient(ctx, ex, msasl.NewClient(msasl.Plain, creds(tc.user, tc.pass, tc.authzid)))
		if cerr != nil {
			t.Fatal(cerr)
		}
		if got := condition(t, serr); got != tc.want {
			t.Errorf("%+v: condition %q (%v), want %q", tc, got, serr, tc.want)
		}
	}
}
