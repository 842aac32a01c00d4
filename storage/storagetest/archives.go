package storagetest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"parley/storage"
)

func testArchives(t *testing.T, open Opener) {
	// The query tests only read, so they share one filled store.
	s := newStore(t, open)
	alice := fillArchive(t, s)
	for _, c := range []struct {
		name string
		run  func(*testing.T, storage.Store, []storage.ArchivedMessage)
	}{
		{"Fields", testArchiveFields},
		{"PageForward", testArchivePageForward},
		{"PageBackward", testArchivePageBackward},
		{"Queries", testArchiveQueries},
		{"UnknownID", testArchiveUnknownID},
		{"Count", testArchiveCount},
		{"Max", testArchiveMax},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, s, alice) })
	}
	t.Run("Append", func(t *testing.T) { testArchiveAppend(t, newStore(t, open)) })
	t.Run("StampsOutOfOrder", func(t *testing.T) { testArchiveStampsOutOfOrder(t, newStore(t, open)) })
	t.Run("Delete", func(t *testing.T) { testArchiveDelete(t, newStore(t, open)) })
	t.Run("Prune", func(t *testing.T) { testArchivePrune(t, newStore(t, open)) })
	t.Run("MUCHistory", func(t *testing.T) { testArchiveMUCHistory(t, newStore(t, open)) })
}

const (
	archiveOwner = "alice@example.org"
	archiveSize  = 95
)

// archiveStart returns the stamp of the first archived message.
func archiveStart() time.Time { return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) }

// fillArchive appends archiveSize messages to alice's archive, in batches
// of several sizes, and a few to bob's with IDs alice's archive uses too.
// Messages two by two share a stamp; every other stamp is in another
// zone. IDs are not in append order. It returns alice's messages in
// append order, with their Seq.
func fillArchive(t testing.TB, s storage.Store) []storage.ArchivedMessage {
	t.Helper()
	// The With of the messages, in turn: two resources of bob and his
	// bare JID, carol bare and with a resource, and JIDs that a prefix
	// match would take for bob's.
	correspondents := []string{
		"bob@example.org/phone", "carol@example.org", "bob@example.org/laptop", "bob@example.org",
		"dave@other.net/x", "bob@example.org.evil.net/phone", "carol@example.org/tablet", "bob@example.or/phone",
	}
	zone := time.FixedZone("Y", -7*3600)
	msgs := make([]storage.ArchivedMessage, archiveSize)
	for i := range msgs {
		stamp := archiveStart().Add(time.Duration(i/2) * time.Minute)
		if i%4 < 2 {
			stamp = stamp.In(zone)
		}
		msgs[i] = storage.ArchivedMessage{
			Archive: archiveOwner,
			ID:      fmt.Sprintf("a%d", i*37%archiveSize),
			With:    correspondents[i%len(correspondents)],
			Stanza:  fmt.Appendf(nil, "<message type='chat'><body>%d</body></message>", i),
			Stamp:   stamp,
		}
	}
	rest := msgs
	for _, n := range []int{1, 9, 30, 55} {
		must(t, s.AppendArchive(t.Context(), rest[:n]))
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d messages left unappended", len(rest))
	}
	var bob []storage.ArchivedMessage
	for i := range 5 {
		bob = append(bob, storage.ArchivedMessage{
			Archive: "bob@example.org", ID: fmt.Sprint("a", i), With: archiveOwner + "/home",
			Stanza: []byte("<message/>"), Stamp: archiveStart(),
		})
	}
	must(t, s.AppendArchive(t.Context(), bob))
	for i, m := range msgs {
		if m.Seq <= 0 || i > 0 && m.Seq <= msgs[i-1].Seq {
			t.Fatalf("Seq %d after %d: not positive and increasing", m.Seq, msgs[max(i-1, 0)].Seq)
		}
	}
	if bob[0].Seq <= msgs[len(msgs)-1].Seq {
		t.Fatalf("Seq %d of a later append is not above %d", bob[0].Seq, msgs[len(msgs)-1].Seq)
	}
	return msgs
}

