package compliance

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/journal"
	"parley/stanza"
)

// syncBuilder is a strings.Builder safe for concurrent writers.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clock is a settable time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func msg(t *testing.T, from, to, body string) *stanza.Element {
	t.Helper()
	el, err := stanza.Parse(fmt.Sprintf("<message from='%s' to='%s' type='chat'><body>%s</body></message>", from, to, body))
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func bodies(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	if err := Export(dir, Filter{}, func(e Entry) error { out = append(out, e.Body()); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRetentionAndLegalHold: expired days go a block at a time; records of
// an account under a legal hold and of a domain with a longer retention
// stay; the chain still verifies, and the audit log tells what was
// removed; releasing the hold lets retention take them.
func TestRetentionAndLegalHold(t *testing.T) {
	dir := t.TempDir()
	auditDir := filepath.Join(dir, "audit")
	al, err := audit.Open(auditDir)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	clk := &clock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	a, err := Open(Options{
		Dir:             filepath.Join(dir, "archive"),
		LocalDomains:    []string{"a.test", "legal.test"},
		Retention:       30 * 24 * time.Hour,
		DomainRetention: map[string]time.Duration{"legal.test": 365 * 24 * time.Hour},
		Audit:           al,
		Log:             zerolog.Nop(),
		Now:             clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ten days of chat, a day per block.
	for day := range 10 {
		clk.t = time.Date(2026, 1, 1+day, 9, 0, 0, 0, time.UTC)
		for _, m := range [][3]string{
			{"alice@a.test/x", "bob@a.test", "a-b"},
			{"carol@a.test/x", "alice@a.test", "c-a"},
			{"dan@legal.test/x", "bob@a.test", "legal"},
			{"bob@a.test/x", "eve@remote.test", "b-eve"},
		} {
			if err := a.Record(Local, m[0], m[1], m[0], msg(t, m[0], m[1], fmt.Sprintf("%s day %d", m[2], day+1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := SetHold(a.opts.Dir, true, Hold{JID: "carol@a.test", By: "cli:test"}); err != nil {
		t.Fatal(err)
	}
	// The first five days are past the 30 days.
	clk.t = time.Date(2026, 2, 5, 8, 0, 0, 0, time.UTC)
	a.Sync()
	search := func(words string) int {
		n := 0
		if err := Export(a.opts.Dir, Filter{Text: words}, func(Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := search("a-b day 2"); n != 1 {
		t.Fatalf("search before the prune: %d", n)
	}
	a.Prune()
	if n := search("a-b day 2"); n != 0 {
		t.Fatalf("a removed record is still found: %d", n)
	}
	if _, err := os.Stat(filepath.Join(a.opts.Dir, indexFile)); err != nil {
		t.Fatalf("the index is not rebuilt: %v", err)
	}
	if n := search("b-eve day 7"); n != 1 {
		t.Fatalf("search after the prune: %d", n)
	}
	// The words of removed records are gone from the index itself.
	db, err := sql.Open("sqlite3", filepath.Join(a.opts.Dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	var inIndex int
	if err := db.QueryRow(`SELECT count(*) FROM bodies WHERE bodies MATCH '"a" "b" "day" "2"'`).Scan(&inIndex); err != nil || inIndex != 0 {
		t.Fatalf("removed words in the index: %d, %v", inIndex, err)
	}
	db.Close()
	got := bodies(t, a.opts.Dir)
	count := func(prefix string) int {
		n := 0
		for _, b := range got {
			if strings.HasPrefix(b, prefix) {
				n++
			}
		}
		return n
	}
	if count("a-b") != 5 || count("b-eve") != 5 || count("c-a") != 10 || count("legal") != 10 {
		sort.Strings(got)
		t.Fatalf("after the prune: %q", got)
	}
	if s, err := Verify(a.opts.Dir, auditDir); err != nil || s.Kept != 10 || s.Checkpoints != 5 {
		t.Fatalf("verify after the prune: %+v, %v", s, err)
	}
	var pruned []audit.Entry
	audit.Read(auditDir, time.Time{}, func(e audit.Entry) error {
		if e.Action == audit.ArchivePruned {
			pruned = append(pruned, e)
		}
		return nil
	})
	if len(pruned) != 5 || !strings.Contains(pruned[0].Detail, "records 1 to 4 removed but 2 kept") {
		t.Fatalf("audit of the prune: %+v", pruned)
	}

	// The hold ends: carol's old messages go too.
	if _, err := SetHold(a.opts.Dir, false, Hold{JID: "carol@a.test"}); err != nil {
		t.Fatal(err)
	}
	a.Prune()
	if got := bodies(t, a.opts.Dir); len(got) != 25 {
		t.Fatalf("after the release: %d records: %q", len(got), got)
	}
	// A year on, only what legal.test keeps for a year is left of the
	// removed days (and the day being written, which is never removed).
	clk.t = time.Date(2027, 1, 3, 8, 0, 0, 0, time.UTC)
	a.Prune()
	left := bodies(t, a.opts.Dir)
	sort.Strings(left)
	want := []string{"a-b day 10", "b-eve day 10", "c-a day 10", "legal day 10"}
	for d := 3; d <= 9; d++ {
		want = append(want, fmt.Sprintf("legal day %d", d))
	}
	sort.Strings(want)
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Fatalf("a year on: %q, want %q", left, want)
	}
	if _, err := Verify(a.opts.Dir, auditDir); err != nil {
		t.Fatalf("verify: %v", err)
	}
	a.Close()
}

// TestOnFailure: while the archive cannot be written, messages are
// refused (refuse) or delivered unarchived (deliver), reported in the
// log and the audit log; once it can, it archives again, and what it had
// taken is not lost.
func TestOnFailure(t *testing.T) {
	for _, policy := range []string{Refuse, Deliver} {
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			al, _ := audit.Open(filepath.Join(dir, "audit"))
			defer al.Close()
			var logs syncBuilder
			a, err := Open(Options{Dir: filepath.Join(dir, "archive"), OnFailure: policy, SegmentSize: 256, Audit: al, Log: zerolog.New(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			rec := func(body string) error {
				return a.Record(Local, "a@a.test/r", "b@a.test", "a@a.test/r", msg(t, "a@a.test/r", "b@a.test", body))
			}
			if err := rec("before"); err != nil {
				t.Fatal(err)
			}
			a.Sync()
			// The disk fails: the next segment cannot be made.
			seq, _ := a.Head()
			blocker := filepath.Join(a.opts.Dir, fmt.Sprintf("seg-%020d.log", seq+1))
			os.Mkdir(blocker, 0o700)
			if err := rec("taken into the ring"); err != nil {
				t.Fatal(err)
			}
			if a.Sync() == nil {
				t.Fatal("sync succeeded with the segment blocked")
			}
			err = rec("while failing")
			switch policy {
			case Refuse:
				se, ok := err.(stanza.Error)
				if !ok || se.Condition != "resource-constraint" {
					t.Fatalf("refused with %v", err)
				}
			case Deliver:
				if err != nil {
					t.Fatalf("deliver policy returned %v", err)
				}
			}
			if !strings.Contains(logs.String(), "compliance archive cannot be written") {
				t.Errorf("no error logged: %s", logs.String())
			}
			os.Remove(blocker)
			if err := a.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := rec("after"); err != nil {
				t.Fatal(err)
			}
			a.Sync()
			if got := bodies(t, a.opts.Dir); strings.Join(got, ",") != "before,taken into the ring,after" {
				t.Fatalf("archived %q", got)
			}
			var events []string
			audit.Read(filepath.Join(dir, "audit"), time.Time{}, func(e audit.Entry) error {
				if e.Action == audit.ArchiveFailure {
					events = append(events, e.Detail)
				}
				return nil
			})
			if len(events) != 2 || !strings.Contains(events[1], "1 messages were not archived") {
				t.Fatalf("audit: %q", events)
			}
			if _, err := journal.Verify(a.opts.Dir, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}
