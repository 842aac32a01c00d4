package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/storage"
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

func creds(tag string) []storage.Credential {
	return []storage.Credential{
		{Hash: "SHA-1", Salt: []byte("salt1" + tag), Iterations: 4096, StoredKey: []byte("sk1" + tag), ServerKey: []byte("srv1" + tag)},
		{Hash: "SHA-256", Salt: []byte("salt256" + tag), Iterations: 8192, StoredKey: []byte("sk256" + tag), ServerKey: []byte("srv256" + tag)},
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

func TestAccounts(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()

	for _, u := range []string{"carol@example.org", "alice@example.org", "bob@example.org", "dave@other.net"} {
		must(t, s.CreateAccount(ctx, u, creds(u)))
	}
	if err := s.CreateAccount(ctx, "alice@example.org", nil); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CreateAccount(existing) = %v, want ErrExists", err)
	}
	// A failing CreateAccount leaves nothing behind.
	dup := append(creds("x"), creds("y")[0])
	if err := s.CreateAccount(ctx, "erin@example.org", dup); err == nil {
		t.Error("CreateAccount with duplicate hash succeeded")
	}

	for _, tc := range []struct {
		user string
		want bool
	}{
		{"alice@example.org", true},
		{"dave@other.net", true},
		{"erin@example.org", false},
		{"nobody@example.org", false},
	} {
		got, err := s.AccountExists(ctx, tc.user)
		must(t, err)
		if got != tc.want {
			t.Errorf("AccountExists(%s) = %v, want %v", tc.user, got, tc.want)
		}
	}

	for _, tc := range []struct {
		domain string
		want   []string
	}{
		{"example.org", []string{"alice@example.org", "bob@example.org", "carol@example.org"}},
		{"other.net", []string{"dave@other.net"}},
		{"nowhere.test", nil},
		{"org", nil},
	} {
		got, err := s.ListAccounts(ctx, tc.domain)
		must(t, err)
		if len(got) != 0 || len(tc.want) != 0 {
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ListAccounts(%s) = %q, want %q", tc.domain, got, tc.want)
			}
		}
	}

	for _, c := range creds("alice@example.org") {
		got, err := s.Credential(ctx, "alice@example.org", c.Hash)
		must(t, err)
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Credential(alice, %s) = %+v, want %+v", c.Hash, got, c)
		}
	}

	newCreds := []storage.Credential{{Hash: "SHA-256", Salt: []byte("n"), Iterations: 10000, StoredKey: []byte("a"), ServerKey: []byte("b")}}
	must(t, s.SetCredentials(ctx, "alice@example.org", newCreds))
	got, err := s.Credential(ctx, "alice@example.org", "SHA-256")
	must(t, err)
	if !reflect.DeepEqual(got, newCreds[0]) {
		t.Errorf("after SetCredentials: %+v, want %+v", got, newCreds[0])
	}

	for name, err := range map[string]error{
		"Credential(replaced hash)":  second(s.Credential(ctx, "alice@example.org", "SHA-1")),
		"Credential(no account)":     second(s.Credential(ctx, "nobody@example.org", "SHA-1")),
		"Credential(unknown hash)":   second(s.Credential(ctx, "bob@example.org", "MD5")),
		"SetCredentials(no account)": s.SetCredentials(ctx, "nobody@example.org", newCreds),
		"DeleteAccount(no account)":  s.DeleteAccount(ctx, "nobody@example.org"),
	} {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestRoster(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const u = "alice@example.org"

	items, ver, err := s.Roster(ctx, u)
	must(t, err)
	if len(items) != 0 || ver != 0 {
		t.Fatalf("empty Roster = %v, %d; want none, 0", items, ver)
	}

	steps := []struct {
		name    string
		put     *storage.RosterItem
		del     string
		wantErr error
		wantVer int64
	}{
		{name: "add bob", wantVer: 1, put: &storage.RosterItem{
			JID: "bob@example.org", Name: "Bob", Subscription: "both",
			Groups: []string{"Work", "Friends", "Work"}}},
		{name: "add carol", wantVer: 2, put: &storage.RosterItem{
			JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true, PreApproved: true}},
		{name: "replace bob", wantVer: 3, put: &storage.RosterItem{
			JID: "bob@example.org", Name: "Robert", Subscription: "to", Groups: []string{"Family"}}},
		{name: "add dave with empty subscription", wantVer: 4, put: &storage.RosterItem{JID: "dave@other.net"}},
		{name: "invalid subscription", wantVer: 4, put: &storage.RosterItem{JID: "erin@example.org", Subscription: "maybe"}, wantErr: errAny},
		{name: "empty JID", wantVer: 4, put: &storage.RosterItem{Subscription: "none"}, wantErr: errAny},
		{name: "delete dave", wantVer: 5, del: "dave@other.net"},
		{name: "delete dave again", wantVer: 5, del: "dave@other.net", wantErr: storage.ErrNotFound},
	}
	for _, st := range steps {
		var (
			v   int64
			err error
		)
		if st.put != nil {
			v, err = s.PutRosterItem(ctx, u, *st.put)
		} else {
			v, err = s.DeleteRosterItem(ctx, u, st.del)
		}
		switch {
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantErr == errAny && err == nil:
			t.Fatalf("%s: no error", st.name)
		case st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
			t.Fatalf("%s: error %v, want %v", st.name, err, st.wantErr)
		case err == nil && v != st.wantVer:
			t.Fatalf("%s: version %d, want %d", st.name, v, st.wantVer)
		}
		cur, err := s.RosterVersion(ctx, u)
		must(t, err)
		if cur != st.wantVer {
			t.Fatalf("%s: RosterVersion = %d, want %d", st.name, cur, st.wantVer)
		}
	}

	want := []storage.RosterItem{
		{JID: "bob@example.org", Name: "Robert", Subscription: "to", Groups: []string{"Family"}},
		{JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true, PreApproved: true},
	}
	items, ver, err = s.Roster(ctx, u)
	must(t, err)
	if ver != 5 || !reflect.DeepEqual(items, want) {
		t.Errorf("Roster = %+v, %d; want %+v, 5", items, ver, want)
	}
	for _, w := range want {
		got, err := s.RosterItem(ctx, u, w.JID)
		must(t, err)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("RosterItem(%s) = %+v, want %+v", w.JID, got, w)
		}
	}

	// Groups come back sorted and deduplicated.
	_, err = s.PutRosterItem(ctx, u, storage.RosterItem{JID: "bob@example.org", Subscription: "both",
		Groups: []string{"b", "a", "c", "a"}})
	must(t, err)
	got, err := s.RosterItem(ctx, u, "bob@example.org")
	must(t, err)
	if !reflect.DeepEqual(got.Groups, []string{"a", "b", "c"}) {
		t.Errorf("groups = %q, want [a b c]", got.Groups)
	}

	for _, tc := range []struct{ user, contact string }{
		{u, "dave@other.net"},
		{u, "nobody@example.org"},
		{"bob@example.org", "alice@example.org"},
	} {
		if _, err := s.RosterItem(ctx, tc.user, tc.contact); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("RosterItem(%s, %s) = %v, want ErrNotFound", tc.user, tc.contact, err)
		}
	}

	// Versions are per user.
	v, err := s.PutRosterItem(ctx, "bob@example.org", storage.RosterItem{JID: u, Subscription: "both"})
	must(t, err)
	if v != 1 {
		t.Errorf("bob's first version = %d, want 1", v)
	}
}

