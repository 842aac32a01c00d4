package s2s

import (
	"sync"
	"sync/atomic"
	"time"
)

// idleTimer calls onIdle once a link has seen no stanza in either
// direction for the timeout. Activity is a single atomic store, so
// marking it on every stanza costs next to nothing.
type idleTimer struct {
	timeout time.Duration
	last    atomic.Int64 // unix nanoseconds of the latest activity
	onIdle  func()

	mu    sync.Mutex
	timer *time.Timer
}

func newIdleTimer(timeout time.Duration, onIdle func()) *idleTimer {
	it := &idleTimer{timeout: timeout, onIdle: onIdle}
	it.touch()
	it.mu.Lock()
	it.timer = time.AfterFunc(timeout, it.check)
	it.mu.Unlock()
	return it
}

func (it *idleTimer) touch() { it.last.Store(time.Now().UnixNano()) }

func (it *idleTimer) check() {
	quiet := time.Since(time.Unix(0, it.last.Load()))
	if quiet >= it.timeout {
		it.onIdle()
		return
	}
	it.mu.Lock()
	if it.timer != nil {
		it.timer.Reset(it.timeout - quiet)
	}
	it.mu.Unlock()
}

func (it *idleTimer) stop() {
	it.mu.Lock()
	if it.timer != nil {
		it.timer.Stop()
		it.timer = nil
	}
	it.mu.Unlock()
}
