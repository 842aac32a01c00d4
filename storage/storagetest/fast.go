package storagetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"parley/storage"
)

func testFastTokens(t *testing.T, open Opener) {
	t.Run("Slots", func(t *testing.T) { testFastTokenSlots(t, open) })
	t.Run("Delete", func(t *testing.T) { testFastTokenDelete(t, newStore(t, open)) })
	t.Run("Credentials", func(t *testing.T) { testFastTokenCredentials(t, newStore(t, open)) })
}

func fastToken(user, client, digest string, expiry time.Time) storage.FastToken {
	return storage.FastToken{User: user, Client: client, Mechanism: "HT-SHA-256-NONE", Digest: []byte(digest), Expiry: expiry}
}

// checkFastTokens compares the tokens of a client with want, given as
// digests, the pending one first, with whether each is pending.
func checkFastTokens(t *testing.T, s storage.Store, user, client string, want ...storage.FastToken) {
	t.Helper()
	got, err := s.FastTokens(t.Context(), user, client)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("FastTokens(%s, %s): %d tokens %v, want %d", user, client, len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.User != w.User || g.Client != w.Client || g.Mechanism != w.Mechanism || !bytes.Equal(g.Digest, w.Digest) ||
			!g.Expiry.Equal(w.Expiry) || g.Pending != w.Pending {
			t.Errorf("FastTokens(%s, %s)[%d] = %+v, want %+v", user, client, i, g, w)
		}
	}
}

func pending(t storage.FastToken) storage.FastToken { t.Pending = true; return t }

func testFastTokenSlots(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := t.Context()
	const alice = "alice@example.org"
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.CreateAccount(ctx, alice, creds("a")))
	checkFastTokens(t, s, alice, "phone")

	t1 := fastToken(alice, "phone", "digest-1", exp)
	must(t, s.PutFastToken(ctx, t1))
	checkFastTokens(t, s, alice, "phone", pending(t1))
	checkFastTokens(t, s, alice, "laptop")

	// Another pending token replaces the first.
	t2 := fastToken(alice, "phone", "digest-2", exp.Add(time.Hour))
	t2.Mechanism = "HT-SHA-256-EXPR"
	must(t, s.PutFastToken(ctx, t2))
	checkFastTokens(t, s, alice, "phone", pending(t2))

	checkErr(t, "PromoteFastToken(not the pending one)", s.PromoteFastToken(ctx, alice, "phone", []byte("digest-1")), storage.ErrNotFound)
	checkErr(t, "PromoteFastToken(other client)", s.PromoteFastToken(ctx, alice, "laptop", []byte("digest-2")), storage.ErrNotFound)
	must(t, s.PromoteFastToken(ctx, alice, "phone", []byte("digest-2")))
	checkFastTokens(t, s, alice, "phone", t2)
	checkErr(t, "PromoteFastToken(again)", s.PromoteFastToken(ctx, alice, "phone", []byte("digest-2")), storage.ErrNotFound)

	// Rotation: the used token stays beside a pending one until that
	// one is used; then it is gone.
	t3 := fastToken(alice, "phone", "digest-3", exp.Add(2*time.Hour))
	must(t, s.PutFastToken(ctx, t3))
	checkFastTokens(t, s, alice, "phone", pending(t3), t2)
	s = reopen()
	checkFastTokens(t, s, alice, "phone", pending(t3), t2)
	must(t, s.PromoteFastToken(ctx, alice, "phone", []byte("digest-3")))
	checkFastTokens(t, s, alice, "phone", t3)

	// Putting a token deletes the user's expired ones, of any client.
	old := fastToken(alice, "tablet", "digest-old", time.Now().Add(-time.Minute).UTC().Truncate(time.Second))
	must(t, s.PutFastToken(ctx, old))
	checkFastTokens(t, s, alice, "tablet", pending(old))
	must(t, s.PutFastToken(ctx, fastToken(alice, "laptop", "digest-4", exp)))
	checkFastTokens(t, s, alice, "tablet")
	checkFastTokens(t, s, alice, "phone", t3)

	checkErr(t, "PutFastToken(empty digest)", s.PutFastToken(ctx, fastToken(alice, "x", "", exp)), errAny)
}

func testFastTokenDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const alice, bob = "alice@example.org", "bob@example.org"
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, u := range []string{alice, bob} {
		must(t, s.CreateAccount(ctx, u, creds(u)))
		for _, c := range []string{"phone", "laptop"} {
			must(t, s.PutFastToken(ctx, fastToken(u, c, u+c, exp)))
		}
	}
	must(t, s.PromoteFastToken(ctx, alice, "phone", []byte(alice+"phone")))
	must(t, s.PutFastToken(ctx, fastToken(alice, "phone", "next", exp)))

	n, err := s.DeleteFastTokens(ctx, alice, "phone")
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteFastTokens(alice, phone) = %d, want 2", n)
	}
	checkFastTokens(t, s, alice, "phone")
	checkFastTokens(t, s, alice, "laptop", pending(fastToken(alice, "laptop", alice+"laptop", exp)))
	if n, err := s.DeleteFastTokens(ctx, alice, "phone"); err != nil || n != 0 {
		t.Errorf("DeleteFastTokens again = %d, %v", n, err)
	}
	n, err = s.DeleteFastTokens(ctx, bob, "")
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteFastTokens(bob, all) = %d, want 2", n)
	}
	checkFastTokens(t, s, bob, "phone")
	checkFastTokens(t, s, alice, "laptop", pending(fastToken(alice, "laptop", alice+"laptop", exp)))

	// Deleting the account deletes its tokens.
	must(t, s.DeleteAccount(ctx, alice))
	checkFastTokens(t, s, alice, "laptop")
}

func testFastTokenCredentials(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const alice, bob = "alice@example.org", "bob@example.org"
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, u := range []string{alice, bob} {
		must(t, s.CreateAccount(ctx, u, creds(u)))
		must(t, s.PutFastToken(ctx, fastToken(u, "phone", u, exp)))
	}
	// A new password ends the account's FAST logins, not others'.
	must(t, s.SetCredentials(ctx, alice, creds("new")))
	checkFastTokens(t, s, alice, "phone")
	checkFastTokens(t, s, bob, "phone", pending(fastToken(bob, "phone", bob, exp)))
	if err := s.SetCredentials(ctx, "nobody@example.org", creds("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SetCredentials(nobody) = %v", err)
	}
}
