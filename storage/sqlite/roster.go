package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"parley/storage"
)

const rosterColumns = `contact, name, subscription, ask, pending_in, pre_approved`

func scanRosterItem(sc interface{ Scan(...any) error }) (storage.RosterItem, error) {
	var it storage.RosterItem
	err := sc.Scan(&it.JID, &it.Name, &it.Subscription, &it.Ask, &it.PendingIn, &it.PreApproved)
	return it, err
}

// Roster returns every item of user's roster, sorted by JID, and the
// current version (0 when the roster was never written), read from one
// consistent snapshot.
func (s *Store) Roster(ctx context.Context, user string) ([]storage.RosterItem, int64, error) {
	var (
		items []storage.RosterItem
		ver   int64
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if ver, err = rosterVersion(ctx, tx, user); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx,
			`SELECT `+rosterColumns+` FROM roster_items WHERE user = ? ORDER BY contact`, user)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := make(map[string]int)
		for rows.Next() {
			it, err := scanRosterItem(rows)
			if err != nil {
				return err
			}
			index[it.JID] = len(items)
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()

		grows, err := tx.QueryContext(ctx,
			`SELECT contact, name FROM roster_groups WHERE user = ? ORDER BY contact, name`, user)
		if err != nil {
			return err
		}
		defer grows.Close()
		for grows.Next() {
			var contact, name string
			if err := grows.Scan(&contact, &name); err != nil {
				return err
			}
			if i, ok := index[contact]; ok {
				items[i].Groups = append(items[i].Groups, name)
			}
		}
		return grows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("get roster of %s: %w", user, err)
	}
	return items, ver, nil
}

// RosterItem returns user's item for contact; storage.ErrNotFound if absent.
func (s *Store) RosterItem(ctx context.Context, user, contact string) (storage.RosterItem, error) {
	var it storage.RosterItem
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		it, err = scanRosterItem(tx.QueryRowContext(ctx,
			`SELECT `+rosterColumns+` FROM roster_items WHERE user = ? AND contact = ?`, user, contact))
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		it.Groups, err = rosterGroups(ctx, tx, user, contact)
		return err
	})
	if err != nil {
		return storage.RosterItem{}, fmt.Errorf("get roster item %s of %s: %w", contact, user, err)
	}
	return it, nil
}

func rosterGroups(ctx context.Context, tx *sql.Tx, user, contact string) ([]string, error) {
	return queryStrings(ctx, tx, `SELECT name FROM roster_groups WHERE user = ? AND contact = ? ORDER BY name`, user, contact)
}

// querier is what both *sql.DB and *sql.Tx offer for reads.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryStrings returns the single string column of every row of query.
func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	return queryAll(ctx, q, func(rows *sql.Rows) (string, error) {
		var v string
		err := rows.Scan(&v)
		return v, err
	}, query, args...)
}

// queryAll runs query and turns every row into a T with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PutRosterItem creates or replaces user's item for item.JID and returns
// the new roster version. An empty Subscription is stored as "none";
// duplicate group names are stored once.
func (s *Store) PutRosterItem(ctx context.Context, user string, item storage.RosterItem) (int64, error) {
	if item.Subscription == "" {
		item.Subscription = "none"
	}
	var ver int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		switch item.Subscription {
		case "none", "to", "from", "both":
		default:
			return fmt.Errorf("invalid subscription %q", item.Subscription)
		}
		if item.JID == "" {
			return errors.New("empty contact JID")
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO roster_items (user, `+rosterColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (user, contact) DO UPDATE SET
			 	name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
			 	pending_in = excluded.pending_in, pre_approved = excluded.pre_approved`,
			user, item.JID, item.Name, item.Subscription, item.Ask, item.PendingIn, item.PreApproved)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM roster_groups WHERE user = ? AND contact = ?`, user, item.JID); err != nil {
			return err
		}
		for _, g := range item.Groups {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO roster_groups (user, contact, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				user, item.JID, g); err != nil {
				return err
			}
		}
		ver, err = bumpRosterVersion(ctx, tx, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("put roster item %s of %s: %w", item.JID, user, err)
	}
	return ver, nil
}

// DeleteRosterItem removes user's item for contact and returns the new
// roster version; storage.ErrNotFound (and the version is unchanged) if
// absent.
func (s *Store) DeleteRosterItem(ctx context.Context, user, contact string) (int64, error) {
	var ver int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		// roster_groups rows go by ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx,
			`DELETE FROM roster_items WHERE user = ? AND contact = ?`, user, contact)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		ver, err = bumpRosterVersion(ctx, tx, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete roster item %s of %s: %w", contact, user, err)
	}
	return ver, nil
}

// RosterVersion returns user's current roster version (0 when the roster
// was never written).
func (s *Store) RosterVersion(ctx context.Context, user string) (int64, error) {
	ver, err := rosterVersion(ctx, s.r, user)
	if err != nil {
		return 0, fmt.Errorf("get roster version of %s: %w", user, err)
	}
	return ver, nil
}

func rosterVersion(ctx context.Context, q queryer, user string) (int64, error) {
	var ver int64
	err := q.QueryRowContext(ctx,
		`SELECT COALESCE((SELECT version FROM roster_versions WHERE user = ?), 0)`, user).Scan(&ver)
	return ver, err
}

func bumpRosterVersion(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	var ver int64
	err := tx.QueryRowContext(ctx,
		`INSERT INTO roster_versions (user, version) VALUES (?, 1)
		 ON CONFLICT (user) DO UPDATE SET version = version + 1
		 RETURNING version`, user).Scan(&ver)
	if err != nil {
		return 0, fmt.Errorf("bump roster version: %w", err)
	}
	return ver, nil
}
