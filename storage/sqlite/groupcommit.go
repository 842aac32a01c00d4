package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// committer runs the write transactions of concurrent callers together:
// the first caller leads and runs every transaction queued meanwhile in
// one SQLite transaction, each in a savepoint of its own, so that one
// durable commit (one fsync) serves them all. A caller's failure rolls
// back its savepoint only. A caller alone is not delayed.
type committer struct {
	db *sql.DB

	mu      sync.Mutex
	pending []*writeReq
	leading bool
}

type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// run runs fn in a write transaction shared with concurrent callers and
// returns once it is committed (nil) or rolled back (the error).
func (c *committer) run(ctx context.Context, fn func(*sql.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	if c.leading {
		c.mu.Unlock()
		return <-req.done
	}
	c.leading = true
	for len(c.pending) > 0 {
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		c.commit(batch)
		c.mu.Lock()
	}
	c.leading = false
	c.mu.Unlock()
	return <-req.done
}

// commit runs batch in one transaction and answers each request.
func (c *committer) commit(batch []*writeReq) {
	if len(batch) == 1 {
		r := batch[0]
		r.done <- inTx(r.ctx, c.db, r.fn)
		return
	}
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	results := make([]error, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.Exec(`SAVEPOINT w`); err != nil {
			c.abort(tx, batch, fmt.Errorf("begin savepoint: %w", err))
			return
		}
		results[i] = r.fn(tx)
		undo := ``
		if results[i] != nil {
			undo = `ROLLBACK TO w; `
		}
		if _, err := tx.Exec(undo + `RELEASE w`); err != nil {
			c.abort(tx, batch, fmt.Errorf("end savepoint: %w", err))
			return
		}
	}
	err = tx.Commit()
	for i, r := range batch {
		if results[i] == nil {
			results[i] = err
		}
		r.done <- results[i]
	}
}

// abort rolls the whole batch back and fails every request with err.
func (c *committer) abort(tx *sql.Tx, batch []*writeReq, err error) {
	_ = tx.Rollback()
	for _, r := range batch {
		r.done <- err
	}
}