// matches reports whether m passes the filters of q, paging aside.
func matches(m storage.ArchivedMessage, q storage.ArchiveQuery) bool {
	if q.With != "" {
		bare, res := storage.SplitJID(q.With)
		mBare, mRes := storage.SplitJID(m.With)
		if mBare != bare || res != "" && mRes != res {
			return false
		}
	}
	return (q.Start.IsZero() || !m.Stamp.Before(q.Start)) &&
		(q.End.IsZero() || !m.Stamp.After(q.End)) &&
		(len(q.IDs) == 0 || slices.Contains(q.IDs, m.ID))
}

// expectPage returns the page and completeness the contract asks of
// QueryArchive(q) on an archive holding msgs, in append order; the IDs
// q pages from must be in msgs.
func expectPage(t testing.TB, msgs []storage.ArchivedMessage, q storage.ArchiveQuery) ([]storage.ArchivedMessage, bool) {
	t.Helper()
	index := func(id string) int {
		i := slices.IndexFunc(msgs, func(m storage.ArchivedMessage) bool { return m.ID == id })
		if i < 0 {
			t.Fatalf("no message %q to page from", id)
		}
		return i
	}
	lo, hi := 0, len(msgs)
	if q.AfterID != "" {
		lo = index(q.AfterID) + 1
	}
	if q.BeforeID != "" {
		hi = index(q.BeforeID)
	}
	var rng []storage.ArchivedMessage
	for _, m := range msgs[lo:max(lo, hi)] {
		if matches(m, q) {
			rng = append(rng, m)
		}
	}
	switch {
	case len(rng) <= q.Max:
		return rng, true
	case q.Last || q.BeforeID != "":
		return rng[len(rng)-q.Max:], false
	default:
		return rng[:q.Max], false
	}
}

// checkMessages compares archived messages field by field; stamps must
// be the same instant, in UTC.
func checkMessages(t testing.TB, what string, got, want []storage.ArchivedMessage) bool {
	t.Helper()
	ids := func(ms []storage.ArchivedMessage) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %d messages %q, want %d %q", what, len(got), ids(got), len(want), ids(want))
		return false
	}
	for i, g := range got {
		w := want[i]
		if g.Archive != w.Archive || g.ID != w.ID || g.With != w.With || g.Seq != w.Seq ||
			!bytes.Equal(g.Stanza, w.Stanza) || !g.Stamp.Equal(w.Stamp) || g.Stamp.Location() != time.UTC {
			t.Errorf("%s: message %d = %+v\nwant %+v", what, i, g, w)
			return false
		}
	}
	return true
}

func testArchiveFields(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	page, complete, err := s.QueryArchive(t.Context(), archiveOwner, storage.ArchiveQuery{Max: archiveSize})
	must(t, err)
	checkMessages(t, "whole archive", page, alice)
	if !complete {
		t.Error("a page holding the whole archive is not complete")
	}
	page, complete, err = s.QueryArchive(t.Context(), "nobody@example.org", storage.ArchiveQuery{Max: 10})
	if err != nil || len(page) != 0 || !complete {
		t.Errorf("empty archive: %d messages, complete %v, error %v; want none, complete", len(page), complete, err)
	}
}

// pageSizes returns page sizes for walks through the archive: one,
// dividing its size, not dividing it, and around all of it.
func pageSizes() []int { return []int{1, 5, 10, archiveSize - 1, archiveSize, archiveSize + 1} }

func testArchivePageForward(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	for _, max := range pageSizes() {
		t.Run(fmt.Sprint("Max", max), func(t *testing.T) {
			walkArchive(t, s, alice, storage.ArchiveQuery{Max: max}, false)
		})
	}
	t.Run("WithBare", func(t *testing.T) {
		walkArchive(t, s, alice, storage.ArchiveQuery{Max: 7, With: "bob@example.org"}, false)
	})
}

func testArchivePageBackward(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	for _, max := range pageSizes() {
		t.Run(fmt.Sprint("Max", max), func(t *testing.T) {
			walkArchive(t, s, alice, storage.ArchiveQuery{Max: max, Last: true}, true)
		})
	}
	t.Run("WithFull", func(t *testing.T) {
		walkArchive(t, s, alice, storage.ArchiveQuery{Max: 4, Last: true, With: "carol@example.org/tablet"}, true)
	})
}

