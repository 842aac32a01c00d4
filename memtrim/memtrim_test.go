package memtrim

import (
	"runtime"
	"testing"
)

var sink [][]byte

func TestReleasesOnlyWhenQuiet(t *testing.T) {
	var activity uint64
	tr := New(Options{Activity: func() uint64 { return activity }, MinRetained: 1 << 20})
	tr.last = activity
	// Make garbage: allocate and drop 32 MiB.
	for i := 0; i < 32; i++ {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	activity += 1000 // busy interval
	if tr.Check() {
		t.Fatal("released memory during a busy interval")
	}
	if tr.Retained() < 1<<20 {
		runtime.GC() // the garbage may already be collected; make it free pages instead
	}
	if tr.Retained() < 1<<20 {
		t.Skipf("nothing retained to release (retained %d)", tr.Retained())
	}
	if !tr.Check() {
		t.Fatalf("did not release %d retained bytes in a quiet interval", tr.Retained())
	}
	if r := tr.Retained(); r >= 1<<20 {
		t.Fatalf("still %d bytes retained after releasing", r)
	}
	if tr.Check() {
		t.Fatal("released again with nothing retained")
	}
	// Still quiet, with new garbage: no second collection until the
	// server has been busy again.
	sink = append(sink, make([]byte, 8<<20))
	sink = nil
	if tr.Check() {
		t.Fatal("released twice in one quiet period")
	}
	activity += 1000
	tr.Check() // busy
	if !tr.Check() {
		t.Fatalf("did not release %d retained bytes after a new busy period", tr.Retained())
	}
	if tr.Trims() != 2 {
		t.Fatalf("trims = %d", tr.Trims())
	}
}
