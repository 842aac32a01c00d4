package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func open(t *testing.T, dir string, opts Options) *Journal {
	t.Helper()
	j, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func appendN(t *testing.T, j *Journal, from, n int, step time.Duration) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := j.Append(t0.Add(time.Duration(i)*step), []byte(fmt.Sprintf("record %d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func payloads(t *testing.T, dir string) []string {
	t.Helper()
	var got []string
	if err := Scan(dir, func(r Record) error {
		got = append(got, string(r.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func mustVerify(t *testing.T, dir string, anchors ...Anchor) Summary {
	t.Helper()
	s, err := Verify(dir, anchors)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return s
}

func wantBroken(t *testing.T, dir string, seq uint64, anchors ...Anchor) {
	t.Helper()
	_, err := Verify(dir, anchors)
	var ce *ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("Verify = %v, want a broken chain at %d", err, seq)
	}
	if ce.Seq != seq {
		t.Fatalf("Verify = %v, want the break at record %d", err, seq)
	}
}

func TestAppendConcurrentlyKeepsOneChain(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{SegmentSize: 4096})
	var wg sync.WaitGroup
	seen := make([]map[uint64]bool, 8)
	for g := range 8 {
		seen[g] = map[uint64]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				seq, err := j.Append(time.Now(), []byte(fmt.Sprintf("g%d-%d", g, i)))
				if err != nil {
					t.Error(err)
					return
				}
				seen[g][seq] = true
			}
		}()
	}
	wg.Wait()
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	all := map[uint64]bool{}
	for _, m := range seen {
		for s := range m {
			if all[s] {
				t.Fatalf("sequence number %d given twice", s)
			}
			all[s] = true
		}
	}
	head, hh := j.Head()
	if head != 1600 || len(all) != 1600 {
		t.Fatalf("head %d, %d distinct numbers; want 1600", head, len(all))
	}
	s := mustVerify(t, dir, Anchor{Seq: head, Hash: hh})
	if s.Records != 1600 || s.Head != 1600 || s.HeadHash != hh {
		t.Fatalf("summary %+v", s)
	}
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several of at most 4 KiB", len(segs))
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	appendN(t, j, 0, 10, time.Second)
	j.Close()
	if _, err := j.Append(t0, []byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	j2 := open(t, dir, Options{})
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("a second process could open the journal it does not share")
	}
	appendN(t, j2, 10, 5, time.Second)
	j2.Close()
	if got := payloads(t, dir); len(got) != 15 || got[14] != "record 14" {
		t.Fatalf("records %q", got)
	}
	mustVerify(t, dir)
}

// frames returns the offsets of the frames of a segment.
func frames(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for o := 0; o < len(b); {
		offs = append(offs, o)
		n := 4 + int(binary.BigEndian.Uint32(b[o:])) + 32
		o += n + padding(n)
	}
	return offs
}

func TestVerifyNamesTheFirstBrokenRecord(t *testing.T) {
	mk := func(t *testing.T) (string, string, []byte, []int) {
		dir := t.TempDir()
		j := open(t, dir, Options{})
		appendN(t, j, 0, 10, time.Second)
		j.Close()
		path := filepath.Join(dir, segmentName(1))
		b, _ := os.ReadFile(path)
		return dir, path, b, frames(t, path)
	}
	t.Run("altered", func(t *testing.T) {
		dir, path, b, offs := mk(t)
		b[offs[4]+4+headerSize] ^= 1 // a payload byte of record 5
		os.WriteFile(path, b, 0o600)
		wantBroken(t, dir, 5)
	})
	t.Run("removed", func(t *testing.T) {
		dir, path, b, offs := mk(t)
		os.WriteFile(path, append(append([]byte(nil), b[:offs[6]]...), b[offs[7]:]...), 0o600)
		wantBroken(t, dir, 7)
	})
	t.Run("swapped", func(t *testing.T) {
		dir, path, b, offs := mk(t)
		var out []byte
		out = append(out, b[:offs[2]]...)
		out = append(out, b[offs[3]:offs[4]]...)
		out = append(out, b[offs[2]:offs[3]]...)
		out = append(out, b[offs[4]:]...)
		os.WriteFile(path, out, 0o600)
		wantBroken(t, dir, 3)
	})
	t.Run("rewritten", func(t *testing.T) {
		// Records rewritten with a recomputed chain verify by themselves;
		// the head noted earlier gives them away.
		dir, _, _, _ := mk(t)
		s := mustVerify(t, dir)
		anchor := Anchor{Seq: s.Head, Hash: s.HeadHash}
		os.Remove(filepath.Join(dir, segmentName(1)))
		j := open(t, dir, Options{})
		appendN(t, j, 100, 10, time.Second)
		j.Close()
		wantBroken(t, dir, 10, anchor)
	})
	t.Run("tail cut", func(t *testing.T) {
		dir, path, b, offs := mk(t)
		s := mustVerify(t, dir)
		os.WriteFile(path, b[:offs[8]], 0o600)
		wantBroken(t, dir, 9, Anchor{Seq: s.Head, Hash: s.HeadHash})
	})
	t.Run("torn end", func(t *testing.T) {
		// An append cut short by a crash never returned: not a break, and
		// removed when the journal is opened again.
		dir, path, b, offs := mk(t)
		os.WriteFile(path, b[:offs[9]+7], 0o600)
		if s := mustVerify(t, dir); s.Head != 9 {
			t.Fatalf("head %d, want 9", s.Head)
		}
		j := open(t, dir, Options{})
		if _, err := j.Append(t0, []byte("after the crash")); err != nil {
			t.Fatal(err)
		}
		j.Close()
		if s := mustVerify(t, dir); s.Head != 10 {
			t.Fatalf("head %d, want 10", s.Head)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		dir, path, b, offs := mk(t)
		binary.BigEndian.PutUint32(b[offs[3]:], 1<<30)
		os.WriteFile(path, b, 0o600)
		wantBroken(t, dir, 4)
	})
}

func TestPruneRemovesWholeBlocksAndKeepsHeldRecords(t *testing.T) {
	dir := t.TempDir()
	// One segment per day.
	j := open(t, dir, Options{SegmentAge: 24 * time.Hour})
	appendN(t, j, 0, 96, time.Hour) // four days, 24 records each
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	held := func(r Record) bool { return string(r.Payload) == "record 5" || string(r.Payload) == "record 30" }
	// Records before day three expire: days one and two go, but for the
	// held ones.
	res, err := j.Prune(t0.Add(60*time.Hour), held)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Checkpoints) != 2 || res.Removed != 46 || res.Kept != 2 {
		t.Fatalf("prune %+v", res)
	}
	got := payloads(t, dir)
	if len(got) != 50 || got[0] != "record 5" || got[1] != "record 30" || got[2] != "record 48" {
		t.Fatalf("after the prune: %d records, starting %q", len(got), got[:3])
	}
	s := mustVerify(t, dir)
	if s.Records != 50 || s.Kept != 2 || s.First != 49 || s.Head != 96 {
		t.Fatalf("summary %+v", s)
	}
	// The chain goes on after the prune and a reopening.
	j.Close()
	j = open(t, dir, Options{SegmentAge: 24 * time.Hour})
	appendN(t, j, 96, 2, time.Hour)
	j.Sync()
	mustVerify(t, dir)

	// The hold on record 5 is lifted.
	if _, err := j.Prune(t0.Add(60*time.Hour), func(r Record) bool { return string(r.Payload) == "record 30" }); err != nil {
		t.Fatal(err)
	}
	if got := payloads(t, dir); got[0] != "record 30" || len(got) != 51 {
		t.Fatalf("after the release: %q...", got[:2])
	}
	mustVerify(t, dir)

	// A kept record removed behind the journal's back is noticed.
	cps, _ := Checkpoints(dir)
	for _, c := range cps {
		if c.File != "" {
			os.WriteFile(filepath.Join(dir, c.File), nil, 0o600)
			wantBroken(t, dir, c.From)
		}
	}
}

func TestAFailedWriteKeepsTheChain(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{SegmentSize: 64})
	appendN(t, j, 0, 3, time.Second)
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	// The next segment cannot be created.
	blocker := filepath.Join(dir, segmentName(4))
	if err := os.Mkdir(blocker, 0o700); err != nil {
		t.Fatal(err)
	}
	// Taken into the ring, but it cannot be written out.
	if _, err := j.Append(t0, []byte("held in the ring")); err != nil {
		t.Fatal(err)
	}
	if err := j.Sync(); err == nil {
		t.Fatal("Sync without a segment to write to succeeded")
	}
	if j.Failed() == nil {
		t.Fatal("Failed() = nil after a failed write")
	}
	if _, err := j.Append(t0, []byte("refused")); err == nil {
		t.Fatal("append while the segments cannot be written succeeded")
	}
	os.Remove(blocker)
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if seq, err := j.Append(t0, []byte("next")); err != nil || seq != 5 {
		t.Fatalf("append once the disk is back: %d, %v", seq, err)
	}
	j.Close()
	got := payloads(t, dir)
	if len(got) != 5 || got[3] != "held in the ring" || got[4] != "next" {
		t.Fatalf("records %q", got)
	}
	mustVerify(t, dir)
}

// TestRecordsInTheRingSurviveACrash: appends that returned are in the
// journal after the process dies before writing them out.
func TestRecordsInTheRingSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	appendN(t, j, 0, 5, time.Second)
	j.Sync()
	// Stop the copier as a crash would, leaving what follows in the ring.
	close(j.stop)
	<-j.done
	appendN(t, j, 5, 1000, time.Millisecond)
	// The process dies: the ring's mapping and files are left as they are.
	j.ring.close()
	j.lock.Close()
	j.segMu.Lock()
	j.seg.Close()
	j.seg = nil
	j.segMu.Unlock()
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()

	// A reader that finds the journal closed recovers the ring first.
	if n, err := Recover(dir); err != nil || n != 1000 {
		t.Fatalf("Recover = %d, %v; want 1000", n, err)
	}
	if s := mustVerify(t, dir); s.Records != 1005 {
		t.Fatalf("after Recover: %+v", s)
	}
	if n, _ := Recover(dir); n != 0 {
		t.Fatalf("a second Recover moved %d records", n)
	}
	j2 := open(t, dir, Options{})
	if n, err := Recover(dir); err != nil || n != 0 {
		t.Fatalf("Recover of a journal open elsewhere = %d, %v", n, err)
	}
	if j2.Recovered != 0 {
		t.Fatalf("recovered %d records, want 1000", j2.Recovered)
	}
	if seq, _ := j2.Append(t0, []byte("after")); seq != 1006 {
		t.Fatalf("next record %d, want 1006", seq)
	}
	j2.Close()
	if s := mustVerify(t, dir); s.Records != 1006 {
		t.Fatalf("summary %+v", s)
	}
}

func TestLargeRecordsBypassTheRing(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	appendN(t, j, 0, 3, time.Second)
	big := make([]byte, 2*ringBlockSize)
	if seq, err := j.Append(t0, big); err != nil || seq != 4 {
		t.Fatalf("large append: %d, %v", seq, err)
	}
	appendN(t, j, 4, 3, time.Second)
	j.Close()
	if s := mustVerify(t, dir); s.Records != 7 {
		t.Fatalf("summary %+v", s)
	}
}

func TestSharedJournalTakesAppendsFromSeveralOpeners(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, Options{Shared: true})
	b := open(t, dir, Options{Shared: true})
	for i := range 20 {
		w := a
		if i%3 == 0 {
			w = b
		}
		seq, err := w.Append(t0, []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("append %d got sequence number %d", i, seq)
		}
	}
	if s := mustVerify(t, dir); s.Records != 20 {
		t.Fatalf("summary %+v", s)
	}
}

// TestAHungDiskFailsAppends: while the copier cannot write (the disk
// hangs), appends fill the ring and then fail after MaxWait instead of
// waiting for ever; once the disk is back, they succeed again and
// nothing taken is lost.
func TestAHungDiskFailsAppends(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, Options{})
	payload := make([]byte, 30<<10)
	j.segMu.Lock() // the disk hangs
	taken := 0
	var err error
	start := time.Now()
	for {
		if _, err = j.Append(t0, payload); err != nil {
			break
		}
		taken++
	}
	waited := time.Since(start)
	j.segMu.Unlock()
	if !errors.Is(err, ErrBehind) || waited < MaxWait {
		t.Fatalf("after %d appends: %v after %v", taken, err, waited)
	}
	if taken < ringBlocks*2 {
		t.Fatalf("only %d records taken before the ring was full", taken)
	}
	if _, err := j.Append(t0, []byte("back")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if s := mustVerify(t, dir); s.Records != uint64(taken+1) {
		t.Fatalf("%d records, want %d", s.Records, taken+1)
	}
}

// TestAHungDiskFailsLargeAppends: a record too big for the ring waits for
// a hung disk no longer than MaxWait either.
func TestAHungDiskFailsLargeAppends(t *testing.T) {
	j := open(t, t.TempDir(), Options{})
	j.segMu.Lock()
	start := time.Now()
	_, err := j.Append(t0, make([]byte, 2*ringBlockSize))
	j.segMu.Unlock()
	if !errors.Is(err, ErrBehind) || time.Since(start) < MaxWait {
		t.Fatalf("large append with the disk hung: %v after %v", err, time.Since(start))
	}
}