// walkArchive pages through the messages q selects, forward with AfterID
// or backward with BeforeID from q.Last, and checks that every message
// comes exactly once, in order, with complete set only on the last page.
func walkArchive(t *testing.T, s storage.Store, alice []storage.ArchivedMessage, q storage.ArchiveQuery, backward bool) {
	var want []storage.ArchivedMessage
	for _, m := range alice {
		if matches(m, q) {
			want = append(want, m)
		}
	}
	pages := (len(want) + q.Max - 1) / q.Max
	var seen []storage.ArchivedMessage
	for n := 1; ; n++ {
		page, complete, err := s.QueryArchive(t.Context(), archiveOwner, q)
		must(t, err)
		if n > pages {
			t.Fatalf("page %d of %d", n, pages)
		}
		if complete != (n == pages) {
			t.Fatalf("page %d of %d: complete = %v", n, pages, complete)
		}
		wantLen := q.Max
		if n == pages {
			wantLen = len(want) - (pages-1)*q.Max
		}
		if len(page) != wantLen {
			t.Fatalf("page %d: %d messages, want %d", n, len(page), wantLen)
		}
		if backward {
			seen = append(slices.Clone(page), seen...)
			q.BeforeID, q.Last = page[0].ID, false
		} else {
			seen = append(seen, page...)
			q.AfterID = page[len(page)-1].ID
		}
		if complete {
			break
		}
	}
	checkMessages(t, "all pages", seen, want)
}

