package lastactivity

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/storage"
)

// batchStore records the batches of logouts stored.
type batchStore struct {
	Store   // only the last-activity methods below are used
	mu      sync.Mutex
	batches [][]storage.Logout
	stored  map[string]storage.Logout
}

func (s *batchStore) SetLastActivities(_ context.Context, batch []storage.Logout) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, batch)
	if s.stored == nil {
		s.stored = make(map[string]storage.Logout)
	}
	for _, l := range batch {
		s.stored[l.User] = l
	}
	return nil
}

func (s *batchStore) snapshot() (batches int, stored map[string]storage.Logout) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stored = make(map[string]storage.Logout, len(s.stored))
	for k, v := range s.stored {
		stored[k] = v
	}
	return len(s.batches), stored
}

func TestLogoutsBatched(t *testing.T) {
	st := &batchStore{}
	b := newLogouts(st, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.run(ctx); close(done) }()

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 50 {
		b.note(ctx, storage.Logout{User: fmt.Sprintf("u%d@example.test", i), At: at, Status: "first"})
	}
	b.note(ctx, storage.Logout{User: "u0@example.test", At: at.Add(time.Second), Status: "again"})
	b.note(ctx, storage.Logout{User: "gone@example.test", At: at})
	b.forget("gone@example.test")
	// Until stored, a logout is answered from memory.
	if l, ok := b.get("u0@example.test"); !ok || l.Status != "again" {
		t.Fatalf("get(u0) = %+v, %v before the batch is stored; want the later logout", l, ok)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, stored := st.snapshot(); len(stored) == 50 {
			if n != 1 {
				t.Errorf("%d batches, want the 50 logouts in one", n)
			}
			if stored["u0@example.test"].Status != "again" {
				t.Errorf("u0's logout %+v, want the later one", stored["u0@example.test"])
			}
			if _, ok := stored["gone@example.test"]; ok {
				t.Error("the logout of a deleted account was stored")
			}
			break
		}
		if time.Now().After(deadline) {
			_, stored := st.snapshot()
			t.Fatalf("stored %d logouts, want 50", len(stored))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := b.get("u1@example.test"); ok {
		t.Error("a stored logout is still held in memory")
	}

	// A logout noted just before the server stops is stored as it stops;
	// one noted after is stored at once.
	b.note(ctx, storage.Logout{User: "late@example.test", At: at})
	cancel()
	<-done
	if _, stored := st.snapshot(); stored["late@example.test"].User == "" {
		t.Error("the logout noted before the stop was not stored")
	}
	b.note(ctx, storage.Logout{User: "after@example.test", At: at})
	if _, stored := st.snapshot(); stored["after@example.test"].User == "" {
		t.Error("the logout noted after the stop was not stored at once")
	}
}
