package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parley/storage"
)

// BenchmarkLoginLookup is the one read a login makes before it is
// authenticated: the SCRAM credential of a password login, or the tokens
// of the client of a FAST login (XEP-0484), among 500 accounts.
func BenchmarkLoginLookup(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const users = 500
	user := func(i int) string { return fmt.Sprintf("user%d@example.org", i%users) }
	for i := range users {
		u := user(i)
		cred := storage.Credential{Hash: "SHA-1", Salt: []byte("salt"), Iterations: 4096,
			StoredKey: make([]byte, 20), ServerKey: make([]byte, 20)}
		if err := s.CreateAccount(ctx, u, []storage.Credential{cred}); err != nil {
			b.Fatal(err)
		}
		digest := []byte(fmt.Sprintf("%032d", i))
		if err := s.PutFastToken(ctx, storage.FastToken{User: u, Client: "phone", Mechanism: "HT-SHA-256-NONE",
			Digest: digest, Expiry: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if err := s.PromoteFastToken(ctx, u, "phone", digest); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("credential", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.Credential(ctx, user(i), "SHA-1"); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("fast-tokens", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if t, err := s.FastTokens(ctx, user(i), "phone"); err != nil || len(t) != 1 {
				b.Fatal(len(t), err)
			}
			i++
		}
	})
}

// BenchmarkLastActivity records logouts one by one, each a transaction
// synced to disk, and in batches of 50.
func BenchmarkLastActivity(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	const users = 100
	user := func(i int) string { return fmt.Sprintf("user%d@example.org", i%users) }
	for i := range users {
		if err := s.CreateAccount(ctx, user(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one-by-one", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := s.SetLastActivity(ctx, user(i), time.Now(), ""); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("batch-of-50", func(b *testing.B) {
		batch := make([]storage.Logout, 0, 50)
		i := 0
		for b.Loop() {
			batch = append(batch, storage.Logout{User: user(i), At: time.Now()})
			if len(batch) == cap(batch) {
				if err := s.SetLastActivities(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
			i++
		}
	})
}