func testArchiveQueries(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	id := func(i int) string { return alice[i].ID }
	stamp := func(i int) time.Time { return alice[i].Stamp }
	for _, tc := range []struct {
		name string
		q    storage.ArchiveQuery
	}{
		{"first page", storage.ArchiveQuery{Max: 10}},
		{"last page", storage.ArchiveQuery{Max: 10, Last: true}},
		{"after", storage.ArchiveQuery{Max: 10, AfterID: id(40)}},
		{"after, last", storage.ArchiveQuery{Max: 10, AfterID: id(40), Last: true}},
		{"after the last message", storage.ArchiveQuery{Max: 10, AfterID: id(archiveSize - 1)}},
		{"before", storage.ArchiveQuery{Max: 10, BeforeID: id(40)}},
		{"before the first message", storage.ArchiveQuery{Max: 10, BeforeID: id(0)}},
		{"after and before", storage.ArchiveQuery{Max: 10, AfterID: id(20), BeforeID: id(60)}},
		{"after and before, all on the page", storage.ArchiveQuery{Max: 50, AfterID: id(20), BeforeID: id(60)}},
		{"after and before, nothing between", storage.ArchiveQuery{Max: 10, AfterID: id(20), BeforeID: id(21)}},
		{"after and before crossed", storage.ArchiveQuery{Max: 10, AfterID: id(60), BeforeID: id(20)}},
		{"with bare", storage.ArchiveQuery{Max: 100, With: "bob@example.org"}},
		{"with full", storage.ArchiveQuery{Max: 100, With: "bob@example.org/phone"}},
		{"with bare, stored bare only", storage.ArchiveQuery{Max: 100, With: "carol@example.org"}},
		{"with bare of a contact seen with a resource only", storage.ArchiveQuery{Max: 100, With: "dave@other.net"}},
		{"with unknown", storage.ArchiveQuery{Max: 100, With: "nobody@example.org"}},
		{"with unknown resource", storage.ArchiveQuery{Max: 100, With: "bob@example.org/car"}},
		{"with prefix of a JID", storage.ArchiveQuery{Max: 100, With: "bob@example"}},
		{"with, after and before", storage.ArchiveQuery{Max: 3, With: "bob@example.org", AfterID: id(10), BeforeID: id(50)}},
		{"with, before", storage.ArchiveQuery{Max: 3, With: "bob@example.org", BeforeID: id(50)}},
		{"start, inclusive", storage.ArchiveQuery{Max: 100, Start: stamp(31)}},
		{"end, inclusive", storage.ArchiveQuery{Max: 100, End: stamp(30)}},
		{"start and end, inclusive", storage.ArchiveQuery{Max: 100, Start: stamp(10), End: stamp(20)}},
		{"start and end the same", storage.ArchiveQuery{Max: 100, Start: stamp(11), End: stamp(11)}},
		{"start and end between stamps", storage.ArchiveQuery{Max: 100, Start: stamp(10).Add(time.Second), End: stamp(20).Add(-time.Nanosecond)}},
		{"start after end", storage.ArchiveQuery{Max: 100, Start: stamp(20), End: stamp(10)}},
		{"start after the last", storage.ArchiveQuery{Max: 100, Start: stamp(archiveSize - 1).Add(time.Nanosecond)}},
		{"start in another zone", storage.ArchiveQuery{Max: 100, Start: stamp(60).In(time.FixedZone("Z", 3*3600))}},
		{"start, last page", storage.ArchiveQuery{Max: 5, Start: stamp(50), Last: true}},
		{"start, with, after", storage.ArchiveQuery{Max: 5, Start: stamp(50), With: "bob@example.org", AfterID: id(60)}},
		{"ids", storage.ArchiveQuery{Max: 100, IDs: []string{id(70), id(3), "unknown", id(44)}}},
		{"ids, paged", storage.ArchiveQuery{Max: 2, IDs: []string{id(70), id(3), id(44)}}},
		{"ids, after", storage.ArchiveQuery{Max: 10, IDs: []string{id(70), id(3), id(44)}, AfterID: id(3)}},
		{"ids, with", storage.ArchiveQuery{Max: 10, IDs: []string{id(0), id(1), id(3), id(8)}, With: "bob@example.org"}},
		{"ids, start", storage.ArchiveQuery{Max: 10, IDs: []string{id(0), id(90)}, Start: stamp(50)}},
		{"ids unknown", storage.ArchiveQuery{Max: 10, IDs: []string{"a1000", "x"}}},
	} {
		want, wantComplete := expectPage(t, alice, tc.q)
		page, complete, err := s.QueryArchive(t.Context(), archiveOwner, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if checkMessages(t, tc.name, page, want) && complete != wantComplete {
			t.Errorf("%s: complete = %v, want %v", tc.name, complete, wantComplete)
		}
	}
}

func testArchiveUnknownID(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	for _, q := range []storage.ArchiveQuery{
		{Max: 10, AfterID: "unknown"},
		{Max: 10, BeforeID: "unknown"},
		{Max: 10, AfterID: alice[3].ID, BeforeID: "unknown"},
		{Max: 10, AfterID: "unknown", BeforeID: alice[30].ID},
		{Max: 10, AfterID: "a99", BeforeID: "a98"},
	} {
		page, _, err := s.QueryArchive(t.Context(), archiveOwner, q)
		checkErr(t, fmt.Sprintf("QueryArchive(%+v)", q), err, storage.ErrNotFound)
		if len(page) != 0 {
			t.Errorf("QueryArchive(%+v) returned %d messages with its error", q, len(page))
		}
	}
	// bob's archive holds a0 to a4: alice's IDs elsewhere are not found.
	checkErr(t, "AfterID of another archive", third(s.QueryArchive(t.Context(), "bob@example.org", storage.ArchiveQuery{Max: 1, AfterID: alice[1].ID})), storage.ErrNotFound)
}

func testArchiveCount(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	for _, q := range []storage.ArchiveQuery{
		{},
		{Max: 3},
		{Max: 3, Last: true, AfterID: alice[10].ID, BeforeID: alice[20].ID},
		{AfterID: "unknown", BeforeID: "unknown"}, // paging is ignored
		{With: "bob@example.org"},
		{With: "bob@example.org/laptop"},
		{With: "nobody@example.org"},
		{Start: alice[30].Stamp, End: alice[51].Stamp},
		{IDs: []string{alice[5].ID, alice[6].ID, "unknown"}},
		{With: "carol@example.org", Start: alice[30].Stamp, IDs: []string{alice[1].ID, alice[33].ID, alice[41].ID}},
	} {
		want := countMatches(alice, q)
		n, err := s.CountArchive(t.Context(), archiveOwner, q)
		must(t, err)
		if n != want {
			t.Errorf("CountArchive(%+v) = %d, want %d", q, n, want)
		}
	}
	if n, err := s.CountArchive(t.Context(), "bob@example.org", storage.ArchiveQuery{}); err != nil || n != 5 {
		t.Errorf("CountArchive(bob) = %d, %v; want 5", n, err)
	}
	if n, err := s.CountArchive(t.Context(), "nobody@example.org", storage.ArchiveQuery{}); err != nil || n != 0 {
		t.Errorf("CountArchive(nobody) = %d, %v; want 0", n, err)
	}
}

func testArchiveMax(t *testing.T, s storage.Store, alice []storage.ArchivedMessage) {
	for _, max := range []int{0, -1, math.MinInt} {
		checkErr(t, fmt.Sprintf("Max %d", max), third(s.QueryArchive(t.Context(), archiveOwner, storage.ArchiveQuery{Max: max})), errAny)
	}
	for _, q := range []storage.ArchiveQuery{
		{Max: math.MaxInt},
		{Max: math.MaxInt, Last: true},
		{Max: math.MaxInt - 1, AfterID: alice[0].ID},
		{Max: math.MaxInt32, BeforeID: alice[archiveSize-1].ID},
	} {
		want, _ := expectPage(t, alice, q)
		page, complete, err := s.QueryArchive(t.Context(), archiveOwner, q)
		must(t, err)
		if checkMessages(t, fmt.Sprintf("%+v", q), page, want) && !complete {
			t.Errorf("%+v: not complete", q)
		}
	}
}

func testArchiveAppend(t *testing.T, s storage.Store) {
	ctx := t.Context()
	msg := func(archive, id string, stamp time.Time) storage.ArchivedMessage {
		return storage.ArchivedMessage{Archive: archive, ID: id, With: "bob@example.org/x", Stanza: []byte("<message>" + id + "</message>"), Stamp: stamp}
	}
	// Order is append order, not stamp order; an empty stanza is kept.
	now := time.Now()
	batch := []storage.ArchivedMessage{
		msg(archiveOwner, "late", now),
		msg(archiveOwner, "early", now.Add(-time.Hour)),
		msg("bob@example.org", "late", now), // IDs are unique per archive only
		{Archive: archiveOwner, ID: "empty", With: "carol@example.org", Stamp: time.Time{}},
	}
	must(t, s.AppendArchive(ctx, batch))
	must(t, s.AppendArchive(ctx, nil))
	want := []storage.ArchivedMessage{batch[0], batch[1], batch[3]}
	page, _, err := s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: 10})
	must(t, err)
	checkMessages(t, "appended", page, want)

	// A batch with a taken ID, or one ID twice, or a message without an
	// archive or ID, fails whole.
	for _, tc := range []struct {
		name  string
		batch []storage.ArchivedMessage
		err   error
	}{
		{"taken ID", []storage.ArchivedMessage{msg(archiveOwner, "new1", now), msg(archiveOwner, "early", now)}, storage.ErrExists},
		{"ID twice", []storage.ArchivedMessage{msg(archiveOwner, "new2", now), msg(archiveOwner, "new2", now)}, storage.ErrExists},
		{"no ID", []storage.ArchivedMessage{msg(archiveOwner, "new3", now), msg(archiveOwner, "", now)}, errAny},
		{"no archive", []storage.ArchivedMessage{msg(archiveOwner, "new4", now), msg("", "new5", now)}, errAny},
	} {
		checkErr(t, tc.name, s.AppendArchive(ctx, tc.batch), tc.err)
		for _, m := range tc.batch {
			if m.Seq != 0 {
				t.Errorf("%s: Seq %d set by a failed append", tc.name, m.Seq)
			}
		}
	}
	page, _, err = s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: 10})
	must(t, err)
	checkMessages(t, "after failed appends", page, want)

	// Seq keeps increasing across archives.
	next := []storage.ArchivedMessage{msg("carol@example.org", "c", now), msg(archiveOwner, "new", now)}
	must(t, s.AppendArchive(ctx, next))
	if next[0].Seq <= batch[3].Seq || next[1].Seq <= next[0].Seq {
		t.Errorf("Seq %d, %d after %d", next[0].Seq, next[1].Seq, batch[3].Seq)
	}
}

