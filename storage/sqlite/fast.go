package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/storage"
)

// Slots of a client's FAST tokens.
const (
	fastUsed    = 0
	fastPending = 1
)

// FastTokens returns the tokens of user's client, the pending one first.
// It runs on every FAST login: the two rows at most are put in order
// here rather than with ORDER BY, which makes SQLite's lookup about twice
// as costly.
func (s *Store) FastTokens(ctx context.Context, user, client string) ([]storage.FastToken, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT mechanism, digest, expiry, slot FROM fast_tokens
		 WHERE user = ? AND client = ?`, user, client)
	if err != nil {
		return nil, fmt.Errorf("get FAST tokens of %s: %w", user, err)
	}
	defer rows.Close()
	var out []storage.FastToken
	for rows.Next() {
		t := storage.FastToken{User: user, Client: client}
		var expiry string
		var slot int
		if err := rows.Scan(&t.Mechanism, &t.Digest, &expiry, &slot); err != nil {
			return nil, fmt.Errorf("get FAST tokens of %s: %w", user, err)
		}
		if t.Expiry, err = parseTime(expiry); err != nil {
			return nil, fmt.Errorf("get FAST tokens of %s: %w", user, err)
		}
		t.Pending = slot == fastPending
		if t.Pending {
			out = append([]storage.FastToken{t}, out...)
		} else {
			out = append(out, t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get FAST tokens of %s: %w", user, err)
	}
	return out, nil
}

// PutFastToken stores t as its client's pending token and deletes the
// user's expired tokens.
func (s *Store) PutFastToken(ctx context.Context, t storage.FastToken) error {
	if len(t.Digest) == 0 {
		return fmt.Errorf("put FAST token of %s: empty digest", t.User)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE user = ? AND expiry <= ?`,
			t.User, formatTime(time.Now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO fast_tokens (user, client, slot, mechanism, digest, expiry) VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (user, client, slot) DO UPDATE SET
			 mechanism = excluded.mechanism, digest = excluded.digest, expiry = excluded.expiry`,
			t.User, t.Client, fastPending, t.Mechanism, t.Digest, formatTime(t.Expiry))
		return err
	})
	if err != nil {
		return fmt.Errorf("put FAST token of %s: %w", t.User, err)
	}
	return nil
}

// PromoteFastToken makes the client's pending token with digest its used
// token; storage.ErrNotFound if the pending token is another or none.
func (s *Store) PromoteFastToken(ctx context.Context, user, client string, digest []byte) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var ok bool
		err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM fast_tokens WHERE user = ? AND client = ? AND slot = ? AND digest = ?)`,
			user, client, fastPending, digest).Scan(&ok)
		if err != nil {
			return err
		}
		if !ok {
			return storage.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE user = ? AND client = ? AND slot = ?`,
			user, client, fastUsed); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE fast_tokens SET slot = ? WHERE user = ? AND client = ? AND slot = ?`,
			fastUsed, user, client, fastPending)
		return err
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("promote FAST token of %s: %w", user, err)
	}
	return err
}

// DeleteFastTokens deletes the tokens of user's client, or of all the
// user's clients when client is "".
func (s *Store) DeleteFastTokens(ctx context.Context, user, client string) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		q, args := `DELETE FROM fast_tokens WHERE user = ?`, []any{user}
		if client != "" {
			q, args = q+` AND client = ?`, append(args, client)
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete FAST tokens of %s: %w", user, err)
	}
	return n, nil
}
