package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/audit"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// repeatsLog is a Repeats on a fresh log, with the events it recorded.
type repeatsLog struct {
	t   *testing.T
	dir string
	r   *audit.Repeats
	clk *clock
}

func newRepeats(t *testing.T, threshold int, window time.Duration, maxKeys int) *repeatsLog {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	clk := &clock{now: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)}
	r := audit.NewRepeats(l, audit.RepeatsOptions{
		Threshold: threshold,
		Window:    window,
		MaxKeys:   maxKeys,
		Now:       clk.Now,
		OnError:   func(err error) { t.Errorf("recording: %v", err) },
		Event: func(r audit.Repeat) audit.Event {
			return audit.Event{Actor: "server", Action: "test.repeat", Target: r.Target,
				Detail: fmt.Sprintf("first=%v others=%v count=%d subjects=%s more=%v last=%s",
					r.First, r.Others, r.Count, strings.Join(r.Subjects, ","), r.MoreSubjects, r.Detail)}
		},
	})
	return &repeatsLog{t: t, dir: dir, r: r, clk: clk}
}

// details returns the details of the events recorded so far.
func (rl *repeatsLog) details() []string {
	rl.t.Helper()
	var out []string
	if err := audit.Read(rl.dir, time.Time{}, func(e audit.Entry) error {
		out = append(out, e.Target+": "+e.Detail)
		return nil
	}); err != nil {
		rl.t.Fatal(err)
	}
	return out
}

func (rl *repeatsLog) want(want ...string) {
	rl.t.Helper()
	got := rl.details()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		rl.t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRepeatsThreshold: no event below the threshold within the window;
// the occurrence that reaches it makes one, with the subjects; repeats
// are summed up once per window; a key quiet for a window starts over.
func TestRepeatsThreshold(t *testing.T) {
	rl := newRepeats(t, 3, 5*time.Minute, 100)
	note := func(subject string) {
		rl.r.Note("10.0.0.1", audit.Occurrence{Target: "10.0.0.1", Subject: subject, Detail: "d-" + subject})
	}
	note("a@x")
	rl.clk.add(4 * time.Minute)
	note("b@x")
	rl.clk.add(2 * time.Minute) // the first has left the window
	note("b@x")
	rl.want()
	rl.clk.add(time.Minute)
	note("c@x") // three within five minutes: 4m, 6m, 7m
	rl.want("10.0.0.1: first=true others=false count=3 subjects=b@x,c@x more=false last=d-c@x")

	for range 50 {
		note("d@x")
	}
	rl.r.Flush()
	rl.want("10.0.0.1: first=true others=false count=3 subjects=b@x,c@x more=false last=d-c@x")
	rl.clk.add(5 * time.Minute)
	rl.r.Flush()
	rl.want("10.0.0.1: first=true others=false count=3 subjects=b@x,c@x more=false last=d-c@x",
		"10.0.0.1: first=false others=false count=50 subjects=d@x more=false last=d-d@x")
	// A window later with nothing new, the key is forgotten.
	rl.clk.add(5 * time.Minute)
	rl.r.Flush()
	if n := rl.r.Keys(); n != 0 {
		t.Fatalf("%d keys followed after a quiet window", n)
	}
	note("e@x")
	note("e@x")
	rl.want("10.0.0.1: first=true others=false count=3 subjects=b@x,c@x more=false last=d-c@x",
		"10.0.0.1: first=false others=false count=50 subjects=d@x more=false last=d-d@x")
}

// TestRepeatsFirstAtOnce: with a threshold of one the first occurrence is
// recorded at once, repeats at most once per window, the summary due
// when the next occurrence comes after the window.
func TestRepeatsFirstAtOnce(t *testing.T) {
	rl := newRepeats(t, 1, time.Minute, 100)
	note := func(key, detail string) { rl.r.Note(key, audit.Occurrence{Target: key, Detail: detail}) }
	note("b.test", "one")
	note("c.test", "other")
	for i := range 1000 {
		note("b.test", fmt.Sprint(i))
	}
	rl.want("b.test: first=true others=false count=1 subjects= more=false last=one",
		"c.test: first=true others=false count=1 subjects= more=false last=other")
	rl.clk.add(time.Minute)
	note("b.test", "late")
	rl.want("b.test: first=true others=false count=1 subjects= more=false last=one",
		"c.test: first=true others=false count=1 subjects= more=false last=other",
		"b.test: first=false others=false count=1001 subjects= more=false last=late")
}

// TestRepeatsBounded: beyond MaxKeys keys, occurrences are summed up
// together, and at most ten subjects are listed.
func TestRepeatsBounded(t *testing.T) {
	rl := newRepeats(t, 1, time.Minute, 3)
	for i := range 10 {
		rl.r.Note(fmt.Sprint("k", i), audit.Occurrence{Target: fmt.Sprint("t", i), Detail: "x"})
	}
	if n := rl.r.Keys(); n != 3 {
		t.Fatalf("%d keys followed, want 3", n)
	}
	rl.want("t0: first=true others=false count=1 subjects= more=false last=x",
		"t1: first=true others=false count=1 subjects= more=false last=x",
		"t2: first=true others=false count=1 subjects= more=false last=x",
		": first=true others=true count=1 subjects= more=false last=x")

	rl = newRepeats(t, 12, time.Minute, 3)
	for i := range 12 {
		rl.r.Note("k", audit.Occurrence{Target: "t", Subject: fmt.Sprintf("u%02d", i)})
	}
	rl.want("t: first=true others=false count=12 subjects=u00,u01,u02,u03,u04,u05,u06,u07,u08,u09 more=true last=")
}

// TestRepeatsRunFlushesAtTheEnd: when Run ends, counts not yet recorded
// are, so that no occurrence goes unrecorded.
func TestRepeatsRunFlushesAtTheEnd(t *testing.T) {
	rl := newRepeats(t, 1, time.Hour, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rl.r.Run(ctx); close(done) }()
	rl.r.Note("k", audit.Occurrence{Target: "t", Detail: "1"})
	rl.r.Note("k", audit.Occurrence{Target: "t", Detail: "2"})
	rl.r.Note("k", audit.Occurrence{Target: "t", Detail: "3"})
	cancel()
	<-done
	rl.want("t: first=true others=false count=1 subjects= more=false last=1",
		"t: first=false others=false count=2 subjects= more=false last=3")
}

// TestRepeatsNil: a nil Repeats notes nothing and does not fail.
func TestRepeatsNil(t *testing.T) {
	var r *audit.Repeats
	r.Note("k", audit.Occurrence{})
	r.Flush()
	r.Run(context.Background())
}
