// Package archive holds the writer every message archive shares: the
// user archives of message archive management, group-chat room archives,
// and any other record of messages. Messages are appended in the
// background, in order and in batches, so that delivery never waits for
// the disk, and a reader that must see what was just archived waits for
// it with Sync.
package archive

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// MaxPending is how many messages may wait to be written: an Append
// beyond it waits until the writer catches up, so that a disk slower than
// the traffic slows the senders down instead of growing memory without
// end (and a crash losing a long backlog).
const MaxPending = 5000

// maxBatch bounds one write, so that waiting appenders are let go batch
// by batch rather than after one long write.
const maxBatch = 1000

// retries is how many more times a failed batch is written before its
// messages are given up, with a pause that doubles from retryPause.
const (
	retries    = 3
	retryPause = 50 * time.Millisecond
)

// Writer appends messages of type T through a write function, such as a
// storage backend's append method.
type Writer[T any] struct {
	write func(context.Context, []T) error
	log   zerolog.Logger

	mu      sync.Mutex
	pending []T
	running bool   // Run is writing in the background
	queued  uint64 // messages appended so far
	settled uint64 // messages written (or given up) so far
	settle  chan struct{}
	wake    chan struct{}
}

// NewWriter returns a writer that stores batches with write. Until Run
// runs, each message is written as it is appended.
func NewWriter[T any](write func(context.Context, []T) error, log zerolog.Logger) *Writer[T] {
	return &Writer[T]{write: write, log: log, wake: make(chan struct{}, 1), settle: make(chan struct{})}
}

// Append queues m for writing after every message appended before it.
func (w *Writer[T]) Append(m T) {
	w.mu.Lock()
	w.queued++
	if !w.running {
		// Written at once, under the lock, so order is kept.
		w.store(context.Background(), []T{m})
		w.settledUpTo(w.queued)
		w.mu.Unlock()
		return
	}
	w.pending = append(w.pending, m)
	full := len(w.pending) >= MaxPending
	target := w.queued - uint64(MaxPending)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if full {
		// Back pressure: wait until the backlog is under the limit.
		w.waitSettled(target)
	}
}

// waitSettled waits until the first n messages are written (or given up).
func (w *Writer[T]) waitSettled(n uint64) {
	w.mu.Lock()
	for w.settled < n && w.running {
		ch := w.settle
		w.mu.Unlock()
		<-ch
		w.mu.Lock()
	}
	w.mu.Unlock()
}

// Sync waits until every message appended before the call is written, or
// ctx ends.
func (w *Writer[T]) Sync(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	for w.settled < target {
		ch := w.settle
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// Run writes queued messages in batches until ctx ends, then writes what
// is left; a write in progress is never cancelled, so every message
// accepted is stored.
func (w *Writer[T]) Run(ctx context.Context) {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case <-w.wake:
			w.flush(wctx)
		case <-ctx.Done():
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			fctx, cancel := context.WithTimeout(wctx, 10*time.Second)
			w.flush(fctx)
			cancel()
			return
		}
	}
}

// flush writes everything queued, in batches of at most maxBatch.
func (w *Writer[T]) flush(ctx context.Context) {
	for {
		w.mu.Lock()
		batch := w.pending
		if len(batch) > maxBatch {
			batch = batch[:maxBatch:maxBatch]
			w.pending = w.pending[maxBatch:]
		} else {
			w.pending = nil
		}
		// The messages before the rest of the queue are settled once
		// this batch is written.
		upTo := w.queued - uint64(len(w.pending))
		w.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		w.store(ctx, batch)
		w.mu.Lock()
		w.settledUpTo(upTo)
		w.mu.Unlock()
	}
}

// store writes batch, retrying a failed write a few times.
func (w *Writer[T]) store(ctx context.Context, batch []T) {
	pause := retryPause
	for attempt := 0; ; attempt++ {
		err := w.write(ctx, batch)
		if err == nil {
			return
		}
		if attempt == retries || ctx.Err() != nil {
			w.log.Error().Err(err).Int("messages", len(batch)).Msg("archiving failed; messages not archived")
			return
		}
		w.log.Warn().Err(err).Int("messages", len(batch)).Msg("archiving failed; retrying")
		time.Sleep(pause)
		pause *= 2
	}
}

// settledUpTo records that the first n messages are done and wakes Sync
// callers; w.mu is held.
func (w *Writer[T]) settledUpTo(n uint64) {
	if n <= w.settled {
		return
	}
	w.settled = n
	close(w.settle)
	w.settle = make(chan struct{})
}
