// Package memtrim returns memory to the operating system when the server
// goes quiet. Go's collector keeps the heap at up to twice the live data
// between cycles and returns freed pages slowly; after a burst of logins
// or messages a server holding mostly idle connections would keep that
// slack resident for long. A Trimmer watches an activity counter and,
// once a whole interval passed with little activity and enough memory is
// retained without being used, collects and releases it at once.
package memtrim

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Options configure a Trimmer.
type Options struct {
	// Interval between checks; default 2s.
	Interval time.Duration
	// Activity returns a counter that grows with work done (stanzas
	// routed, streams opened).
	Activity func() uint64
	// QuietBelow is how much the counter may grow during an interval
	// that still counts as quiet; default 100.
	QuietBelow uint64
	// MinRetained is the least unused memory worth releasing; default 4 MiB.
	MinRetained uint64
}

// Trimmer releases unused memory when the process is quiet.
type Trimmer struct {
	opts    Options
	samples []metrics.Sample
	last    uint64
	armed   bool // a busy period was seen since the last release
	trims   int
}

// New returns a trimmer.
func New(o Options) *Trimmer {
	if o.Interval == 0 {
		o.Interval = 2 * time.Second
	}
	if o.QuietBelow == 0 {
		o.QuietBelow = 100
	}
	if o.MinRetained == 0 {
		o.MinRetained = 4 << 20
	}
	return &Trimmer{opts: o, armed: true, samples: []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}}
}

// Run checks every interval until ctx ends.
func (t *Trimmer) Run(ctx context.Context) {
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	t.last = t.opts.Activity()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Check()
		}
	}
}

// Check runs one check and reports whether memory was released: in the
// first quiet interval after a busy one, when at least MinRetained is held
// without being used. Once released it waits for the next busy period, so
// a quiet server with a large heap is not collected over and over.
func (t *Trimmer) Check() bool {
	now := t.opts.Activity()
	busy := now-t.last >= t.opts.QuietBelow
	t.last = now
	if busy {
		t.armed = true
		return false
	}
	if !t.armed || t.Retained() < t.opts.MinRetained {
		return false
	}
	debug.FreeOSMemory()
	t.armed = false
	t.trims++
	return true
}

// Retained estimates the bytes held but not in use: free heap pages not
// yet returned, free space inside spans, and garbage since the last
// collection.
func (t *Trimmer) Retained() uint64 {
	metrics.Read(t.samples)
	var v [4]uint64
	for i, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	free, objects, live, unused := v[0], v[1], v[2], v[3]
	garbage := uint64(0)
	if objects > live {
		garbage = objects - live
	}
	return free + unused + garbage
}

// Trims reports how many times memory was released.
func (t *Trimmer) Trims() int { return t.trims }