// errAny marks a test step that must fail with any error.
var errAny = errors.New("any error")

func TestPendingSubscriptions(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const u = "alice@example.org"

	subs, err := s.PendingSubscriptions(ctx, u)
	must(t, err)
	if len(subs) != 0 {
		t.Fatalf("initial = %v", subs)
	}
	must(t, s.PutPendingSubscription(ctx, u, "bob@example.org", []byte("<presence from='bob' type='subscribe'/>")))
	must(t, s.PutPendingSubscription(ctx, u, "carol@example.org", []byte("<presence from='carol'/>")))
	must(t, s.PutPendingSubscription(ctx, u, "dave@example.org", []byte("<presence from='dave'/>")))
	must(t, s.PutPendingSubscription(ctx, "zed@example.org", "bob@example.org", []byte("<other/>")))
	// Replacing keeps the original position and updates the stanza.
	must(t, s.PutPendingSubscription(ctx, u, "bob@example.org", []byte("<presence from='bob' again/>")))
	must(t, s.DeletePendingSubscription(ctx, u, "carol@example.org"))
	must(t, s.DeletePendingSubscription(ctx, u, "carol@example.org")) // absent: no error
	must(t, s.DeletePendingSubscription(ctx, u, "nobody@example.org"))

	subs, err = s.PendingSubscriptions(ctx, u)
	must(t, err)
	want := []storage.PendingSubscription{
		{From: "bob@example.org", Stanza: []byte("<presence from='bob' again/>")},
		{From: "dave@example.org", Stanza: []byte("<presence from='dave'/>")},
	}
	if !reflect.DeepEqual(subs, want) {
		t.Errorf("PendingSubscriptions = %q, want %q", subs, want)
	}
}

