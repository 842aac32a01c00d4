package audit

import (
	"context"
	"slices"
	"sync"
	"time"
)

// maxSubjects is how many distinct subjects (accounts tried, say) one
// event of Repeats lists.
const maxSubjects = 10

// Repeats turns occurrences that may repeat without end (failed logins
// from one address, links refused to one domain) into few audit events.
// Occurrences are grouped by key: once Threshold of a key's occurrences
// fall within Window, one event is recorded at once; after that, at most
// one event per key per Window sums up the repeats since the previous
// one. A key quiet for a whole Window is forgotten, and at most MaxKeys
// keys are followed at once (the occurrences of further keys are summed
// up together), so that neither the log nor the memory grows with a
// flood. It is safe for concurrent use; a nil *Repeats notes nothing.
type Repeats struct {
	log *Log
	o   RepeatsOptions

	mu      sync.Mutex
	tallies map[string]*tally
	others  *tally // occurrences of keys beyond MaxKeys
}

// RepeatsOptions configure a Repeats.
type RepeatsOptions struct {
	// Threshold is how many occurrences of a key within Window make its
	// first event; default 1, the first occurrence.
	Threshold int
	// Window is the span of Threshold and the least time between two
	// events of a key; default one minute.
	Window time.Duration
	// MaxKeys bounds the keys followed at once; default 1000.
	MaxKeys int
	// Event makes the event recorded for a run of occurrences.
	Event func(Repeat) Event
	// OnError is told when an event cannot be recorded; nil ignores it.
	OnError func(error)
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Occurrence is one thing that happened, to be summed up.
type Occurrence struct {
	// Target is what it happened to (an address, a domain).
	Target string
	// Subject is listed, once, in the event (an account tried); "" is
	// none.
	Subject string
	// Detail says what happened, for the event of the last occurrence
	// it covers.
	Detail string
}

// Repeat is what one event of a Repeats covers.
type Repeat struct {
	Key    string
	Target string // the Target of the occurrences
	// Count is how many occurrences the event covers: since the key's
	// previous event, or those within the window that made its first.
	Count int
	// Since is when the first of them happened.
	Since time.Time
	// Window is the Repeats' window.
	Window time.Duration
	// Subjects are the distinct subjects of the occurrences, sorted, at
	// most ten; MoreSubjects is set when there were more.
	Subjects     []string
	MoreSubjects bool
	// Detail is the Detail of the last occurrence.
	Detail string
	// First is set on the first event of a key since it was quiet;
	// later events sum up repeats.
	First bool
	// Others is set on an event summing up occurrences of keys beyond
	// MaxKeys; Key and Target are then empty.
	Others bool
}

// tally is what a Repeats knows of one key.
type tally struct {
	target string
	// recent are the latest occurrences within the window, before the
	// first event.
	recent []recent
	// reported is when the latest event was recorded; zero before the
	// first.
	reported time.Time
	pending  int       // occurrences since the latest event
	since    time.Time // the first of them
	subjects map[string]bool
	more     bool
	detail   string
}

// recent is an occurrence before a key's first event.
type recent struct {
	at      time.Time
	subject string
}

// NewRepeats returns a Repeats recording its events in log (nil records
// nothing).
func NewRepeats(log *Log, o RepeatsOptions) *Repeats {
	if o.Threshold < 1 {
		o.Threshold = 1
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.MaxKeys < 1 {
		o.MaxKeys = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	return &Repeats{log: log, o: o, tallies: make(map[string]*tally)}
}

// Note counts one occurrence of key, recording an event if one is due.
func (r *Repeats) Note(key string, oc Occurrence) {
	if r == nil {
		return
	}
	now := r.o.Now()
	r.mu.Lock()
	var rep *Repeat
	t, ok := r.tallies[key]
	switch {
	case ok:
		rep = r.add(t, key, oc, now)
	case len(r.tallies) < r.o.MaxKeys:
		t = &tally{target: oc.Target}
		r.tallies[key] = t
		rep = r.add(t, key, oc, now)
	default:
		if r.others == nil {
			r.others = &tally{}
		}
		rep = r.add(r.others, "", Occurrence{Detail: oc.Detail}, now)
		if rep != nil {
			rep.Others = true
		}
	}
	r.mu.Unlock()
	if rep != nil {
		r.record(*rep, now)
	}
}

// add counts oc in t and returns the event due, if any. r.mu is held.
func (r *Repeats) add(t *tally, key string, oc Occurrence, now time.Time) *Repeat {
	t.detail = oc.Detail
	if t.reported.IsZero() {
		// Before the first event: the occurrences within the window.
		cut := 0
		for cut < len(t.recent) && now.Sub(t.recent[cut].at) > r.o.Window {
			cut++
		}
		t.recent = append(t.recent[cut:], recent{now, oc.Subject})
		if len(t.recent) < r.o.Threshold {
			return nil
		}
		t.subjects, t.more = nil, false
		for _, rc := range t.recent {
			t.addSubject(rc.subject)
		}
		rep := t.take(key, len(t.recent), t.recent[0].at, r.o.Window, now)
		rep.First = true
		t.recent = nil
		return &rep
	}
	if t.pending == 0 {
		t.since = now
	}
	t.pending++
	t.addSubject(oc.Subject)
	if now.Sub(t.reported) < r.o.Window {
		return nil
	}
	rep := t.take(key, t.pending, t.since, r.o.Window, now)
	return &rep
}

// addSubject notes a subject of the tally's next event.
func (t *tally) addSubject(s string) {
	if s == "" || t.subjects[s] {
		return
	}
	if len(t.subjects) >= maxSubjects {
		t.more = true
		return
	}
	if t.subjects == nil {
		t.subjects = make(map[string]bool)
	}
	t.subjects[s] = true
}

// take makes the event of count occurrences since since and starts the
// next run.
func (t *tally) take(key string, count int, since time.Time, window time.Duration, now time.Time) Repeat {
	rep := Repeat{Key: key, Target: t.target, Count: count, Since: since, Window: window,
		MoreSubjects: t.more, Detail: t.detail}
	for s := range t.subjects {
		rep.Subjects = append(rep.Subjects, s)
	}
	slices.Sort(rep.Subjects)
	t.reported, t.pending = now, 0
	t.subjects, t.more = nil, false
	return rep
}

// Flush records the summaries that are due and forgets the keys quiet
// for a whole window.
func (r *Repeats) Flush() { r.flush(false) }

// flush records what is due, or with all every pending count.
func (r *Repeats) flush(all bool) {
	if r == nil {
		return
	}
	now := r.o.Now()
	var due []Repeat
	r.mu.Lock()
	check := func(key string, t *tally) (forget bool) {
		if t.reported.IsZero() {
			return len(t.recent) == 0 || now.Sub(t.recent[len(t.recent)-1].at) > r.o.Window
		}
		quiet := now.Sub(t.reported) >= r.o.Window
		if t.pending > 0 && (quiet || all) {
			due = append(due, t.take(key, t.pending, t.since, r.o.Window, now))
			return false
		}
		return t.pending == 0 && quiet
	}
	for key, t := range r.tallies {
		if check(key, t) {
			delete(r.tallies, key)
		}
	}
	if r.others != nil {
		n := len(due)
		if check("", r.others) {
			r.others = nil
		}
		if len(due) > n {
			due[n].Others = true
		}
	}
	r.mu.Unlock()
	for _, rep := range due {
		r.record(rep, now)
	}
}

// Run flushes every few seconds until ctx ends, then records every
// pending count, so that the log holds every occurrence summed up.
func (r *Repeats) Run(ctx context.Context) {
	if r == nil {
		return
	}
	every := min(max(r.o.Window/10, time.Second), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.flush(true)
			return
		case <-t.C:
			r.Flush()
		}
	}
}

// Keys returns how many keys are followed now.
func (r *Repeats) Keys() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tallies)
}

// record records the event of rep, made at now.
func (r *Repeats) record(rep Repeat, now time.Time) {
	ev := r.o.Event(rep)
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if err := r.log.Record(ev); err != nil {
		r.o.OnError(err)
	}
}
