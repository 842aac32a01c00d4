package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupCommit: writes queued behind a running one commit together,
// and a write that fails leaves nothing while the others of its batch
// are kept.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.Exec(`CREATE TABLE gc (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	insert := func(n int) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO gc (n) VALUES (?)`, n)
			return err
		}
	}
	errBad := errors.New("bad write")
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The leader holds the writer until the others are queued.
		err := s.write(ctx, func(tx *sql.Tx) error {
			close(started)
			<-release
			return insert(0)(tx)
		})
		if err != nil {
			t.Errorf("leader: %v", err)
		}
	}()
	<-started
	const n = 20
	errs := make([]error, n+1)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = s.write(ctx, func(tx *sql.Tx) error {
				if err := insert(i)(tx); err != nil {
					return err
				}
				if i%5 == 0 {
					return errBad // after its insert: the savepoint must undo it
				}
				return nil
			})
		}(i)
	}
	for {
		s.c.mu.Lock()
		queued := len(s.c.pending)
		s.c.mu.Unlock()
		if queued == n {
			break
		}
	}
	close(release)
	wg.Wait()
	var rows int
	if err := s.r.QueryRow(`SELECT count(*) FROM gc`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != n+1-n/5 {
		t.Fatalf("%d rows, want %d", rows, n+1-n/5)
	}
	for i := 1; i <= n; i++ {
		var found int
		s.r.QueryRow(`SELECT count(*) FROM gc WHERE n = ?`, i).Scan(&found)
		switch {
		case i%5 == 0 && (!errors.Is(errs[i], errBad) || found != 0):
			t.Errorf("write %d: err %v, %d rows; want its error and no row", i, errs[i], found)
		case i%5 != 0 && (errs[i] != nil || found != 1):
			t.Errorf("write %d: err %v, %d rows; want it kept", i, errs[i], found)
		}
	}
	// A cancelled caller's write is not made.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.write(cctx, insert(100)); err == nil {
		t.Fatal("a cancelled write succeeded")
	}
}