func TestOffline(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const u = "alice@example.org"

	loc := time.FixedZone("X", 5*3600)
	stamps := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2024, 1, 2, 8, 4, 6, 0, loc), // not UTC: comes back as UTC
		time.Now(),                             // has a monotonic reading
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC),
	}
	for i, st := range stamps {
		must(t, s.StoreOffline(ctx, u, fmt.Appendf(nil, "<message id='%d'/>", i), st))
		must(t, s.StoreOffline(ctx, "bob@example.org", []byte("<message/>"), st))
	}
	msgs, err := s.OfflineMessages(ctx, u)
	must(t, err)
	if len(msgs) != len(stamps) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(stamps))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("<message id='%d'/>", i); string(m.Stanza) != want {
			t.Errorf("message %d = %s, want %s", i, m.Stanza, want)
		}
		if !m.Stamp.Equal(stamps[i]) || m.Stamp.Location() != time.UTC {
			t.Errorf("message %d stamp = %v, want %v in UTC", i, m.Stamp, stamps[i])
		}
		if i > 0 && m.ID <= msgs[i-1].ID {
			t.Errorf("IDs not increasing: %d after %d", m.ID, msgs[i-1].ID)
		}
	}

	for _, tc := range []struct {
		upTo      int64
		wantCount int
	}{
		{0, 4},
		{msgs[0].ID - 1, 4},
		{msgs[1].ID, 2},
		{msgs[1].ID, 2},
		{msgs[3].ID, 0},
	} {
		must(t, s.DeleteOffline(ctx, u, tc.upTo))
		n, err := s.CountOffline(ctx, u)
		must(t, err)
		if n != tc.wantCount {
			t.Errorf("after DeleteOffline(%d): count %d, want %d", tc.upTo, n, tc.wantCount)
		}
	}
	left, err := s.OfflineMessages(ctx, u)
	must(t, err)
	if len(left) != 0 {
		t.Errorf("left = %v", left)
	}
	if n, err := s.CountOffline(ctx, "bob@example.org"); err != nil || n != 4 {
		t.Errorf("bob's count = %d, %v; want 4", n, err)
	}

	// IDs are never reused, so a stale DeleteOffline cannot hit new messages.
	must(t, s.StoreOffline(ctx, u, []byte("<late/>"), time.Now()))
	must(t, s.DeleteOffline(ctx, u, msgs[3].ID))
	if n, _ := s.CountOffline(ctx, u); n != 1 {
		t.Errorf("stale DeleteOffline removed a new message")
	}
}

func TestDocuments(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const u = "alice@example.org"

	docs := []struct{ kind, key, data string }{
		{"vcard", "", "<vCard xmlns='vcard-temp'/>"},
		{"private", "storage:bookmarks", "<storage xmlns='storage:bookmarks'/>"},
		{"private", "storage:rosternotes", "<storage xmlns='storage:rosternotes'/>"},
		{"private", "empty", ""},
	}
	for _, d := range docs {
		if _, err := s.Document(ctx, u, d.kind, d.key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Document(%s, %q) before put = %v, want ErrNotFound", d.kind, d.key, err)
		}
		must(t, s.PutDocument(ctx, u, d.kind, d.key, []byte(d.data)))
	}
	must(t, s.PutDocument(ctx, u, "vcard", "", []byte("<vCard xmlns='vcard-temp'><FN>A</FN></vCard>")))
	docs[0].data = "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>"
	for _, d := range docs {
		got, err := s.Document(ctx, u, d.kind, d.key)
		must(t, err)
		if got == nil || string(got) != d.data {
			t.Errorf("Document(%s, %q) = %q, want %q", d.kind, d.key, got, d.data)
		}
	}
	if _, err := s.Document(ctx, "bob@example.org", "vcard", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("other user's document = %v, want ErrNotFound", err)
	}
	must(t, s.DeleteDocument(ctx, u, "private", "storage:bookmarks"))
	must(t, s.DeleteDocument(ctx, u, "private", "storage:bookmarks")) // absent: no error
	if _, err := s.Document(ctx, u, "private", "storage:bookmarks"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted document = %v, want ErrNotFound", err)
	}
	if _, err := s.Document(ctx, u, "private", "storage:rosternotes"); err != nil {
		t.Errorf("sibling document: %v", err)
	}
}

func TestLastActivity(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const u = "alice@example.org"

	if _, _, err := s.LastActivity(ctx, u); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("LastActivity before set = %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		at     time.Time
		status string
	}{
		{time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC), "gone fishing"},
		{time.Now(), ""},
		{time.Time{}, "zero time"},
	} {
		must(t, s.SetLastActivity(ctx, u, tc.at, tc.status))
		at, status, err := s.LastActivity(ctx, u)
		must(t, err)
		if !at.Equal(tc.at) || status != tc.status {
			t.Errorf("LastActivity = %v, %q; want %v, %q", at, status, tc.at, tc.status)
		}
	}
}

