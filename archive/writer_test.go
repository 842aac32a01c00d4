package archive

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// sink records what the writer stores; it can fail a number of writes.
type sink struct {
	mu      sync.Mutex
	got     []int
	batches int
	failN   int
	release chan struct{} // when set, each write waits for it
}

func (s *sink) write(_ context.Context, batch []int) error {
	if s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN > 0 {
		s.failN--
		return errors.New("disk full")
	}
	s.got = append(s.got, batch...)
	s.batches++
	return nil
}

func (s *sink) stored() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func TestWriterKeepsOrderAndSyncs(t *testing.T) {
	s := &sink{}
	w := NewWriter(s.write, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	waitRunning(w)
	var want []int
	for i := range 1000 {
		w.Append(i)
		want = append(want, i)
		if i%100 == 99 {
			if err := w.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := s.stored(); !slices.Equal(got, want) {
				t.Fatalf("after Sync: %d stored, want %d in order", len(got), len(want))
			}
		}
	}
	cancel()
	<-done
	if got := s.stored(); !slices.Equal(got, want) {
		t.Fatalf("stored %d, want %d in order", len(got), len(want))
	}
}

func TestWriterFlushesOnShutdown(t *testing.T) {
	s := &sink{release: make(chan struct{})}
	w := NewWriter(s.write, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	waitRunning(w)
	for i := range 10 {
		w.Append(i)
	}
	cancel() // shutdown while writes are held up
	close(s.release)
	<-done
	if got := s.stored(); len(got) != 10 {
		t.Fatalf("stored %v after shutdown, want all 10", got)
	}
}

func TestWriterWithoutRunWritesAtOnce(t *testing.T) {
	s := &sink{}
	w := NewWriter(s.write, zerolog.Nop())
	w.Append(1)
	w.Append(2)
	if got := s.stored(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("stored %v", got)
	}
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWriterRetriesFailedWrites(t *testing.T) {
	s := &sink{failN: 2}
	w := NewWriter(s.write, zerolog.Nop())
	w.Append(7)
	if got := s.stored(); !slices.Equal(got, []int{7}) {
		t.Fatalf("stored %v after two failed attempts, want [7]", got)
	}
	s.failN = retries + 1
	w.Append(8) // gives up after retries, still settles
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.stored(); !slices.Equal(got, []int{7}) {
		t.Fatalf("stored %v, want the failed message left out", got)
	}
}

// TestWriterStoresEverythingAtShutdown appends messages and stops the
// writer at once, many times, with a store that, like SQLite, refuses to
// write once its context is cancelled: every message accepted must be
// stored however the shutdown and the pending writes interleave.
func TestWriterStoresEverythingAtShutdown(t *testing.T) {
	for round := 0; round < 200; round++ {
		var mu sync.Mutex
		var stored []int
		w := NewWriter(func(ctx context.Context, batch []int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			mu.Lock()
			stored = append(stored, batch...)
			mu.Unlock()
			return nil
		}, zerolog.Nop())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		const n = 5
		for i := range n {
			w.Append(i)
		}
		cancel()
		<-done
		if len(stored) != n {
			t.Fatalf("round %d: %d of %d messages stored", round, len(stored), n)
		}
	}
}

// TestWriterBackPressure checks that appends wait once MaxPending
// messages are queued, until the writer catches up.
func TestWriterBackPressure(t *testing.T) {
	s := &sink{release: make(chan struct{})}
	w := NewWriter(s.write, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	waitRunning(w)
	const total = 2*MaxPending + 10
	var done atomic.Int64
	appended := make(chan struct{})
	go func() {
		for i := range total {
			w.Append(i)
			done.Add(1)
		}
		close(appended)
	}()
	// The writer is held up by the sink: the appender must stall at the
	// limit rather than queue everything. Wait until it stops moving.
	deadline := time.Now().Add(10 * time.Second)
	for last := int64(-1); ; {
		time.Sleep(50 * time.Millisecond)
		n := done.Load()
		if n == last {
			break
		}
		last = n
		if time.Now().After(deadline) {
			t.Fatal("the appender never stalled")
		}
	}
	select {
	case <-appended:
		t.Fatal("every append returned while nothing could be written")
	default:
	}
	w.mu.Lock()
	if n := len(w.pending); n > MaxPending {
		t.Errorf("%d messages queued, more than MaxPending", n)
	}
	w.mu.Unlock()
	close(s.release)
	<-appended
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(s.stored()); got != total {
		t.Fatalf("stored %d of %d", got, total)
	}
}

// waitRunning waits until Run has taken over: from then on appends are
// queued.
func waitRunning[T any](w *Writer[T]) {
	for {
		w.mu.Lock()
		running := w.running
		w.mu.Unlock()
		if running {
			return
		}
	}
}
