package roster

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"parley/storage"
	"parley/storage/sqlite"
)

// countingStore counts roster reads and can hold one read until released.
type countingStore struct {
	Store
	reads atomic.Int32
	hold  chan struct{} // if set, Roster waits on it after reading
}

func (s *countingStore) Roster(ctx context.Context, user string) ([]storage.RosterItem, int64, error) {
	s.reads.Add(1)
	items, ver, err := s.Store.Roster(ctx, user)
	if s.hold != nil {
		<-s.hold
	}
	return items, ver, err
}

func newCacheForTest(t *testing.T) (*cachedStore, *countingStore) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cs := &countingStore{Store: db}
	return newCachedStore(cs, 10), cs
}

func TestCacheServesReadsAndDropsOnWrite(t *testing.T) {
	ctx := context.Background()
	c, cs := newCacheForTest(t)
	const user = "alice@example.test"
	c.PutRosterItem(ctx, user, storage.RosterItem{JID: "bob@example.test", Subscription: "both"})
	if it, err := c.RosterItem(ctx, user, "bob@example.test"); err != nil || it.Subscription != "both" {
		t.Fatalf("uncached item %+v, %v", it, err)
	}
	if n := cs.reads.Load(); n != 0 {
		t.Fatalf("a single-item lookup loaded the whole roster (%d reads)", n)
	}
	c.Roster(ctx, user) // the user logs in: the roster is cached
	for i := 0; i < 3; i++ {
		if it, err := c.RosterItem(ctx, user, "bob@example.test"); err != nil || it.Subscription != "both" {
			t.Fatalf("item %+v, %v", it, err)
		}
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("%d storage reads for repeated lookups, want 1", n)
	}
	c.PutRosterItem(ctx, user, storage.RosterItem{JID: "bob@example.test", Subscription: "to"})
	if it, _ := c.RosterItem(ctx, user, "bob@example.test"); it.Subscription != "to" {
		t.Fatalf("stale item after a write: %+v", it)
	}
	c.DeleteRosterItem(ctx, user, "bob@example.test")
	if _, err := c.RosterItem(ctx, user, "bob@example.test"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted item still found: %v", err)
	}
	before := cs.reads.Load()
	c.forget(user)
	c.Roster(ctx, user)
	if cs.reads.Load() != before+1 {
		t.Fatal("forget did not drop the cached roster")
	}
}

// TestCacheRejectsReadRacingWrite: a roster read from storage while a
// write happens must not be cached.
func TestCacheRejectsReadRacingWrite(t *testing.T) {
	ctx := context.Background()
	c, cs := newCacheForTest(t)
	const user = "alice@example.test"
	cs.hold = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Roster(ctx, user) // reads the empty roster, then waits
	}()
	for cs.reads.Load() == 0 {
	}
	c.PutRosterItem(ctx, user, storage.RosterItem{JID: "bob@example.test", Subscription: "both"})
	close(cs.hold)
	<-done
	cs.hold = nil
	items, _, err := c.Roster(ctx, user)
	if err != nil || len(items) != 1 {
		t.Fatalf("roster after racing write: %v %v (stale empty roster cached)", items, err)
	}
}