// populate stores one of everything for user.
func populate(t testing.TB, s *Store, user string) {
	t.Helper()
	ctx := context.Background()
	must(t, s.CreateAccount(ctx, user, creds(user)))
	_, err := s.PutRosterItem(ctx, user, storage.RosterItem{JID: "x@example.net", Subscription: "both", Groups: []string{"g1", "g2"}})
	must(t, err)
	must(t, s.PutPendingSubscription(ctx, user, "y@example.net", []byte("<presence/>")))
	must(t, s.StoreOffline(ctx, user, []byte("<message/>"), time.Now()))
	must(t, s.PutDocument(ctx, user, "vcard", "", []byte("<vCard/>")))
	must(t, s.SetLastActivity(ctx, user, time.Now(), "bye"))
}

// rowCounts returns, per table, how many rows belong to user.
func rowCounts(t testing.TB, s *Store, user string) map[string]int {
	t.Helper()
	counts := make(map[string]int)
	for _, table := range []string{
		"accounts", "credentials", "roster_items", "roster_groups", "roster_versions",
		"pending_subscriptions", "offline_messages", "documents", "last_activity",
	} {
		var n int
		must(t, s.r.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE user = ?`, user).Scan(&n))
		counts[table] = n
	}
	return counts
}

func TestDeleteAccount(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	populate(t, s, "alice@example.org")
	populate(t, s, "bob@example.org")

	for table, n := range rowCounts(t, s, "alice@example.org") {
		if n == 0 {
			t.Fatalf("populate left %s empty", table)
		}
	}
	must(t, s.DeleteAccount(ctx, "alice@example.org"))
	for table, n := range rowCounts(t, s, "alice@example.org") {
		if n != 0 {
			t.Errorf("after DeleteAccount, %s has %d rows for alice", table, n)
		}
	}
	for table, n := range rowCounts(t, s, "bob@example.org") {
		if n == 0 {
			t.Errorf("DeleteAccount(alice) emptied bob's %s", table)
		}
	}

	// Through the interface, too.
	if ok, _ := s.AccountExists(ctx, "alice@example.org"); ok {
		t.Error("alice still exists")
	}
	if v, _ := s.RosterVersion(ctx, "alice@example.org"); v != 0 {
		t.Errorf("roster version = %d, want 0", v)
	}
	if n, _ := s.CountOffline(ctx, "alice@example.org"); n != 0 {
		t.Errorf("offline count = %d", n)
	}
	if err := s.DeleteAccount(ctx, "alice@example.org"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second DeleteAccount = %v, want ErrNotFound", err)
	}
	// The account can be created again, empty.
	must(t, s.CreateAccount(ctx, "alice@example.org", nil))
	if items, _, _ := s.Roster(ctx, "alice@example.org"); len(items) != 0 {
		t.Errorf("recreated account has roster %v", items)
	}
}

func TestReopen(t *testing.T) {
	path := dbPath(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	must(t, err)
	populate(t, s, "alice@example.org")
	must(t, s.Close())

	for i := range 2 { // reopening an up-to-date database is a no-op
		s, err := Open(ctx, path)
		must(t, err)
		var v int
		must(t, s.w.QueryRow("PRAGMA user_version").Scan(&v))
		if v != len(migrations()) {
			t.Errorf("open %d: user_version = %d, want %d", i, v, len(migrations()))
		}
		got := rowCounts(t, s, "alice@example.org")
		for table, n := range got {
			if n == 0 {
				t.Errorf("open %d: %s lost its rows", i, table)
			}
		}
		c, err := s.Credential(ctx, "alice@example.org", "SHA-256")
		must(t, err)
		if !reflect.DeepEqual(c, creds("alice@example.org")[1]) {
			t.Errorf("open %d: credential = %+v", i, c)
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
	errs := make(chan error, workers*each*2)
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
}

const (
	helperEnv   = "PARLEY_SQLITE_HELPER_DB"
	helperReady = "STORED "
)

// TestHelperProcess is not a real test: TestOfflineSurvivesKill runs the
// test binary again with helperEnv set, and this stores a message, reports
// it, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestOfflineSurvivesKill")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := range 3 {
		if err := s.StoreOffline(context.Background(), "alice@example.org", fmt.Appendf(nil, "<message id='%d'/>", i), time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("%s%d\n", helperReady, i)
	}
	time.Sleep(time.Minute) // killed long before this
	os.Exit(4)
}

func TestOfflineSurvivesKill(t *testing.T) {
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
	// SIGKILL right after the last StoreOffline returned: nothing gets to
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
