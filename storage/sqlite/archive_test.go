package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/storage"
)

// fillPlanArchive appends n messages to alice's archive, to one of ten
// correspondents each, one minute apart from t0.
func fillPlanArchive(t testing.TB, s *Store, n int, t0 time.Time) []storage.ArchivedMessage {
	t.Helper()
	msgs := make([]storage.ArchivedMessage, n)
	for i := range msgs {
		msgs[i] = storage.ArchivedMessage{
			Archive: "alice@example.org", ID: fmt.Sprint("m", i),
			With:   fmt.Sprintf("c%d@example.org/r", i%10),
			Stanza: []byte("<message/>"), Stamp: t0.Add(time.Duration(i) * time.Minute),
		}
	}
	must(t, s.AppendArchive(t.Context(), msgs))
	return msgs
}

// TestArchiveQueryPlans checks that every kind of archive query is one
// range search of the index for it, with its bounds in the range, and
// needs no sorting.
func TestArchiveQueryPlans(t *testing.T) {
	s := newStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fillPlanArchive(t, s, 50, t0)
	const (
		bySeq  = "SEARCH archive_messages USING INDEX archive_messages_seq "
		byWith = "SEARCH archive_messages USING INDEX archive_messages_with "
	)
	for _, tc := range []struct {
		name string
		q    storage.ArchiveQuery
		want string // the first line of the plan
	}{
		{"first", storage.ArchiveQuery{}, bySeq + "(archive=?)"},
		{"last", storage.ArchiveQuery{Last: true}, bySeq + "(archive=?)"},
		{"after, before", storage.ArchiveQuery{AfterID: "m3", BeforeID: "m30"}, bySeq + "(archive=? AND seq>? AND seq<?)"},
		{"start", storage.ArchiveQuery{Start: t0.Add(10 * time.Minute)}, bySeq + "(archive=? AND seq>?)"},
		{"end, last", storage.ArchiveQuery{End: t0.Add(10 * time.Minute), Last: true}, bySeq + "(archive=? AND seq<?)"},
		{"start, end, after", storage.ArchiveQuery{Start: t0.Add(5 * time.Minute), End: t0.Add(20 * time.Minute), AfterID: "m2"}, bySeq + "(archive=? AND seq>? AND seq<?)"},
		{"with bare", storage.ArchiveQuery{With: "c1@example.org"}, byWith + "(archive=? AND with_bare=?)"},
		{"with full, before", storage.ArchiveQuery{With: "c1@example.org/r", BeforeID: "m30"}, byWith + "(archive=? AND with_bare=? AND seq<?)"},
		{"with, after, start", storage.ArchiveQuery{With: "c1@example.org", AfterID: "m3", Start: t0.Add(time.Minute)}, byWith + "(archive=? AND with_bare=? AND seq>?)"},
		{"ids", storage.ArchiveQuery{IDs: []string{"m1", "m2"}}, bySeq + "(archive=? AND seq=?)"},
	} {
		var plan []string
		err := s.read(t.Context(), func(tx *sql.Tx) error {
			from, args, err := archiveFrom(t.Context(), tx, "alice@example.org", tc.q, true)
			if err != nil {
				return err
			}
			backward := tc.q.Last || tc.q.BeforeID != ""
			plan, err = queryAll(t.Context(), tx, func(rows *sql.Rows) (string, error) {
				var (
					id, parent, unused int
					detail             string
				)
				err := rows.Scan(&id, &parent, &unused, &detail)
				return detail, err
			}, "EXPLAIN QUERY PLAN "+archivePageSQL(from, backward), append(args, 11)...)
			return err
		})
		must(t, err)
		if len(plan) == 0 || plan[0] != tc.want {
			t.Errorf("%s: plan %q, want it to start with %q", tc.name, plan, tc.want)
		}
		for _, line := range plan {
			if strings.Contains(line, "TEMP B-TREE") || strings.HasPrefix(line, "SCAN archive_messages") {
				t.Errorf("%s: plan %q sorts or scans", tc.name, plan)
			}
		}
	}
}

// TestPruneArchivesInBatches prunes with batches smaller than what goes.
func TestPruneArchivesInBatches(t *testing.T) {
	s := newStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := fillPlanArchive(t, s, 20, t0)
	for _, tc := range []struct {
		batch  int
		cutoff int // minutes after t0
		want   int64
	}{
		{3, 0, 0},
		{3, 7, 7},   // two full batches and a short one
		{3, 13, 6},  // batches that come out full, then an empty one
		{1, 15, 2},  // one at a time
		{50, 30, 5}, // all that is left in one batch
	} {
		n, err := s.pruneArchives(t.Context(), t0.Add(time.Duration(tc.cutoff)*time.Minute), tc.batch)
		must(t, err)
		if n != tc.want {
			t.Errorf("prune before minute %d in batches of %d: %d, want %d", tc.cutoff, tc.batch, n, tc.want)
		}
		left, err := s.CountArchive(t.Context(), "alice@example.org", storage.ArchiveQuery{})
		must(t, err)
		if want := max(len(msgs)-tc.cutoff, 0); left != want {
			t.Errorf("after pruning before minute %d: %d messages left, want %d", tc.cutoff, left, want)
		}
	}
}
