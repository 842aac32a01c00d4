package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"parley/storage"
)

// domainOf returns the domainpart of a bare JID.
func domainOf(user string) string {
	if _, d, ok := strings.Cut(user, "@"); ok {
		return d
	}
	return user
}

func insertCredentials(ctx context.Context, tx *sql.Tx, user string, creds []storage.Credential) error {
	for _, c := range creds {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO credentials (user, hash, salt, iterations, stored_key, server_key)
			 VALUES (?, ?, ?, ?, ?, ?)`,
			user, c.Hash, nonNil(c.Salt), c.Iterations, nonNil(c.StoredKey), nonNil(c.ServerKey))
		if err != nil {
			return fmt.Errorf("insert %s credential: %w", c.Hash, err)
		}
	}
	return nil
}

// CreateAccount creates user with creds; storage.ErrExists if the account
// already exists. Two credentials with the same Hash are an error.
func (s *Store) CreateAccount(ctx context.Context, user string, creds []storage.Credential) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO accounts (user, domain, created) VALUES (?, ?, ?)
			 ON CONFLICT (user) DO NOTHING`,
			user, domainOf(user), formatTime(time.Now()))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrExists
		}
		return insertCredentials(ctx, tx, user, creds)
	})
	if err != nil {
		return fmt.Errorf("create account %s: %w", user, err)
	}
	return nil
}

// SetCredentials replaces all of user's credentials with creds;
// storage.ErrNotFound if no account.
func (s *Store) SetCredentials(ctx context.Context, user string, creds []storage.Credential) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if ok, err := accountExists(ctx, tx, user); err != nil {
			return err
		} else if !ok {
			return storage.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE user = ?`, user); err != nil {
			return err
		}
		// A new password ends the FAST logins of the old one.
		if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE user = ?`, user); err != nil {
			return err
		}
		return insertCredentials(ctx, tx, user, creds)
	})
	if err != nil {
		return fmt.Errorf("set credentials of %s: %w", user, err)
	}
	return nil
}

// Credential returns user's credential for hash; storage.ErrNotFound if
// the account or the credential does not exist.
func (s *Store) Credential(ctx context.Context, user, hash string) (storage.Credential, error) {
	c := storage.Credential{Hash: hash}
	err := s.r.QueryRowContext(ctx,
		`SELECT salt, iterations, stored_key, server_key FROM credentials
		 WHERE user = ? AND hash = ?`, user, hash).
		Scan(&c.Salt, &c.Iterations, &c.StoredKey, &c.ServerKey)
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.Credential{}, fmt.Errorf("get %s credential of %s: %w", hash, user, err)
	}
	return c, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func accountExists(ctx context.Context, q queryer, user string) (bool, error) {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE user = ?)`, user).Scan(&ok)
	return ok, err
}

// AccountExists reports whether user has an account.
func (s *Store) AccountExists(ctx context.Context, user string) (bool, error) {
	ok, err := accountExists(ctx, s.r, user)
	if err != nil {
		return false, fmt.Errorf("check account %s: %w", user, err)
	}
	return ok, nil
}

// DeleteAccount removes user and every row stored for the user, its
// message archive included, in one transaction; storage.ErrNotFound (and
// nothing is deleted) if no account. The roster version restarts from 0.
func (s *Store) DeleteAccount(ctx context.Context, user string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE user = ?`, user)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		for _, table := range []string{
			"credentials", "roster_groups", "roster_items", "roster_versions",
			"pending_subscriptions", "offline_messages", "documents", "last_activity",
			"fast_tokens",
			"pubsub_items", "pubsub_nodes",
			"usage_days",
		} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user = ?`, user); err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM archive_messages WHERE archive = ?`, user); err != nil {
			return fmt.Errorf("delete archive: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete account %s: %w", user, err)
	}
	return nil
}

// ListAccounts returns the bare JIDs of every account of domain, sorted.
func (s *Store) ListAccounts(ctx context.Context, domain string) ([]string, error) {
	users, err := s.listAccounts(ctx, domain)
	if err != nil {
		return nil, fmt.Errorf("list accounts of %s: %w", domain, err)
	}
	return users, nil
}

func (s *Store) listAccounts(ctx context.Context, domain string) ([]string, error) {
	return queryStrings(ctx, s.r, `SELECT user FROM accounts WHERE domain = ? ORDER BY user`, domain)
}