// testArchiveStampsOutOfOrder checks time ranges on an archive whose
// stamps do not follow append order (a clock set back, messages
// archived late), before and after pruning its oldest messages.
func testArchiveStampsOutOfOrder(t *testing.T, s storage.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	minutes := []int{10, 11, 5, 12, 3, 13, 13, 20, 8, 21, 1, 22, 2, 30}
	var msgs []storage.ArchivedMessage
	for i, m := range minutes {
		msgs = append(msgs, storage.ArchivedMessage{
			Archive: archiveOwner, ID: fmt.Sprint("o", i), With: []string{"bob@example.org/a", "carol@example.org"}[i%2],
			Stanza: []byte("<message/>"), Stamp: t0.Add(time.Duration(m) * time.Minute),
		})
	}
	// Another archive's stamps must not move alice's ranges.
	must(t, s.AppendArchive(ctx, []storage.ArchivedMessage{{Archive: "bob@example.org", ID: "b", Stamp: t0.Add(time.Hour)}}))
	must(t, s.AppendArchive(ctx, msgs[:5]))
	must(t, s.AppendArchive(ctx, msgs[5:]))

	check := func(msgs []storage.ArchivedMessage) {
		t.Helper()
		bounds := []time.Time{{}}
		for m := -1; m <= 31; m++ {
			bounds = append(bounds, t0.Add(time.Duration(m)*time.Minute))
		}
		for _, start := range bounds {
			for _, end := range bounds {
				for _, q := range []storage.ArchiveQuery{
					{Start: start, End: end, Max: 3},
					{Start: start, End: end, Max: 3, Last: true},
					{Start: start, End: end, Max: 100, With: "bob@example.org"},
				} {
					want, wantComplete := expectPage(t, msgs, q)
					page, complete, err := s.QueryArchive(ctx, archiveOwner, q)
					must(t, err)
					what := fmt.Sprintf("start %v, end %v, %+v", start, end, q)
					if !checkMessages(t, what, page, want) || complete != wantComplete {
						t.Fatalf("%s: complete = %v, want %v", what, complete, wantComplete)
					}
					n, err := s.CountArchive(ctx, archiveOwner, q)
					must(t, err)
					if wantN := countMatches(msgs, q); n != wantN {
						t.Fatalf("%s: CountArchive = %d, want %d", what, n, wantN)
					}
				}
			}
		}
	}
	check(msgs)
	// Pruning removes messages stamped before minute 9 wherever they are;
	// the ranges stay right without them.
	n, err := s.PruneArchives(ctx, t0.Add(9*time.Minute))
	must(t, err)
	var left []storage.ArchivedMessage
	for _, m := range msgs {
		if !m.Stamp.Before(t0.Add(9 * time.Minute)) {
			left = append(left, m)
		}
	}
	if n != int64(len(msgs)-len(left)) {
		t.Errorf("PruneArchives = %d, want %d", n, len(msgs)-len(left))
	}
	check(left)
	// So do new messages, in or out of order.
	more := []storage.ArchivedMessage{
		{Archive: archiveOwner, ID: "late", With: "bob@example.org/a", Stamp: t0.Add(4 * time.Minute)},
		{Archive: archiveOwner, ID: "new", With: "bob@example.org/b", Stamp: t0.Add(31 * time.Minute)},
	}
	must(t, s.AppendArchive(ctx, more))
	check(append(left, more...))
}

