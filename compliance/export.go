package compliance

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the full-text index

	"parley/audit"
	"parley/journal"
)

// Filter selects archived messages; zero fields select all.
type Filter struct {
	User   string // a bare JID: messages from, to or written by it
	Room   string // a room's bare JID: its messages and private messages through it
	Domain string // messages from, to or written by an address of the domain
	Since  time.Time
	Until  time.Time // exclusive
	Text   string    // words that must all be in the body
}

// matches reports whether e passes the filter's fields but Text.
func (f *Filter) matches(e *Entry) bool {
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	from, to, sender, recipient := bareOf(e.From), bareOf(e.To), bareOf(e.Sender), bareOf(e.Recipient)
	if f.User != "" && !strings.EqualFold(from, f.User) && !strings.EqualFold(to, f.User) && !strings.EqualFold(sender, f.User) && !strings.EqualFold(recipient, f.User) {
		return false
	}
	if f.Room != "" && !strings.EqualFold(from, f.Room) && !strings.EqualFold(to, f.Room) {
		return false
	}
	if f.Domain != "" && !strings.EqualFold(domainOf(from), f.Domain) && !strings.EqualFold(domainOf(to), f.Domain) &&
		!strings.EqualFold(domainOf(sender), f.Domain) && !strings.EqualFold(domainOf(recipient), f.Domain) {
		return false
	}
	return true
}

// Export calls fn with each archived message that f selects, in order. A
// record that cannot be read stops it with an error naming the record.
func Export(dir string, f Filter, fn func(Entry) error) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no compliance archive at %s: %w", dir, err)
	}
	// After a crash, the last records may be in the ring still. (A
	// journal that cannot be opened is reported by the reading below,
	// naming the record.)
	journal.Recover(dir)
	var words map[uint64]bool
	if strings.TrimSpace(f.Text) != "" {
		var err error
		if words, err = searchText(dir, f.Text); err != nil {
			return err
		}
	}
	return journal.Scan(dir, func(r journal.Record) error {
		if words != nil && !words[r.Seq] {
			return nil
		}
		e, err := decode(r)
		if err != nil {
			return fmt.Errorf("compliance archive %s: %w", dir, err)
		}
		if !f.matches(&e) {
			return nil
		}
		return fn(e)
	})
}

// indexFile names the full-text index in the archive's directory.
const indexFile = "index.db"

// searchText brings the full-text index (SQLite FTS4) up to date with
// the archive and returns the records whose bodies hold every word of
// text. The index is kept off the path of messages: it is updated when a
// search needs it.
func searchText(dir, text string) (map[uint64]bool, error) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, indexFile)+"?_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		return nil, fmt.Errorf("full-text index: %w", err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE VIRTUAL TABLE IF NOT EXISTS bodies USING fts4(content="", body, tokenize=unicode61)`,
		`CREATE TABLE IF NOT EXISTS indexed (upto INTEGER NOT NULL, hash TEXT NOT NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			return nil, fmt.Errorf("full-text index: %w", err)
		}
	}
	if err := updateIndex(db, dir); err != nil {
		return nil, err
	}
	var terms []string
	for _, w := range strings.Fields(text) {
		w = strings.ReplaceAll(w, `"`, "")
		if w != "" {
			terms = append(terms, `"`+w+`"`)
		}
	}
	if len(terms) == 0 {
		return map[uint64]bool{}, nil
	}
	rows, err := db.Query(`SELECT docid FROM bodies WHERE bodies MATCH ?`, strings.Join(terms, " "))
	if err != nil {
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	defer rows.Close()
	found := map[uint64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("full-text search: %w", err)
		}
		found[uint64(id)] = true
	}
	return found, rows.Err()
}

// dropIndex removes the full-text index of the archive in dir.
func dropIndex(dir string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, indexFile+suffix))
	}
}

// updateIndex indexes the bodies of the records after the last one
// indexed; an index of another chain than the archive's is rebuilt.
func updateIndex(db *sql.DB, dir string) error {
	var upto int64
	var hash string
	err := db.QueryRow(`SELECT upto, hash FROM indexed`).Scan(&upto, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		upto, hash = 0, ""
	} else if err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	err = indexAfter(db, dir, uint64(upto), hash)
	if errors.Is(err, errStaleIndex) {
		if _, err := db.Exec(`DELETE FROM bodies`); err != nil {
			return fmt.Errorf("full-text index: %w", err)
		}
		err = indexAfter(db, dir, 0, "")
	}
	return err
}

// errStaleIndex reports an index made of another chain than the archive's.
var errStaleIndex = errors.New("the full-text index is of another archive")

// indexAfter indexes, in one pass over the archive, the bodies of the
// records after upto, whose hash was hash when it was indexed last.
func indexAfter(db *sql.DB, dir string, upto uint64, hash string) error {
	tx, err := db.Begin()
	if err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(`INSERT INTO bodies(docid, body) VALUES(?, ?)`)
	if err != nil {
		return fmt.Errorf("full-text index: %w", err)
	}
	last, lastHash := upto, hash
	err = journal.Scan(dir, func(r journal.Record) error {
		if r.Seq == upto && r.Hash.String() != hash {
			return errStaleIndex
		}
		if r.Seq <= upto {
			return nil
		}
		e, err := decode(r)
		if err != nil {
			return fmt.Errorf("compliance archive %s: %w", dir, err)
		}
		if body := e.Body(); body != "" {
			if _, err := ins.Exec(int64(r.Seq), body); err != nil {
				return fmt.Errorf("full-text index: %w", err)
			}
		}
		last, lastHash = r.Seq, r.Hash.String()
		return nil
	})
	if err != nil {
		return err
	}
	if last != upto {
		if _, err := tx.Exec(`DELETE FROM indexed`); err != nil {
			return fmt.Errorf("full-text index: %w", err)
		}
		if _, err := tx.Exec(`INSERT INTO indexed(upto, hash) VALUES(?, ?)`, int64(last), lastHash); err != nil {
			return fmt.Errorf("full-text index: %w", err)
		}
	}
	return tx.Commit()
}

// Body returns the text of the message's body, or "".
func (e Entry) Body() string {
	el, err := e.Message()
	if err != nil {
		return ""
	}
	return el.ChildText("", "body")
}

// Verify checks the archive in dir: its chain (journal.Verify) and every
// checkpoint of it noted in the audit log in auditDir.
func Verify(dir, auditDir string) (journal.Summary, error) {
	if _, err := os.Stat(dir); err != nil {
		return journal.Summary{}, fmt.Errorf("no compliance archive at %s: %w", dir, err)
	}
	// After a crash, the last records may be in the ring still. (A
	// journal that cannot be opened is reported by the reading below,
	// naming the record.)
	journal.Recover(dir)
	var anchors []journal.Anchor
	err := audit.Read(auditDir, time.Time{}, func(e audit.Entry) error {
		if e.Action != audit.ArchiveCheckpoint {
			return nil
		}
		if a, ok := parseAnchor(e.Detail); ok {
			anchors = append(anchors, a)
		}
		return nil
	})
	if err != nil {
		return journal.Summary{}, fmt.Errorf("reading the checkpoints in the audit log: %w", err)
	}
	return journal.Verify(dir, anchors)
}

// decodeHash reads a hash written in hexadecimal.
func decodeHash(s string) (journal.Hash, bool) {
	var h journal.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}
