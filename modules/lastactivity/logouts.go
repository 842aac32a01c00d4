package lastactivity

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"parley/storage"
)

// batchDelay is how long a logout waits for others to be stored with it.
// A client that reconnects ends a session each time: stored one by one,
// every logout would be a write of its own with a sync to disk.
const batchDelay = 100 * time.Millisecond

// logouts collects the logouts to record and stores them in batches, one
// transaction each. Until stored, a logout is answered from memory.
type logouts struct {
	store Store
	log   zerolog.Logger
	wake  chan struct{} // a logout arrived; capacity 1

	writeMu sync.Mutex // held while storing: one writer at a time

	mu       sync.Mutex
	pending  map[string]storage.Logout // noted, not yet being stored
	flushing map[string]storage.Logout // being stored
	stopped  bool                      // run returned: store at once
}

func newLogouts(store Store, log zerolog.Logger) *logouts {
	return &logouts{
		store:   store,
		log:     log,
		wake:    make(chan struct{}, 1),
		pending: make(map[string]storage.Logout),
	}
}

// note records l, at once after run returned, otherwise with the next
// batch.
func (b *logouts) note(ctx context.Context, l storage.Logout) {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		b.write(ctx, []storage.Logout{l})
		return
	}
	b.pending[l.User] = l
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// get returns user's logout not yet stored, if there is one.
func (b *logouts) get(user string) (storage.Logout, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.pending[user]; ok {
		return l, true
	}
	l, ok := b.flushing[user]
	return l, ok
}

// forget drops the logout of a deleted account that is not stored yet.
// (One being stored is skipped by the store, as the account is gone.)
func (b *logouts) forget(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.pending, user)
}

// run stores the noted logouts in batches until ctx is done, then stores
// what is left; later logouts are stored as they come.
func (b *logouts) run(ctx context.Context) {
	timer := time.NewTimer(0)
	<-timer.C
	for {
		select {
		case <-ctx.Done():
			b.mu.Lock()
			b.stopped = true
			b.mu.Unlock()
			b.flush(context.WithoutCancel(ctx))
			return
		case <-b.wake:
		}
		timer.Reset(batchDelay)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		b.flush(context.WithoutCancel(ctx))
	}
}

// flush stores the pending logouts in one batch.
func (b *logouts) flush(ctx context.Context) {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.Lock()
	if len(b.pending) == 0 {
		b.mu.Unlock()
		return
	}
	b.flushing, b.pending = b.pending, make(map[string]storage.Logout, len(b.pending))
	batch := make([]storage.Logout, 0, len(b.flushing))
	for _, l := range b.flushing {
		batch = append(batch, l)
	}
	b.mu.Unlock()
	b.storeBatch(ctx, batch)
	b.mu.Lock()
	b.flushing = nil
	b.mu.Unlock()
}

// write stores batch outside of run.
func (b *logouts) write(ctx context.Context, batch []storage.Logout) {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.storeBatch(ctx, batch)
}

func (b *logouts) storeBatch(ctx context.Context, batch []storage.Logout) {
	if err := b.store.SetLastActivities(ctx, batch); err != nil {
		b.log.Error().Err(err).Int("logouts", len(batch)).Msg("record last activity failed")
	}
}