// countMatches returns how many of msgs pass the filters of q.
func countMatches(msgs []storage.ArchivedMessage, q storage.ArchiveQuery) int {
	n := 0
	for _, m := range msgs {
		if matches(m, q) {
			n++
		}
	}
	return n
}

func testArchiveDelete(t *testing.T, s storage.Store) {
	ctx := t.Context()
	fillArchive(t, s)
	must(t, s.DeleteArchive(ctx, archiveOwner))
	must(t, s.DeleteArchive(ctx, archiveOwner)) // absent: no error
	if n, err := s.CountArchive(ctx, archiveOwner, storage.ArchiveQuery{}); err != nil || n != 0 {
		t.Errorf("after DeleteArchive: %d messages, %v", n, err)
	}
	checkErr(t, "AfterID of a deleted message", third(s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: 1, AfterID: "a0"})), storage.ErrNotFound)
	if n, err := s.CountArchive(ctx, "bob@example.org", storage.ArchiveQuery{}); err != nil || n != 5 {
		t.Errorf("DeleteArchive(alice) left bob %d messages, %v; want 5", n, err)
	}
	// The IDs are free again.
	must(t, s.DeleteArchive(ctx, "bob@example.org"))
	alice := fillArchive(t, s)
	page, _, err := s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: archiveSize})
	must(t, err)
	checkMessages(t, "archive filled again", page, alice)
}

