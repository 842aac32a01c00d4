package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/storage"
)

// oldHistoryRow is a muc_history row of a schema version 2 database.
type oldHistoryRow struct {
	id             int64
	room, stanzaID string
	from           string // "" for a stanza without from
}

// createOld creates a database at path as the schema version left it
// (2 or 3, the versions with muc_history), with the rooms r1 and r2 and
// rows in muc_history.
func createOld(t *testing.T, path string, version int, rows []oldHistoryRow) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	must(t, err)
	defer raw.Close()
	for _, m := range migrations()[:version] {
		_, err := raw.Exec(m.sql)
		must(t, err)
	}
	_, err = raw.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, version))
	must(t, err)
	for _, room := range []string{"r1@muc.example.org", "r2@muc.example.org"} {
		_, err := raw.Exec(`INSERT INTO muc_rooms (jid, service, config, subject, subject_by, created) VALUES (?, 'muc.example.org', '{}', '', '', ?)`,
			room, formatTime(time.Now()))
		must(t, err)
	}
	for _, r := range rows {
		_, err := raw.Exec(`INSERT INTO muc_history (id, room, stanza_id, stanza, stamp) VALUES (?, ?, ?, ?, ?)`,
			r.id, r.room, r.stanzaID, oldStanza(r), formatTime(oldStamp(r)))
		must(t, err)
	}
}

func oldStanza(r oldHistoryRow) []byte {
	if r.from == "" {
		return fmt.Appendf(nil, "<message type='groupchat'><body>%d</body></message>", r.id)
	}
	return fmt.Appendf(nil, "<message from='%s' type='groupchat'><body>%d</body></message>", r.from, r.id)
}

func oldStamp(r oldHistoryRow) time.Time {
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.id) * time.Second)
}

func tableExists(t *testing.T, s *Store, name string) bool {
	t.Helper()
	var n int
	must(t, s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n))
	return n == 1
}

func TestMigrateMUCHistoryToArchive(t *testing.T) {
	const r1, r2 = "r1@muc.example.org", "r2@muc.example.org"
	rows := []oldHistoryRow{
		{2, r1, "s1", r1 + "/ann"},
		{3, r2, "s1", r2 + "/ann"}, // the same stanza ID in another room
		{5, r1, "s2", r1 + "/bo b"},
		{8, r2, "s2", r2 + "/cy"},
		{9, r1, "s2", r1 + "/ann"}, // a stanza ID taken in its room
		{10, r1, "", r1 + "/ann"},  // no stanza ID
		{12, r1, "s3", ""},         // no from
	}
	path := filepath.Join(t.TempDir(), "parley.db")
	createOld(t, path, 2, rows)
	s := openAt(t, path)
	ctx := t.Context()

	if tableExists(t, s, "muc_history") {
		t.Error("muc_history is still there")
	}
	wantIDs := map[int64]string{2: "s1", 3: "s1", 5: "s2", 8: "s2", 9: "s2-9", 10: "-10", 12: "s3"}
	for _, room := range []string{r1, r2} {
		var want []storage.ArchivedMessage
		for _, r := range rows {
			if r.room == room {
				want = append(want, storage.ArchivedMessage{Archive: room, ID: wantIDs[r.id], With: r.from, Stanza: oldStanza(r), Stamp: oldStamp(r), Seq: r.id})
			}
		}
		page, complete, err := s.QueryArchive(ctx, room, storage.ArchiveQuery{Max: 100})
		must(t, err)
		if !complete || len(page) != len(want) {
			t.Fatalf("archive of %s: %d messages, complete %v; want %d", room, len(page), complete, len(want))
		}
		for i, m := range page {
			w := want[i]
			if m.ID != w.ID || m.With != w.With || m.Seq != w.Seq || string(m.Stanza) != string(w.Stanza) || !m.Stamp.Equal(w.Stamp) {
				t.Errorf("archive of %s, message %d = %+v\nwant %+v", room, i, m, w)
			}
		}
		// The history keeps its IDs, so nothing moves for the muc package.
		hist, err := s.MUCHistory(ctx, room, 100)
		must(t, err)
		if len(hist) != len(want) {
			t.Fatalf("history of %s: %d messages, want %d", room, len(hist), len(want))
		}
		for i, m := range hist {
			if m.ID != want[i].Seq || m.StanzaID != want[i].ID {
				t.Errorf("history of %s, message %d = %+v", room, i, m)
			}
		}
	}
	ann, _, err := s.QueryArchive(ctx, r1, storage.ArchiveQuery{Max: 100, With: r1 + "/ann"})
	must(t, err)
	if len(ann) != 3 {
		t.Errorf("r1 has %d messages from ann, want 3", len(ann))
	}
	// New messages come after the moved ones.
	must(t, s.AppendMUCHistory(ctx, []storage.MUCMessage{{Room: r1, StanzaID: "new", Stanza: []byte("<message/>"), Stamp: time.Now()}}))
	hist, err := s.MUCHistory(ctx, r1, 1)
	must(t, err)
	if len(hist) != 1 || hist[0].StanzaID != "new" || hist[0].ID <= 12 {
		t.Errorf("newest history message = %+v, want new with an ID above 12", hist)
	}
}

