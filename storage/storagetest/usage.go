package storagetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"parley/storage"
)

func testUsage(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"AddsUp", testUsageAddsUp},
		{"Select", testUsageSelect},
		{"Concurrent", testUsageConcurrent},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, open) })
	}
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// testUsageAddsUp adds batches twice and checks the sums, the later last
// seen, days truncated from any time and records kept across a reopen.
func testUsageAddsUp(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := t.Context()
	const alice, bob, carol = "alice@example.org", "bob@example.org", "carol@example.org"
	must(t, s.CreateAccount(ctx, alice, nil))
	must(t, s.CreateAccount(ctx, bob, nil))
	d := day(2026, 12, 5)
	seen1 := d.Add(9*time.Hour + 1500*time.Millisecond)
	seen2 := d.Add(17 * time.Hour)
	must(t, s.AddUsage(ctx, nil))
	must(t, s.AddUsage(ctx, []storage.UsageRecord{
		{Day: d, User: alice, UsageCounts: storage.UsageCounts{Logins: 1, OneToOneSent: 3, GroupReceived: 2}, LastSeen: seen2},
		{Day: d, User: bob, UsageCounts: storage.UsageCounts{OneToOneReceived: 3}},          // only received: not seen
		{Day: d, User: carol, UsageCounts: storage.UsageCounts{Logins: 1}, LastSeen: seen1}, // no account: skipped
	}))
	// Any time of the day names the day; two records of one user and
	// day in a batch add up; an earlier last seen does not win.
	in := time.FixedZone("UTC+5", 5*3600)
	must(t, s.AddUsage(ctx, []storage.UsageRecord{
		{Day: d.Add(23 * time.Hour).In(in), User: alice, UsageCounts: storage.UsageCounts{Logins: 1, FederatedSent: 4, Uploads: 1, UploadBytes: 1 << 40}, LastSeen: seen1},
		{Day: d.Add(time.Hour), User: alice, UsageCounts: storage.UsageCounts{GroupSent: 5, FederatedReceived: 6, OneToOneReceived: 7}},
	}))
	want := []storage.UsageRecord{
		{Day: d, User: alice, UsageCounts: storage.UsageCounts{Logins: 2, OneToOneSent: 3, OneToOneReceived: 7, GroupSent: 5, GroupReceived: 2,
			FederatedSent: 4, FederatedReceived: 6, Uploads: 1, UploadBytes: 1 << 40}, LastSeen: seen2},
		{Day: d, User: bob, UsageCounts: storage.UsageCounts{OneToOneReceived: 3}},
	}
	checkUsage(t, s, "", d, d, want)
	s = reopen()
	checkUsage(t, s, "example.org", d.Add(-48*time.Hour), d.Add(48*time.Hour), want)
	// A later last seen wins.
	seen3 := d.Add(23*time.Hour + 59*time.Minute)
	must(t, s.AddUsage(ctx, []storage.UsageRecord{{Day: d, User: bob, LastSeen: seen3}}))
	want[1].LastSeen = seen3
	checkUsage(t, s, "", d, d, want)
}

// testUsageSelect checks the selection by domain and by days, both
// included, and the order by day and user.
func testUsageSelect(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const a1, a2, b1 = "zed@a.example", "amy@a.example", "bo@b.example"
	d1, d2, d3 := day(2026, 11, 30), day(2026, 12, 1), day(2026, 12, 2)
	rec := func(d time.Time, user string, n int64) storage.UsageRecord {
		return storage.UsageRecord{Day: d, User: user, UsageCounts: storage.UsageCounts{OneToOneSent: n}, LastSeen: d.Add(time.Hour)}
	}
	for _, u := range []string{a1, a2, b1} {
		must(t, s.CreateAccount(ctx, u, nil))
	}
	must(t, s.AddUsage(ctx, []storage.UsageRecord{rec(d3, a1, 1), rec(d1, a1, 2), rec(d2, b1, 3), rec(d2, a2, 4), rec(d2, a1, 5), rec(d1, b1, 6)}))
	cases := []struct {
		domain   string
		from, to time.Time
		want     []storage.UsageRecord
	}{
		{"", d1, d3, []storage.UsageRecord{rec(d1, b1, 6), rec(d1, a1, 2), rec(d2, a2, 4), rec(d2, b1, 3), rec(d2, a1, 5), rec(d3, a1, 1)}},
		{"a.example", d1, d3, []storage.UsageRecord{rec(d1, a1, 2), rec(d2, a2, 4), rec(d2, a1, 5), rec(d3, a1, 1)}},
		{"b.example", d2, d2, []storage.UsageRecord{rec(d2, b1, 3)}},
		// Times within the days select whole days.
		{"a.example", d2.Add(23 * time.Hour), d3.Add(time.Minute), []storage.UsageRecord{rec(d2, a2, 4), rec(d2, a1, 5), rec(d3, a1, 1)}},
		{"", d3.Add(24 * time.Hour), d3.Add(100 * 24 * time.Hour), nil},
		{"c.example", d1, d3, nil},
		{"", d3, d1, nil}, // an empty range
	}
	for _, c := range cases {
		checkUsage(t, s, c.domain, c.from, c.to, c.want)
	}
}

// testUsageConcurrent adds batches from several goroutines at once:
// nothing is lost.
func testUsageConcurrent(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	d := day(2026, 12, 5)
	const workers, batches = 4, 10
	must(t, s.CreateAccount(ctx, "shared@example.org", nil))
	for w := range workers {
		must(t, s.CreateAccount(ctx, fmt.Sprintf("u%d@example.org", w), nil))
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range batches {
				err := s.AddUsage(ctx, []storage.UsageRecord{
					{Day: d, User: "shared@example.org", UsageCounts: storage.UsageCounts{Logins: 1, UploadBytes: 10}},
					{Day: d, User: fmt.Sprintf("u%d@example.org", w), UsageCounts: storage.UsageCounts{GroupSent: 1}, LastSeen: d.Add(time.Duration(i) * time.Minute)},
				})
				if err != nil {
					t.Errorf("AddUsage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := []storage.UsageRecord{{Day: d, User: "shared@example.org", UsageCounts: storage.UsageCounts{Logins: workers * batches, UploadBytes: 10 * workers * batches}}}
	for w := range workers {
		want = append(want, storage.UsageRecord{Day: d, User: fmt.Sprintf("u%d@example.org", w), UsageCounts: storage.UsageCounts{GroupSent: batches}, LastSeen: d.Add((batches - 1) * time.Minute)})
	}
	checkUsage(t, s, "example.org", d, d, want)
}

// checkUsage compares UsageRecords of domain from from to to with want.
func checkUsage(t *testing.T, s storage.Store, domain string, from, to time.Time, want []storage.UsageRecord) {
	t.Helper()
	got, err := s.UsageRecords(t.Context(), domain, from, to)
	if err != nil {
		t.Fatalf("UsageRecords(%q, %v, %v): %v", domain, from, to, err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Day.Equal(w.Day) && g.Day.Location() == time.UTC && g.User == w.User &&
			reflect.DeepEqual(g.UsageCounts, w.UsageCounts) && g.LastSeen.Equal(w.LastSeen) &&
			(g.LastSeen.IsZero() || g.LastSeen.Location() == time.UTC)
	}
	if !ok {
		t.Errorf("UsageRecords(%q, %s, %s):\n got %+v\nwant %+v", domain, from.Format(time.RFC3339), to.Format(time.RFC3339), got, want)
	}
}
