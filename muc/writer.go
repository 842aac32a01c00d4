package muc

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/storage"
)

// historyWriter stores room messages in the background, in order and in
// batches, so that a room's fan-out never waits for the disk.
type historyWriter struct {
	store storage.MUC
	log   zerolog.Logger

	mu      sync.Mutex
	pending []storage.MUCMessage
	running bool // run is storing in the background
	wake    chan struct{}
}

func newHistoryWriter(store storage.MUC, log zerolog.Logger) *historyWriter {
	return &historyWriter{store: store, log: log, wake: make(chan struct{}, 1)}
}

// append queues m for storage; when run is not running, it stores m at
// once.
func (w *historyWriter) append(m storage.MUCMessage) {
	w.mu.Lock()
	if !w.running {
		w.mu.Unlock()
		w.write(context.Background(), []storage.MUCMessage{m})
		return
	}
	w.pending = append(w.pending, m)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run stores queued messages until ctx ends, then stores what is left.
func (w *historyWriter) run(ctx context.Context) {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	// Writes are never cancelled half-way: a message accepted for the
	// history is stored even when shutdown begins during the write (or
	// wins the select against a pending wake-up).
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-w.wake:
			w.flush(wctx)
		case <-ctx.Done():
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			w.flush(fctx)
			cancel()
			return
		}
	}
}

func (w *historyWriter) flush(ctx context.Context) {
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	w.write(ctx, batch)
}

func (w *historyWriter) write(ctx context.Context, batch []storage.MUCMessage) {
	if len(batch) == 0 {
		return
	}
	if err := w.store.AppendMUCHistory(ctx, batch); err != nil {
		w.log.Error().Err(err).Int("messages", len(batch)).Msg("storing group-chat history failed")
	}
}
