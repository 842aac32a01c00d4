package storagetest

import (
	"fmt"
	"testing"
	"time"

	"parley/storage"
)

// Benchmark archive sizes and shapes.
const (
	benchArchiveSize = 100_000
	benchBatch       = 1000
	benchPage        = 50
	// benchPeers is how many correspondents the benchmark archive has,
	// each with two resources; one more, rare, gets one message in
	// benchRare.
	benchPeers = 20
	benchRare  = 5000
)

// benchMessage is the i-th message of the benchmark archive, one a
// second.
func benchMessage(i int) storage.ArchivedMessage {
	with := fmt.Sprintf("peer%d@example.org/res%d", i%benchPeers, i/benchPeers%2)
	if i%benchRare == benchRare/2 {
		with = "rare@example.net/res"
	}
	return storage.ArchivedMessage{
		Archive: "alice@example.org",
		ID:      fmt.Sprintf("%08x-%d", i*2654435761%(1<<32), i),
		With:    with,
		Stanza:  fmt.Appendf(nil, "<message xmlns='jabber:client' type='chat' from='%s' to='alice@example.org/phone' id='m%d'><body>message number %d of the benchmark archive</body></message>", with, i, i),
		Stamp:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
	}
}

// RunBenchmarks measures the archive of the backend opened by open:
// appends in batches, and queries of pages and counts on an archive of
// 100,000 messages.
func RunBenchmarks(b *testing.B, open Opener) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprint("AppendArchive/Batch", size), func(b *testing.B) {
			s := newStore(b, open)
			batch := make([]storage.ArchivedMessage, size)
			i := 0
			for b.Loop() {
				for j := range batch {
					batch[j] = benchMessage(i)
					i++
				}
				if err := s.AppendArchive(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "msgs/s")
		})
	}

	s := newStore(b, open)
	batch := make([]storage.ArchivedMessage, benchBatch)
	for i := 0; i < benchArchiveSize; i += benchBatch {
		for j := range batch {
			batch[j] = benchMessage(i + j)
		}
		if err := s.AppendArchive(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	middle := benchMessage(benchArchiveSize / 2).ID
	recent := benchMessage(benchArchiveSize - 500).Stamp
	// A minute in the middle of the archive, and the time before it.
	minute := benchMessage(benchArchiveSize / 2).Stamp
	earlier := minute.Add(-time.Nanosecond)
	for _, bc := range []struct {
		name string
		q    storage.ArchiveQuery
		want int // messages in the page
	}{
		{"First", storage.ArchiveQuery{}, benchPage},
		{"Last", storage.ArchiveQuery{Last: true}, benchPage},
		{"AfterMiddle", storage.ArchiveQuery{AfterID: middle}, benchPage},
		{"BeforeMiddle", storage.ArchiveQuery{BeforeID: middle}, benchPage},
		{"WithBareFirst", storage.ArchiveQuery{With: "peer7@example.org"}, benchPage},
		{"WithBareLast", storage.ArchiveQuery{With: "peer7@example.org", Last: true}, benchPage},
		{"WithFullAfterMiddle", storage.ArchiveQuery{With: "peer7@example.org/res1", AfterID: middle}, benchPage},
		{"WithRare", storage.ArchiveQuery{With: "rare@example.net"}, benchArchiveSize / benchRare},
		{"StartRecent", storage.ArchiveQuery{Start: recent}, benchPage},
		{"StartRecentWith", storage.ArchiveQuery{Start: recent, With: "peer7@example.org"}, 25},
		{"EndMiddleLast", storage.ArchiveQuery{End: earlier, Last: true}, benchPage},
		{"MinuteInMiddle", storage.ArchiveQuery{Start: minute, End: minute.Add(59 * time.Second)}, benchPage},
		{"MinuteInMiddleLastPage", storage.ArchiveQuery{Start: minute, End: minute.Add(59 * time.Second), AfterID: benchMessage(benchArchiveSize/2 + 49).ID}, 10},
		{"IDs", storage.ArchiveQuery{IDs: []string{benchMessage(10).ID, middle, benchMessage(benchArchiveSize - 1).ID}}, 3},
	} {
		bc.q.Max = benchPage
		b.Run("QueryArchive/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				page, _, err := s.QueryArchive(b.Context(), "alice@example.org", bc.q)
				if err != nil || len(page) != bc.want {
					b.Fatalf("%d messages, %v; want %d", len(page), err, bc.want)
				}
			}
		})
	}
	for _, bc := range []struct {
		name string
		q    storage.ArchiveQuery
		want int
	}{
		{"All", storage.ArchiveQuery{}, benchArchiveSize},
		{"WithBare", storage.ArchiveQuery{With: "peer7@example.org"}, benchArchiveSize / benchPeers},
		{"StartRecent", storage.ArchiveQuery{Start: recent}, 500},
	} {
		b.Run("CountArchive/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				n, err := s.CountArchive(b.Context(), "alice@example.org", bc.q)
				if err != nil || n != bc.want {
					b.Fatalf("%d, %v; want %d", n, err, bc.want)
				}
			}
		})
	}
}
