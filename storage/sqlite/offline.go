package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"parley/storage"
)

// PutPendingSubscription records a subscription request to user from
// "from", replacing the stanza of an earlier request from the same JID
// (which keeps its place in the order).
func (s *Store) PutPendingSubscription(ctx context.Context, user, from string, stanza []byte) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO pending_subscriptions (user, from_jid, stanza) VALUES (?, ?, ?)
		 ON CONFLICT (user, from_jid) DO UPDATE SET stanza = excluded.stanza`,
		user, from, nonNil(stanza))
	if err != nil {
		return fmt.Errorf("put pending subscription from %s to %s: %w", from, user, err)
	}
	return nil
}

// PendingSubscriptions returns every pending request to user, oldest first.
func (s *Store) PendingSubscriptions(ctx context.Context, user string) ([]storage.PendingSubscription, error) {
	subs, err := s.pendingSubscriptions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("get pending subscriptions of %s: %w", user, err)
	}
	return subs, nil
}

func (s *Store) pendingSubscriptions(ctx context.Context, user string) ([]storage.PendingSubscription, error) {
	return queryAll(ctx, s.r, func(rows *sql.Rows) (storage.PendingSubscription, error) {
		var p storage.PendingSubscription
		err := rows.Scan(&p.From, &p.Stanza)
		p.Stanza = nonNil(p.Stanza)
		return p, err
	}, `SELECT from_jid, stanza FROM pending_subscriptions WHERE user = ? ORDER BY seq`, user)
}

// DeletePendingSubscription forgets the request to user from "from"; no
// error if there was none.
func (s *Store) DeletePendingSubscription(ctx context.Context, user, from string) error {
	_, err := s.w.ExecContext(ctx,
		`DELETE FROM pending_subscriptions WHERE user = ? AND from_jid = ?`, user, from)
	if err != nil {
		return fmt.Errorf("delete pending subscription from %s to %s: %w", from, user, err)
	}
	return nil
}

// StoreOffline stores one message for user, received at stamp. The
// message is on disk (fsynced) when StoreOffline returns. IDs are never
// reused, even after deletion.
func (s *Store) StoreOffline(ctx context.Context, user string, stanza []byte, stamp time.Time) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO offline_messages (user, stanza, stamp) VALUES (?, ?, ?)`,
		user, nonNil(stanza), formatTime(stamp))
	if err != nil {
		return fmt.Errorf("store offline message for %s: %w", user, err)
	}
	return nil
}

// OfflineMessages returns user's stored messages, oldest (lowest ID) first.
func (s *Store) OfflineMessages(ctx context.Context, user string) ([]storage.OfflineMessage, error) {
	msgs, err := s.offlineMessages(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("get offline messages of %s: %w", user, err)
	}
	return msgs, nil
}

func (s *Store) offlineMessages(ctx context.Context, user string) ([]storage.OfflineMessage, error) {
	return queryAll(ctx, s.r, func(rows *sql.Rows) (storage.OfflineMessage, error) {
		var (
			m     storage.OfflineMessage
			stamp string
			err   error
		)
		if err = rows.Scan(&m.ID, &m.Stanza, &stamp); err != nil {
			return m, err
		}
		m.Stamp, err = parseTime(stamp)
		m.Stanza = nonNil(m.Stanza)
		return m, err
	}, `SELECT id, stanza, stamp FROM offline_messages WHERE user = ? ORDER BY id`, user)
}

// DeleteOffline removes user's messages with ID <= upTo.
func (s *Store) DeleteOffline(ctx context.Context, user string, upTo int64) error {
	_, err := s.w.ExecContext(ctx,
		`DELETE FROM offline_messages WHERE user = ? AND id <= ?`, user, upTo)
	if err != nil {
		return fmt.Errorf("delete offline messages of %s up to %d: %w", user, upTo, err)
	}
	return nil
}

// CountOffline returns how many messages are stored for user.
func (s *Store) CountOffline(ctx context.Context, user string) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM offline_messages WHERE user = ?`, user).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count offline messages of %s: %w", user, err)
	}
	return n, nil
}
