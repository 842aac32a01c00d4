// Package sqlite is parley's embedded storage backend: an implementation of
// storage.Store on a single SQLite database file.
//
// The database runs in WAL mode with synchronous=FULL, so every write is on
// disk when the method that made it returns. Writes go through a single
// connection (SQLite serializes writers anyway); reads use a separate pool
// of read-only connections and are not blocked by writes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"parley/storage"
)

var _ storage.Store = (*Store)(nil)

// maxReaders bounds the read-only connection pool.
const maxReaders = 4

// timeLayout stores instants as fixed-width UTC text: exact to the
// nanosecond, and lexicographic order is chronological order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Store is a storage.Store backed by one SQLite database file. It is safe
// for concurrent use.
type Store struct {
	w *sql.DB // single connection; all writes
	r *sql.DB // read-only pool; all reads outside write transactions
	c *committer
}

// Open opens (creating it if needed) the database at path, creates the
// parent directory with mode 0700 if missing, and migrates the schema to
// the latest version. It fails if the database has a schema version newer
// than this build knows.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite store %s: create directory: %w", path, err)
	}
	// Create the file owner-only before SQLite does; its -wal and -shm
	// files inherit these permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	f.Close()
	// Each connection keeps its prepared statements: the store runs a
	// small fixed set of queries, and preparing one costs more than most
	// of them take to run.
	base := "file:" + escapePath(abs) + "?_busy_timeout=5000&_foreign_keys=on&_stmt_cache_size=64"

	w, err := sql.Open("sqlite3", base+"&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}

	r, err := sql.Open("sqlite3", base+"&_query_only=on")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return &Store{w: w, r: r, c: &committer{db: w}}, nil
}

// Close closes the database. All writes are already durable; closing the
// last connection checkpoints the write-ahead log into the database file.
func (s *Store) Close() error {
	rerr := s.r.Close()
	werr := s.w.Close()
	if err := errors.Join(rerr, werr); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// escapePath percent-encodes the characters that are special in an SQLite
// URI filename.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// write runs fn in an immediate write transaction, committing if fn
// returns nil and rolling back otherwise; concurrent writes share one
// transaction and one durable commit (see committer).
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.c.run(ctx, fn)
}

// read runs fn in a read transaction, so that its queries see one
// consistent snapshot.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	return inTx(ctx, s.r, fn)
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nonNil returns b, or an empty slice if b is nil, since go-sqlite3 binds a
// nil slice as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
