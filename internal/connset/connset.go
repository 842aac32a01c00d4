// Package connset tracks the live streams of a listener, so that shutdown
// can close each of them and wait for their goroutines to end.
package connset

import (
	"context"
	"sync"
)

// Set holds streams of type C. The zero value is ready to use.
type Set[C comparable] struct {
	mu     sync.Mutex
	live   map[C]struct{}
	wg     sync.WaitGroup
	closed bool
}

// Add records c; it reports false, recording nothing, once Close began.
func (s *Set[C]) Add(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.live == nil {
		s.live = make(map[C]struct{})
	}
	s.live[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// Done forgets c, whose goroutine ended; a second call does nothing.
func (s *Set[C]) Done(c C) {
	s.mu.Lock()
	_, ok := s.live[c]
	delete(s.live, c)
	s.mu.Unlock()
	if ok {
		s.wg.Done()
	}
}

// Closed reports whether Close began.
func (s *Set[C]) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close refuses further streams, calls end for every live one,
// concurrently, and waits until each is Done or ctx ends.
func (s *Set[C]) Close(ctx context.Context, end func(C)) {
	s.mu.Lock()
	s.closed = true
	all := make([]C, 0, len(s.live))
	for c := range s.live {
		all = append(all, c)
	}
	s.mu.Unlock()
	var ends sync.WaitGroup
	for _, c := range all {
		ends.Go(func() { end(c) })
	}
	ends.Wait()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