// TestMigrateMUCHistoryFailure checks that a migration that cannot move
// every message moves none.
func TestMigrateMUCHistoryFailure(t *testing.T) {
	const r1 = "r1@muc.example.org"
	path := filepath.Join(t.TempDir(), "parley.db")
	// Message 4 can take neither its stanza ID nor "x-4".
	createOld(t, path, 2, []oldHistoryRow{{2, r1, "x-4", r1 + "/a"}, {3, r1, "x", r1 + "/a"}, {4, r1, "x", r1 + "/a"}})
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), `"x" is taken`) {
		t.Errorf("error %q does not name the taken stanza ID", err)
	}
	raw, err := sql.Open("sqlite3", path)
	must(t, err)
	defer raw.Close()
	var v, n, archived int
	must(t, raw.QueryRow(`PRAGMA user_version`).Scan(&v))
	must(t, raw.QueryRow(`SELECT COUNT(*) FROM muc_history`).Scan(&n))
	must(t, raw.QueryRow(`SELECT COUNT(*) FROM archive_messages`).Scan(&archived))
	if v != 3 || n != 3 || archived != 0 {
		t.Errorf("after the failed migration: schema version %d, %d messages in muc_history, %d archived; want 3, 3, 0", v, n, archived)
	}
}

// TestMigrateMUCHistoryAfterArchived moves the history into an archive
// table that holds messages already: the moved ones follow them, in
// order.
func TestMigrateMUCHistoryAfterArchived(t *testing.T) {
	const r1 = "r1@muc.example.org"
	path := filepath.Join(t.TempDir(), "parley.db")
	rows := []oldHistoryRow{{1, r1, "a", r1 + "/ann"}, {2, r1, "b", r1 + "/bob"}, {5, r1, "c", r1 + "/ann"}}
	createOld(t, path, 3, rows)
	raw, err := sql.Open("sqlite3", path)
	must(t, err)
	for i := range 3 {
		_, err = raw.Exec(`INSERT INTO archive_messages (archive, id, with_bare, with_resource, stanza, stamp, stamp_high)
			VALUES ('alice@example.org', ?, 'bob@example.org', '', '<message/>', ?, ?)`, fmt.Sprint(i), formatTime(time.Now()), formatTime(time.Now()))
		must(t, err)
	}
	must(t, raw.Close())

	s := openAt(t, path)
	hist, err := s.MUCHistory(t.Context(), r1, 10)
	must(t, err)
	if len(hist) != len(rows) {
		t.Fatalf("history: %d messages, want %d", len(hist), len(rows))
	}
	for i, m := range hist {
		if m.StanzaID != rows[i].stanzaID || m.ID <= 3 || i > 0 && m.ID <= hist[i-1].ID {
			t.Errorf("message %d = %+v; want %s, after seq 3 and increasing", i, m, rows[i].stanzaID)
		}
	}
	if n, err := s.CountArchive(t.Context(), "alice@example.org", storage.ArchiveQuery{}); err != nil || n != 3 {
		t.Errorf("alice's archive: %d messages, %v; want 3", n, err)
	}
}
