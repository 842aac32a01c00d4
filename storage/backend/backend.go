// Package backend opens the storage backend the configuration names, so
// that callers see only storage.Store.
package backend

import (
	"context"
	"errors"

	"parley/config"
	"parley/storage"
	"parley/storage/sqlite"
)

// Open opens the backend configured in cfg: the SQLite database file
// cfg.SQLite, the only backend so far. It fails if no backend is
// configured.
func Open(ctx context.Context, cfg config.Storage) (storage.Store, error) {
	if cfg.SQLite == "" {
		return nil, errors.New("open storage: no backend configured (storage.sqlite is empty)")
	}
	s, err := sqlite.Open(ctx, cfg.SQLite)
	if err != nil {
		return nil, err // names the file already
	}
	return s, nil
}
