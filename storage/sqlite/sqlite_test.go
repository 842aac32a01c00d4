package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/storage"
	"parley/storage/storagetest"
)

func dbPath(t testing.TB) string {
	// A nested path checks that Open creates missing parent directories.
	return filepath.Join(t.TempDir(), "data", "db", "parley.db")
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB) *Store { return openAt(t, dbPath(t)) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenSettings(t *testing.T) {
	path := dbPath(t)
	s := openAt(t, path)
	ctx := context.Background()

	fi, err := os.Stat(filepath.Dir(path))
	must(t, err)
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode = %o, want 700", perm)
	}
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"user_version", fmt.Sprint(len(migrations()))},
	} {
		var got string
		must(t, s.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got))
		if got != tc.want {
			t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
		}
	}
	var fk string
	must(t, s.r.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	if fk != "1" {
		t.Errorf("reader foreign_keys = %q, want 1", fk)
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM accounts`); err == nil {
		t.Error("write through the read-only pool succeeded")
	}
}

// opener opens a new database for each test of the conformance suite.
func opener(tb testing.TB) (storage.Store, func() storage.Store) {
	tb.Helper()
	path := dbPath(tb)
	cur := openAt(tb, path)
	reopen := func() storage.Store {
		tb.Helper()
		must(tb, cur.Close())
		cur = openAt(tb, path)
		return cur
	}
	return cur, reopen
}

func TestConformance(t *testing.T) { storagetest.Run(t, opener) }

// ownedTables returns every table whose rows belong to a user, with the
// column naming the user: user, or archive for archived messages (a
// room's archive is not a user's, but it has no user column). Group-chat
// affiliations are a room's, not the user's: a ban outlives the banned
// account.
func ownedTables(t testing.TB, s *Store) map[string]string {
	t.Helper()
	type owned struct{ table, column string }
	rows, err := queryAll(t.Context(), s.r, func(rows *sql.Rows) (owned, error) {
		var o owned
		err := rows.Scan(&o.table, &o.column)
		return o, err
	}, `SELECT m.name, c.name FROM sqlite_schema AS m, pragma_table_info(m.name) AS c
		 WHERE m.type = 'table' AND (c.name = 'user' OR c.name = 'archive') AND m.name != 'muc_affiliations'`)
	must(t, err)
	tables := make(map[string]string)
	for _, o := range rows {
		tables[o.table] = o.column
	}
	return tables
}

// TestDeleteAccountLeavesNoRows checks that no table keeps a row of a
// deleted account, including rows no interface method reads back.
func TestDeleteAccountLeavesNoRows(t *testing.T) {
	s := newStore(t)
	const alice, bob = "alice@example.org", "bob@example.org"
	storagetest.Populate(t, s, alice)
	storagetest.Populate(t, s, bob)
	tables := ownedTables(t, s)
	if len(tables) < 10 {
		t.Fatalf("found only the tables %q", tables)
	}
	count := func(table, column, user string) int {
		var n int
		must(t, s.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table+` WHERE `+column+` = ?`, user).Scan(&n))
		return n
	}
	for table, column := range tables {
		if count(table, column, alice) == 0 {
			t.Fatalf("Populate left %s empty", table)
		}
	}
	must(t, s.DeleteAccount(t.Context(), alice))
	for table, column := range tables {
		if n := count(table, column, alice); n != 0 {
			t.Errorf("after DeleteAccount, %s has %d rows of alice", table, n)
		}
		if count(table, column, bob) == 0 {
			t.Errorf("DeleteAccount(alice) emptied bob's %s", table)
		}
	}
}

func TestReopenKeepsSchema(t *testing.T) {
	path := dbPath(t)
	for i := range 3 { // reopening an up-to-date database is a no-op
		s, err := Open(t.Context(), path)
		must(t, err)
		var v int
		must(t, s.w.QueryRow("PRAGMA user_version").Scan(&v))
		if v != len(migrations()) {
			t.Errorf("open %d: user_version = %d, want %d", i, v, len(migrations()))
		}
		must(t, s.Close())
	}
}

func TestNewerSchemaVersion(t *testing.T) {
	path := dbPath(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	must(t, err)
	must(t, s.Close())

	raw, err := sql.Open("sqlite3", path)
	must(t, err)
	_, err = raw.Exec("PRAGMA user_version = 99")
	must(t, err)
	must(t, raw.Close())

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	t.Logf("Open: %v", err)
	for _, want := range []string{"99", fmt.Sprint(len(migrations()))} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name version %s", err, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const workers, each = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*5)
	for w := range workers {
		wg.Go(func() {
			user := fmt.Sprintf("u%d@example.org", w)
			for i := range each {
				if err := s.StoreOffline(ctx, user, []byte("<m/>"), time.Now()); err != nil {
					errs <- err
				}
				if _, err := s.PutRosterItem(ctx, "shared@example.org", storage.RosterItem{JID: fmt.Sprintf("c%d-%d@x", w, i)}); err != nil {
					errs <- err
				}
				if _, _, err := s.Roster(ctx, "shared@example.org"); err != nil {
					errs <- err
				}
				m := storage.ArchivedMessage{Archive: "shared@example.org", ID: fmt.Sprintf("%d-%d", w, i), With: user, Stamp: time.Now()}
				if err := s.AppendArchive(ctx, []storage.ArchivedMessage{m}); err != nil {
					errs <- err
				}
				if _, _, err := s.QueryArchive(ctx, "shared@example.org", storage.ArchiveQuery{Max: 5, Last: true}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	items, ver, err := s.Roster(ctx, "shared@example.org")
	must(t, err)
	if len(items) != workers*each || ver != workers*each {
		t.Errorf("shared roster: %d items, version %d; want %d, %d", len(items), ver, workers*each, workers*each)
	}
	// Each worker's archived messages are in its order.
	for w := range workers {
		page, _, err := s.QueryArchive(ctx, "shared@example.org", storage.ArchiveQuery{Max: 2 * each, With: fmt.Sprintf("u%d@example.org", w)})
		must(t, err)
		if len(page) != each {
			t.Fatalf("worker %d: %d archived messages, want %d", w, len(page), each)
		}
		for i, m := range page {
			if m.ID != fmt.Sprintf("%d-%d", w, i) {
				t.Errorf("worker %d: archived message %d is %s", w, i, m.ID)
			}
		}
	}
}

const (
	helperEnv   = "PARLEY_SQLITE_HELPER_DB"
	helperReady = "STORED "
)

// TestHelperProcess is not a real test: TestWritesSurviveKill runs the
// test binary again with helperEnv set, and this stores messages, offline
// and archived, reports them, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestWritesSurviveKill")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := range 3 {
		err := s.StoreOffline(context.Background(), "alice@example.org", fmt.Appendf(nil, "<message id='%d'/>", i), time.Now())
		if err == nil {
			err = s.AppendArchive(context.Background(), []storage.ArchivedMessage{
				{Archive: "alice@example.org", ID: fmt.Sprint(i), With: "bob@example.org/x", Stanza: fmt.Appendf(nil, "<message id='%d'/>", i), Stamp: time.Now()},
			})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("%s%d\n", helperReady, i)
	}
	time.Sleep(time.Minute) // killed long before this
	os.Exit(4)
}

func TestWritesSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := dbPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())

	want := helperReady + "2"
	sc := bufio.NewScanner(out)
	found := false
	for sc.Scan() {
		if sc.Text() == want {
			found = true
			break
		}
	}
	// SIGKILL right after the last append returned: nothing gets to
	// run Close, checkpoint the WAL or flush anything.
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	if !found {
		t.Fatalf("helper never printed %q; stderr:\n%s", want, stderr.String())
	}
	if cmd.ProcessState.Exited() {
		t.Fatalf("helper exited normally (%v), want killed", cmd.ProcessState)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no WAL file left behind: %v", err)
	}

	s := openAt(t, path)
	msgs, err := s.OfflineMessages(context.Background(), "alice@example.org")
	must(t, err)
	if len(msgs) != 3 {
		t.Fatalf("after kill -9: %d messages, want 3", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("<message id='%d'/>", i); string(m.Stanza) != want {
			t.Errorf("message %d = %s, want %s", i, m.Stanza, want)
		}
	}
	archived, _, err := s.QueryArchive(context.Background(), "alice@example.org", storage.ArchiveQuery{Max: 10})
	must(t, err)
	if len(archived) != 3 {
		t.Fatalf("after kill -9: %d archived messages, want 3", len(archived))
	}
	for i, m := range archived {
		if want := fmt.Sprintf("<message id='%d'/>", i); m.ID != fmt.Sprint(i) || string(m.Stanza) != want {
			t.Errorf("archived message %d = %s %s, want %d %s", i, m.ID, m.Stanza, i, want)
		}
	}
}

func BenchmarkStoreOffline(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	stanza := []byte("<message to='alice@example.org' from='bob@example.org/phone' type='chat'><body>hello</body></message>")
	for b.Loop() {
		if err := s.StoreOffline(ctx, "alice@example.org", stanza, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoster100(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	for i := range 100 {
		_, err := s.PutRosterItem(ctx, "alice@example.org", storage.RosterItem{
			JID: fmt.Sprintf("contact%03d@example.org", i), Name: fmt.Sprint("Contact ", i),
			Subscription: "both", Groups: []string{"Friends", fmt.Sprint("G", i%5)},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		items, _, err := s.Roster(ctx, "alice@example.org")
		if err != nil || len(items) != 100 {
			b.Fatal(len(items), err)
		}
	}
}

func BenchmarkPutRosterItem(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		_, err := s.PutRosterItem(ctx, "alice@example.org", storage.RosterItem{
			JID: fmt.Sprintf("contact%d@example.org", i%100), Subscription: "both", Groups: []string{"Friends"},
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestDatabaseFileIsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "parley.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateAccount(context.Background(), "a@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %o, want no group/other access", filepath.Base(p), perm)
		}
	}
}

func BenchmarkArchive(b *testing.B) { storagetest.RunBenchmarks(b, opener) }
