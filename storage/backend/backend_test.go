package backend

import (
	"os"
	"path/filepath"
	"testing"

	"parley/config"
	"parley/storage/sqlite"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		cfg     config.Storage
		wantErr bool
		file    string // the database file Open must have created
	}{
		{name: "sqlite", cfg: config.Storage{SQLite: filepath.Join(dir, "data", "parley.db")}, file: filepath.Join(dir, "data", "parley.db")},
		{name: "none", cfg: config.Storage{}, wantErr: true},
		{name: "sqlite path is a directory", cfg: config.Storage{SQLite: dir}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.cfg)
			if tc.wantErr {
				if err == nil {
					s.Close()
					t.Fatal("no error")
				}
				if s != nil {
					t.Errorf("store %v returned with error %v", s, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, ok := s.(*sqlite.Store); !ok {
				t.Errorf("Open returned a %T, want *sqlite.Store", s)
			}
			if err := s.CreateAccount(t.Context(), "a@example.org", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tc.file); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
}
