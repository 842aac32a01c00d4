package muc

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"parley/storage"
)

// historyStore records appended history and, like SQLite, refuses to
// write once its context is cancelled.
type historyStore struct {
	storage.MUC // other methods are not used
	mu          sync.Mutex
	stored      []storage.MUCMessage
}

func (s *historyStore) AppendMUCHistory(ctx context.Context, msgs []storage.MUCMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.stored = append(s.stored, msgs...)
	s.mu.Unlock()
	return nil
}

// TestHistoryWriterStoresEverythingAtShutdown appends messages and stops
// the writer at once, many times: every message accepted must be stored,
// however the shutdown and the pending writes interleave.
func TestHistoryWriterStoresEverythingAtShutdown(t *testing.T) {
	for round := 0; round < 200; round++ {
		store := &historyStore{}
		w := newHistoryWriter(store, zerolog.Nop())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			w.run(ctx)
			close(done)
		}()
		const n = 5
		for i := 0; i < n; i++ {
			w.append(storage.MUCMessage{Room: "r@conference.example", StanzaID: fmt.Sprint(i)})
		}
		cancel()
		<-done
		if len(store.stored) != n {
			t.Fatalf("round %d: %d of %d messages stored", round, len(store.stored), n)
		}
	}
}
