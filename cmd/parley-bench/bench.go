package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// maxLoggedErrors is how many errors are described on stderr; the rest
// are only counted.
const maxLoggedErrors = 20

// bench is the state shared by one run's scenario code.
type bench struct {
	o     *options
	conn  *connector
	meter meter
	tag   string // distinguishes this run's resources, nicks and bodies
	start time.Time
	env   func(string) string

	// maxConnsPerProcess is where the idle scenario starts re-executing
	// itself (a field so tests can lower it).
	maxConnsPerProcess int

	errs   atomic.Int64
	logMu  sync.Mutex
	stderr io.Writer
}

func newBench(o *options, src *sources, stderr io.Writer, env func(string) string) *bench {
	b := make([]byte, 3)
	rand.Read(b)
	return &bench{
		o:                  o,
		conn:               newConnector(o, src),
		meter:              meter{pid: o.pid},
		tag:                hex.EncodeToString(b),
		start:              time.Now(),
		env:                env,
		maxConnsPerProcess: 15000,
		stderr:             stderr,
	}
}

// lockedWriter serializes writes to w with mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logf writes one diagnostic line to stderr.
func (b *bench) logf(format string, a ...any) {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	fmt.Fprintf(b.stderr, "parley-bench: "+format+"\n", a...)
}

// fail counts an error of the measured work and describes the first few.
func (b *bench) fail(err error) {
	n := b.errs.Add(1)
	switch {
	case n <= maxLoggedErrors:
		b.logf("error: %v", err)
	case n == maxLoggedErrors+1:
		b.logf("more errors: only counting them now")
	}
}

// since returns the time since the run started, the clock that message
// bodies carry.
func (b *bench) since() time.Duration { return time.Since(b.start) }

// resource returns a unique resource (or nick) for connection k.
func (b *bench) resource(kind string, k int) string {
	return fmt.Sprintf("pb%s-%s%d", b.tag, kind, k)
}

// record starts the output line with the fields every scenario has.
func (b *bench) record(params *record) *record {
	r := newRecord().set("scenario", b.o.scenario).set("server", b.o.server)
	params.set("transport", b.o.transport).set("mech", b.o.mech).set("procs", b.o.procs)
	if b.o.sources != "" {
		params.set("sources", b.o.sources)
	}
	return r.set("params", params)
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines and
// stops handing out work once ctx ends.
func parallel(ctx context.Context, n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// registerUsers creates accounts 1..n with in-band registration.
func (b *bench) registerUsers(ctx context.Context, n int) error {
	var mu sync.Mutex
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parallel(ctx, n, b.o.clients, func(i int) {
		if err := b.conn.register(ctx, i+1); err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
			cancel()
		}
	})
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return fmt.Errorf("in-band registration: %w", first)
	}
	return nil
}

// pool holds sessions with running read loops.
type pool struct {
	b        *bench
	mu       sync.Mutex
	sessions []*session
	closed   bool
	wg       sync.WaitGroup
}

// start runs s's read loop with h; a read error is counted. After
// closeAll, s is closed instead.
func (p *pool) start(s *session, h handler) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		s.close()
		return
	}
	p.sessions = append(p.sessions, s)
	p.mu.Unlock()
	p.wg.Go(func() {
		if err := s.readLoop(h); err != nil {
			p.b.fail(fmt.Errorf("%s: %w", s.jid, err))
			s.close()
		}
	})
}

// list returns the sessions started so far.
func (p *pool) list() []*session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*session(nil), p.sessions...)
}

// closeAll closes every session and waits for the read loops.
func (p *pool) closeAll() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, s := range p.list() {
		s.close()
	}
	p.wg.Wait()
}

// loginAll logs in the users idx (numbers from 1) on the connector's
// workers and starts their read loops with h. It is for setup: the first
// failure closes everything and is returned.
func (b *bench) loginAll(ctx context.Context, p *pool, idx []int, kind string, steps loginSteps, h handler) ([]*session, error) {
	out := make([]*session, len(idx))
	var mu sync.Mutex
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parallel(ctx, len(idx), b.o.clients, func(k int) {
		s, err := b.conn.login(ctx, idx[k], b.resource(kind, idx[k]), steps)
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
			cancel()
			return
		}
		s.kind = kind
		out[k] = s
		p.start(s, h)
	})
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		p.closeAll()
		return nil, first
	}
	return out, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
