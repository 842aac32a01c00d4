package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/storage"
)

// Document returns user's document of kind and key; storage.ErrNotFound
// if absent.
func (s *Store) Document(ctx context.Context, user, kind, key string) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx,
		`SELECT data FROM documents WHERE user = ? AND kind = ? AND "key" = ?`, user, kind, key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s document %q of %s: %w", kind, key, user, err)
	}
	return nonNil(data), nil
}

// PutDocument creates or replaces user's document of kind and key.
func (s *Store) PutDocument(ctx context.Context, user, kind, key string, data []byte) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO documents (user, kind, "key", data) VALUES (?, ?, ?, ?)
		 ON CONFLICT (user, kind, "key") DO UPDATE SET data = excluded.data`,
		user, kind, key, nonNil(data))
	if err != nil {
		return fmt.Errorf("put %s document %q of %s: %w", kind, key, user, err)
	}
	return nil
}

// DeleteDocument removes user's document of kind and key; no error if
// there was none.
func (s *Store) DeleteDocument(ctx context.Context, user, kind, key string) error {
	_, err := s.w.ExecContext(ctx,
		`DELETE FROM documents WHERE user = ? AND kind = ? AND "key" = ?`, user, kind, key)
	if err != nil {
		return fmt.Errorf("delete %s document %q of %s: %w", kind, key, user, err)
	}
	return nil
}

// SetLastActivity records when user's last resource went offline and its
// status text, replacing any earlier record.
func (s *Store) SetLastActivity(ctx context.Context, user string, at time.Time, status string) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO last_activity (user, at, status) VALUES (?, ?, ?)
		 ON CONFLICT (user) DO UPDATE SET at = excluded.at, status = excluded.status`,
		user, formatTime(at), status)
	if err != nil {
		return fmt.Errorf("set last activity of %s: %w", user, err)
	}
	return nil
}

// SetLastActivities records several logouts in one transaction (one
// sync to disk for all of them); logouts of users without an account are
// skipped.
func (s *Store) SetLastActivities(ctx context.Context, logouts []storage.Logout) error {
	if len(logouts) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx,
			`INSERT INTO last_activity (user, at, status)
			 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM accounts WHERE user = ?1)
			 ON CONFLICT (user) DO UPDATE SET at = excluded.at, status = excluded.status`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, l := range logouts {
			if _, err := stmt.ExecContext(ctx, l.User, formatTime(l.At), l.Status); err != nil {
				return fmt.Errorf("%s: %w", l.User, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set last activity of %d users: %w", len(logouts), err)
	}
	return nil
}

// LastActivity returns user's last logout time (UTC) and status;
// storage.ErrNotFound if never recorded.
func (s *Store) LastActivity(ctx context.Context, user string) (time.Time, string, error) {
	var at, status string
	err := s.r.QueryRowContext(ctx,
		`SELECT at, status FROM last_activity WHERE user = ?`, user).Scan(&at, &status)
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("get last activity of %s: %w", user, err)
	}
	t, err := parseTime(at)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("get last activity of %s: %w", user, err)
	}
	return t, status, nil
}
