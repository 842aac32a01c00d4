package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"parley/storage"
)

// PubSubNodes returns every node of owner, sorted by name.
func (s *Store) PubSubNodes(ctx context.Context, owner string) ([]storage.PubSubNode, error) {
	nodes, err := queryAll(ctx, s.r, scanPubSubNode,
		`SELECT user, node, config, created FROM pubsub_nodes WHERE user = ? ORDER BY node`, owner)
	if err != nil {
		return nil, fmt.Errorf("list pubsub nodes of %s: %w", owner, err)
	}
	return nodes, nil
}

// PubSubNode returns one node of owner; storage.ErrNotFound if absent.
func (s *Store) PubSubNode(ctx context.Context, owner, node string) (storage.PubSubNode, error) {
	nodes, err := queryAll(ctx, s.r, scanPubSubNode,
		`SELECT user, node, config, created FROM pubsub_nodes WHERE user = ? AND node = ?`, owner, node)
	if err == nil && len(nodes) == 0 {
		err = storage.ErrNotFound
	}
	if err != nil {
		return storage.PubSubNode{}, fmt.Errorf("get pubsub node %q of %s: %w", node, owner, err)
	}
	return nodes[0], nil
}

func scanPubSubNode(rows *sql.Rows) (storage.PubSubNode, error) {
	var (
		n       storage.PubSubNode
		created string
	)
	if err := rows.Scan(&n.Owner, &n.Node, &n.Config, &created); err != nil {
		return n, err
	}
	t, err := parseTime(created)
	n.Created = t
	n.Config = nonNil(n.Config)
	return n, err
}

// CreatePubSubNode creates a node; storage.ErrExists if its owner has a
// node of that name.
func (s *Store) CreatePubSubNode(ctx context.Context, n storage.PubSubNode) error {
	res, err := s.w.ExecContext(ctx,
		`INSERT INTO pubsub_nodes (user, node, config, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		n.Owner, n.Node, nonNil(n.Config), formatTime(n.Created))
	if err == nil {
		err = mustAffect(res, storage.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create pubsub node %q of %s: %w", n.Node, n.Owner, err)
	}
	return nil
}

// SetPubSubNodeConfig replaces a node's configuration;
// storage.ErrNotFound if the node does not exist.
func (s *Store) SetPubSubNodeConfig(ctx context.Context, owner, node string, config []byte) error {
	res, err := s.w.ExecContext(ctx,
		`UPDATE pubsub_nodes SET config = ? WHERE user = ? AND node = ?`, nonNil(config), owner, node)
	if err == nil {
		err = mustAffect(res, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("configure pubsub node %q of %s: %w", node, owner, err)
	}
	return nil
}

// DeletePubSubNode removes a node and its items; storage.ErrNotFound if
// absent.
func (s *Store) DeletePubSubNode(ctx context.Context, owner, node string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM pubsub_nodes WHERE user = ? AND node = ?`, owner, node)
		if err == nil {
			err = mustAffect(res, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM pubsub_items WHERE user = ? AND node = ?`, owner, node)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete pubsub node %q of %s: %w", node, owner, err)
	}
	return nil
}

// PublishPubSubItem stores it in place of any item of the same ID, sets
// it.Seq, and trims the node to the keep most recent items, returning
// the IDs removed by trimming; storage.ErrNotFound if the node does not
// exist.
func (s *Store) PublishPubSubItem(ctx context.Context, it *storage.PubSubItem, keep int) ([]string, error) {
	var removed []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM pubsub_nodes WHERE user = ? AND node = ?`, it.Owner, it.Node).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pubsub_items WHERE user = ? AND node = ? AND item_id = ?`,
			it.Owner, it.Node, it.ID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx,
			`INSERT INTO pubsub_items (user, node, item_id, payload, publisher, stamp) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
			it.Owner, it.Node, it.ID, nonNil(it.Payload), it.Publisher, formatTime(it.Stamp)).Scan(&it.Seq); err != nil {
			return err
		}
		removed, err = trimItems(ctx, tx, it.Owner, it.Node, max(keep, 1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("publish item %q to pubsub node %q of %s: %w", it.ID, it.Node, it.Owner, err)
	}
	return removed, nil
}

// trimItems removes the oldest items of a node beyond the keep most
// recent and returns their IDs, oldest first.
func trimItems(ctx context.Context, tx *sql.Tx, owner, node string, keep int) ([]string, error) {
	ids, err := queryStrings(ctx, tx,
		`SELECT item_id FROM pubsub_items WHERE user = ? AND node = ? ORDER BY seq DESC LIMIT -1 OFFSET ?`,
		owner, node, keep)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
		ids[i], ids[j] = ids[j], ids[i]
	}
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM pubsub_items WHERE user = ? AND node = ? AND seq IN
		 (SELECT seq FROM pubsub_items WHERE user = ? AND node = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)`,
		owner, node, owner, node, keep); err != nil {
		return nil, err
	}
	return ids, nil
}

// PubSubItems returns items of a node, oldest first: those with the given
// IDs, or all when ids is empty; with last > 0 only the last that many.
func (s *Store) PubSubItems(ctx context.Context, owner, node string, ids []string, last int) ([]storage.PubSubItem, error) {
	q := `SELECT user, node, item_id, payload, publisher, stamp, seq FROM pubsub_items WHERE user = ? AND node = ?`
	args := []any{owner, node}
	if len(ids) > 0 {
		q += ` AND item_id IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	q += ` ORDER BY seq DESC`
	if last > 0 {
		q += ` LIMIT ?`
		args = append(args, last)
	}
	items, err := queryAll(ctx, s.r, func(rows *sql.Rows) (storage.PubSubItem, error) {
		var (
			it    storage.PubSubItem
			stamp string
		)
		if err := rows.Scan(&it.Owner, &it.Node, &it.ID, &it.Payload, &it.Publisher, &stamp, &it.Seq); err != nil {
			return it, err
		}
		it.Payload = nonNil(it.Payload)
		t, err := parseTime(stamp)
		it.Stamp = t
		return it, err
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("get items of pubsub node %q of %s: %w", node, owner, err)
	}
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	return items, nil
}

// RetractPubSubItem removes one item; storage.ErrNotFound if absent.
func (s *Store) RetractPubSubItem(ctx context.Context, owner, node, id string) error {
	res, err := s.w.ExecContext(ctx,
		`DELETE FROM pubsub_items WHERE user = ? AND node = ? AND item_id = ?`, owner, node, id)
	if err == nil {
		err = mustAffect(res, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("retract item %q from pubsub node %q of %s: %w", id, node, owner, err)
	}
	return nil
}

// TrimPubSubItems removes the oldest items of a node beyond the keep most
// recent and returns their IDs, oldest first.
func (s *Store) TrimPubSubItems(ctx context.Context, owner, node string, keep int) ([]string, error) {
	var removed []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		removed, err = trimItems(ctx, tx, owner, node, max(keep, 0))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("trim pubsub node %q of %s: %w", node, owner, err)
	}
	return removed, nil
}

// mustAffect returns none if res changed no row.
func mustAffect(res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
