package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parley/storage"
)

// CreateInvitation stores inv; storage.ErrExists if its token hash is
// taken.
func (s *Store) CreateInvitation(ctx context.Context, inv storage.Invitation) error {
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO invitations (token_hash, domain, localpart, created, expires) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (token_hash) DO NOTHING`,
		inv.TokenHash, inv.Domain, inv.Localpart, formatTime(inv.Created), formatTime(inv.Expires))
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = storage.ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("create invitation for %s: %w", inv.Domain, err)
	}
	return nil
}

// Invitation returns the invitation of tokenHash, expired or not;
// storage.ErrNotFound if there is none.
func (s *Store) Invitation(ctx context.Context, tokenHash string) (storage.Invitation, error) {
	inv := storage.Invitation{TokenHash: tokenHash}
	var created, expires string
	err := s.r.QueryRowContext(ctx,
		`SELECT domain, localpart, created, expires FROM invitations WHERE token_hash = ?`, tokenHash).
		Scan(&inv.Domain, &inv.Localpart, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		err = storage.ErrNotFound
	}
	if err == nil {
		inv.Created, err = parseTime(created)
	}
	if err == nil {
		inv.Expires, err = parseTime(expires)
	}
	if err != nil {
		return storage.Invitation{}, fmt.Errorf("get invitation: %w", err)
	}
	return inv, nil
}

// DeleteInvitation removes the invitation of tokenHash and reports
// whether there was one.
func (s *Store) DeleteInvitation(ctx context.Context, tokenHash string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM invitations WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return false, fmt.Errorf("delete invitation: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete invitation: %w", err)
	}
	return n > 0, nil
}

// DeleteExpiredInvitations removes every invitation that expired before
// now and reports how many.
func (s *Store) DeleteExpiredInvitations(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM invitations WHERE expires < ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired invitations: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired invitations: %w", err)
	}
	return n, nil
}
