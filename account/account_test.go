package account_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley/account"
	"parley/storage"
	"parley/storage/sqlite"
)

func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestUser(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"alice", "alice@example.org"},
		{"Alice", "alice@example.org"},
		{"ÉLODIE", "élodie@example.org"},
		{"o.brien-2", "o.brien-2@example.org"},
		{"o'brien", ""}, // RFC 7622 forbids the apostrophe
		{"", ""},
		{"a b", ""},
		{"a@b", ""},
		{"a/b", ""},
		{"a\x00b", ""},
		{string(make([]byte, 1100)), ""},
	} {
		got, err := account.User(c.in, "example.org")
		if c.want == "" {
			if err == nil {
				t.Errorf("User(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("User(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestAccountOperations(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	const user = "alice@example.org"
	if err := account.Create(ctx, st, user, "first password"); err != nil {
		t.Fatal(err)
	}
	if err := account.Create(ctx, st, user, "other"); !errors.Is(err, account.ErrExists) {
		t.Fatalf("Create of an existing account: %v", err)
	}
	c1, err := st.Credential(ctx, user, "SHA-256")
	if err != nil || len(c1.StoredKey) == 0 || len(c1.Salt) == 0 {
		t.Fatalf("credential %+v, %v", c1, err)
	}
	if err := account.SetPassword(ctx, st, user, "second password"); err != nil {
		t.Fatal(err)
	}
	if c2, _ := st.Credential(ctx, user, "SHA-256"); string(c2.StoredKey) == string(c1.StoredKey) {
		t.Fatal("SetPassword kept the credential")
	}
	if err := account.SetPassword(ctx, st, "bob@example.org", "x"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("SetPassword of no account: %v", err)
	}

	// Delete takes the account's uploads too.
	dir := t.TempDir()
	if _, err := account.Delete(ctx, st, user, filepath.Join(dir, "missing")); err != nil {
		t.Fatalf("Delete without an upload directory: %v", err)
	}
	if ok, _ := st.AccountExists(ctx, user); ok {
		t.Fatal("account still exists")
	}
	if _, err := account.Delete(ctx, st, user, dir); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("Delete of no account: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

func TestInvitations(t *testing.T) {
	st := newStore(t)
	ctx := t.Context()
	now := time.Now()
	token, inv, err := account.Invite(ctx, st, "example.org", "", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if inv.TokenHash != account.HashToken(token) || inv.TokenHash == token || len(token) < 20 {
		t.Fatalf("token %q, invitation %+v", token, inv)
	}
	if got := account.URI(inv, token); got != "xmpp:example.org?register;preauth="+token {
		t.Errorf("URI %q", got)
	}
	for _, c := range []struct {
		name, token, domain string
		at                  time.Time
		ok                  bool
	}{
		{"valid", token, "example.org", now, true},
		{"empty", "", "example.org", now, false},
		{"unknown", "x" + token, "example.org", now, false},
		{"other domain", token, "example.net", now, false},
		{"expired", token, "example.org", now.Add(time.Hour), false},
	} {
		_, err := account.CheckInvitation(ctx, st, c.token, c.domain, c.at)
		if c.ok && err != nil || !c.ok && !errors.Is(err, account.ErrBadInvitation) {
			t.Errorf("%s: CheckInvitation: %v", c.name, err)
		}
	}
	if !account.Allows(inv, "anyone@example.org") {
		t.Error("an invitation for any username refuses one")
	}
	if err := account.UseInvitation(ctx, st, inv); err != nil {
		t.Fatal(err)
	}
	if err := account.UseInvitation(ctx, st, inv); !errors.Is(err, account.ErrBadInvitation) {
		t.Fatalf("second use: %v", err)
	}
	if err := account.RestoreInvitation(ctx, st, inv); err != nil {
		t.Fatal(err)
	}
	if _, err := account.CheckInvitation(ctx, st, token, "example.org", now); err != nil {
		t.Fatalf("restored invitation: %v", err)
	}

	tok2, juliet, err := account.Invite(ctx, st, "example.org", "juliet", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := account.URI(juliet, tok2); got != "xmpp:juliet@example.org?register;preauth="+tok2 {
		t.Errorf("URI %q", got)
	}
	if !account.Allows(juliet, "juliet@example.org") || account.Allows(juliet, "romeo@example.org") {
		t.Error("an invitation for juliet does not keep to her")
	}
	if _, _, err := account.Invite(ctx, st, "example.org", "", 0, now); err == nil {
		t.Error("an invitation without lifetime was made")
	}
	var _ storage.Invitations = st
}