func testArchivePrune(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const room = "r@conference.example.org"
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: room, Created: archiveStart()}))
	alice := fillArchive(t, s) // and 5 messages of bob's at archiveStart
	must(t, s.AppendMUCHistory(ctx, []storage.MUCMessage{
		roomMessage(room, "a", 0, archiveStart()),
		roomMessage(room, "a", 3000, archiveStart()),
	}))

	if n, err := s.PruneArchives(ctx, archiveStart()); err != nil || n != 0 {
		t.Fatalf("PruneArchives(the first stamp) = %d, %v; want 0, as the cutoff is exclusive", n, err)
	}
	// Messages 0 to 39 have stamps before that of message 40.
	cutoff := alice[40].Stamp
	n, err := s.PruneArchives(ctx, cutoff)
	must(t, err)
	if want := int64(40 + 5 + 1); n != want {
		t.Errorf("PruneArchives = %d, want %d", n, want)
	}
	page, _, err := s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: archiveSize})
	must(t, err)
	checkMessages(t, "after pruning", page, alice[40:])
	if n, _ := s.CountArchive(ctx, "bob@example.org", storage.ArchiveQuery{}); n != 0 {
		t.Errorf("bob's archive kept %d messages", n)
	}
	if h, err := s.MUCHistory(ctx, room, 10); err != nil || len(h) != 1 || h[0].StanzaID != "id3000" {
		t.Errorf("room history after pruning = %+v, %v; want id3000 only", h, err)
	}
	if n, err := s.PruneArchives(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second PruneArchives = %d, %v; want 0", n, err)
	}
}

// testArchiveMUCHistory checks that a room's history is its archive.
func testArchiveMUCHistory(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const room, other = "r@conference.example.org", "o@conference.example.org"
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []string{room, other} {
		must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: r, Created: t0}))
	}
	hist := []storage.MUCMessage{
		roomMessage(room, "ann", 1, t0),
		roomMessage(room, "bo b", 2, t0),
		roomMessage(other, "ann", 1, t0), // same stanza ID, other room
		roomMessage(room, "ann", 3, t0),
	}
	must(t, s.AppendMUCHistory(ctx, hist))
	// A message whose stanza ID the room holds is skipped; an empty
	// stanza ID is an error.
	dup := roomMessage(room, "eve", 2, t0)
	dup.Stanza = []byte("<message from='x'/>")
	must(t, s.AppendMUCHistory(ctx, []storage.MUCMessage{dup, roomMessage(room, "ann", 4, t0)}))
	noID := roomMessage(room, "ann", 5, t0)
	noID.StanzaID = ""
	checkErr(t, "AppendMUCHistory with an empty stanza ID", s.AppendMUCHistory(ctx, []storage.MUCMessage{noID}), errAny)

	stored, err := s.MUCHistory(ctx, room, 10)
	must(t, err)
	if len(stored) != 4 {
		t.Fatalf("MUCHistory = %+v, want 4 messages", stored)
	}
	var want []storage.ArchivedMessage
	for i, m := range stored {
		want = append(want, storage.ArchivedMessage{
			Archive: room, ID: m.StanzaID, With: room + "/" + []string{"ann", "bo b", "ann", "ann"}[i],
			Stanza: m.Stanza, Stamp: m.Stamp, Seq: m.ID,
		})
	}
	page, _, err := s.QueryArchive(ctx, room, storage.ArchiveQuery{Max: 10})
	must(t, err)
	checkMessages(t, "room archive", page, want)
	page, _, err = s.QueryArchive(ctx, room, storage.ArchiveQuery{Max: 10, With: room + "/ann"})
	must(t, err)
	checkMessages(t, "room archive with an occupant", page, []storage.ArchivedMessage{want[0], want[2], want[3]})

	// Messages appended to the archive are history too.
	extra := []storage.ArchivedMessage{{Archive: room, ID: "x1", With: room + "/cy", Stanza: []byte("<message/>"), Stamp: t0}}
	must(t, s.AppendArchive(ctx, extra))
	if h, _ := s.MUCHistory(ctx, room, 1); len(h) != 1 || h[0].StanzaID != "x1" || h[0].ID != extra[0].Seq {
		t.Errorf("last history message = %+v, want x1 with ID %d", h, extra[0].Seq)
	}

	must(t, s.DeleteMUCRoom(ctx, room))
	if n, err := s.CountArchive(ctx, room, storage.ArchiveQuery{}); err != nil || n != 0 {
		t.Errorf("the deleted room's archive holds %d messages, %v", n, err)
	}
	if n, _ := s.CountArchive(ctx, other, storage.ArchiveQuery{}); n != 1 {
		t.Errorf("deleting a room left %d messages to another, want 1", n)
	}
}
