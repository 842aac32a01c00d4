package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/journal"
	"parley/stanza"
)

// Policies for messages while the archive cannot be written.
const (
	Refuse  = "refuse"
	Deliver = "deliver"
)

// Options configure the archive.
type Options struct {
	Dir string
	// LocalDomains are the served domains and local services (the
	// group-chat domain) whose retention applies to a record.
	LocalDomains []string
	// Retention removes records older than this (0 keeps them);
	// DomainRetention overrides it for the records of a local domain.
	Retention       time.Duration
	DomainRetention map[string]time.Duration
	// RequirePlaintext refuses end-to-end encrypted messages.
	RequirePlaintext bool
	// OnFailure is Refuse or Deliver.
	OnFailure string
	// CheckpointInterval is how often the newest record is noted in the
	// audit log.
	CheckpointInterval time.Duration
	// PruneInterval is how often expired records are looked for.
	PruneInterval time.Duration
	Audit         *audit.Log
	Log           zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SegmentAge and SegmentSize bound a block of records (default a
	// day, 64 MiB).
	SegmentAge  time.Duration
	SegmentSize int64
}

// Archive writes the compliance archive.
type Archive struct {
	j    *journal.Journal
	opts Options
	log  zerolog.Logger
	now  func() time.Time
	bufs sync.Pool

	failingFlag atomic.Bool // failing is set: read on every message without the lock
	mu          sync.Mutex
	failing     error     // the failure being reported, nil while the archive works
	lastReport  time.Time // when a failure was last logged
	lost        int       // messages not archived (delivered) or refused since
	checkpoint  uint64    // the last record noted in the audit log
	localDomain map[string]bool
}

// Open opens the archive in opts.Dir, recovering what a crash left in its
// ring.
func Open(opts Options) (*Archive, error) {
	if opts.OnFailure == "" {
		opts.OnFailure = Refuse
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 5 * time.Minute
	}
	if opts.PruneInterval <= 0 {
		opts.PruneInterval = time.Hour
	}
	a := &Archive{opts: opts, log: opts.Log, now: opts.Now, localDomain: map[string]bool{}}
	if a.now == nil {
		a.now = time.Now
	}
	for _, d := range opts.LocalDomains {
		a.localDomain[d] = true
	}
	jopts := journal.Options{SegmentAge: opts.SegmentAge, SegmentSize: opts.SegmentSize, OnError: a.backgroundFailure}
	j, err := journal.Open(opts.Dir, jopts)
	// A command reading the archive (parley archive export) holds it for
	// a moment to recover a crashed server's last records: wait for it.
	for wait := 0; errors.Is(err, journal.ErrInUse) && wait < 50; wait++ {
		time.Sleep(100 * time.Millisecond)
		j, err = journal.Open(opts.Dir, jopts)
	}
	if err != nil {
		return nil, fmt.Errorf("compliance archive: %w", err)
	}
	a.j = j
	if j.Recovered > 0 {
		a.log.Warn().Int("records", j.Recovered).Str("dir", opts.Dir).Msg("compliance archive: recovered records written before a crash")
	}
	seq, _ := j.Head()
	a.log.Info().Str("dir", opts.Dir).Uint64("records_up_to", seq).Msg("compliance archive open")
	return a, nil
}

// Head returns the newest record's sequence number and hash.
func (a *Archive) Head() (uint64, journal.Hash) { return a.j.Head() }

// Sync writes every record to the disk.
func (a *Archive) Sync() error { return a.j.Sync() }

// Check applies the archive's policy to a message about to be routed,
// without archiving it: a stanza error when it must be refused.
func (a *Archive) Check(el *stanza.Element) error {
	return a.policy(stanza.MessageContent(el))
}

// policy refuses what require_plaintext forbids.
func (a *Archive) policy(c stanza.Content) error {
	if a.opts.RequirePlaintext && c.Encrypted != "" {
		return errEncrypted(c.Encrypted)
	}
	return nil
}

func errEncrypted(scheme string) error {
	return stanza.ErrText("policy-violation", "this server keeps an archive of all messages, as its operator must, and refuses end-to-end encrypted ("+scheme+") messages it could not archive; send the message unencrypted")
}

// errUnavailable is the error of a message refused while the archive
// cannot be written.
var errUnavailable = stanza.ErrText("resource-constraint", "the server cannot archive messages at the moment and delivers none it could not archive; try again later")

// Record archives a message with content that is about to be routed:
// from and to as routed, sender the real address of a room message's
// author. It returns nil once the record is safe from the server being
// killed, or the stanza error to bounce the message with: the policy
// refuses end-to-end encryption, or the archive cannot be written and the
// policy refuses unarchived messages. A message without content is not
// archived.
func (a *Archive) Record(dir Direction, from, to, sender string, el *stanza.Element) error {
	return a.record(dir, from, to, sender, to, el)
}

// record is Record with the real address of the recipient.
func (a *Archive) record(dir Direction, from, to, sender, recipient string, el *stanza.Element) error {
	c := stanza.MessageContent(el)
	if !c.Any() {
		return nil
	}
	if err := a.policy(c); err != nil {
		return err
	}
	bp, _ := a.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = appendPayload((*bp)[:0], dir, from, to, sender, recipient, el.Type(), el.ID(), el)
	_, err := a.j.Append(a.now(), *bp)
	if cap(*bp) <= 64<<10 {
		a.bufs.Put(bp)
	}
	if err != nil {
		a.failure(err)
		if a.opts.OnFailure == Refuse {
			return errUnavailable
		}
		return nil
	}
	if a.failingFlag.Load() {
		a.recovered()
	}
	return nil
}

// failure reports a message the archive could not take: loudly, but
// once every ten seconds at most.
func (a *Archive) failure(err error) {
	a.mu.Lock()
	first := a.failing == nil
	a.failing = err
	a.failingFlag.Store(true)
	a.lost++
	report := first || a.now().Sub(a.lastReport) >= 10*time.Second
	lost := a.lost
	if report {
		a.lastReport = a.now()
	}
	a.mu.Unlock()
	if !report {
		return
	}
	what := "refused"
	if a.opts.OnFailure == Deliver {
		what = "delivered without being archived"
	}
	a.log.Error().Err(err).Int("messages", lost).Str("policy", a.opts.OnFailure).Msg("compliance archive cannot be written; messages " + what)
	if first {
		a.opts.Audit.Record(audit.Event{Actor: "server", Action: audit.ArchiveFailure, Target: a.opts.Dir,
			Detail: fmt.Sprintf("archive cannot be written (%v); messages %s until it can", err, what)})
	}
}

// backgroundFailure is told of the journal's failures to write or sync.
func (a *Archive) backgroundFailure(err error) {
	if err == nil {
		return
	}
	a.mu.Lock()
	report := a.now().Sub(a.lastReport) >= 10*time.Second
	if report {
		a.lastReport = a.now()
	}
	a.mu.Unlock()
	if report {
		a.log.Error().Err(err).Msg("compliance archive: writing records to the disk failed; retrying")
	}
}

// recovered reports that the archive takes messages again.
func (a *Archive) recovered() {
	a.mu.Lock()
	err, lost := a.failing, a.lost
	a.failing, a.lost = nil, 0
	a.failingFlag.Store(false)
	a.mu.Unlock()
	if err == nil {
		return
	}
	a.log.Warn().Int("messages", lost).Msg("compliance archive writes again")
	a.opts.Audit.Record(audit.Event{Actor: "server", Action: audit.ArchiveFailure, Target: a.opts.Dir,
		Detail: fmt.Sprintf("archive writes again; %d messages were not archived meanwhile (policy %s)", lost, a.opts.OnFailure)})
}

// Run notes the archive's head in the audit log every checkpoint
// interval and prunes expired records every prune interval, until ctx
// ends; then it closes the archive, noting the final head.
func (a *Archive) Run(ctx context.Context) {
	cp := time.NewTicker(a.opts.CheckpointInterval)
	defer cp.Stop()
	pr := time.NewTicker(a.opts.PruneInterval)
	defer pr.Stop()
	if a.pruning() {
		a.Prune()
	}
	for {
		select {
		case <-ctx.Done():
			if err := a.j.Close(); err != nil {
				a.log.Error().Err(err).Msg("compliance archive: closing")
			}
			a.Checkpoint()
			return
		case <-cp.C:
			if err := a.j.Sync(); err == nil {
				a.Checkpoint()
			}
		case <-pr.C:
			if a.pruning() {
				a.Prune()
			}
		}
	}
}

// Close closes the archive (when Run does not).
func (a *Archive) Close() error {
	err := a.j.Close()
	a.Checkpoint()
	return err
}

// Checkpoint notes the newest record on the disk in the audit log, if it
// changed since the last note.
func (a *Archive) Checkpoint() {
	seq, h := a.j.Synced()
	a.mu.Lock()
	changed := seq != a.checkpoint
	a.checkpoint = seq
	a.mu.Unlock()
	if !changed || seq == 0 {
		return
	}
	if err := a.opts.Audit.Record(audit.Event{Actor: "server", Action: audit.ArchiveCheckpoint, Target: a.opts.Dir,
		Detail: formatAnchor(seq, h)}); err != nil {
		a.log.Error().Err(err).Msg("compliance archive: noting the checkpoint in the audit log")
	}
}

// formatAnchor and parseAnchor write and read a checkpoint's detail.
func formatAnchor(seq uint64, h journal.Hash) string {
	return fmt.Sprintf("seq=%d hash=%s", seq, h)
}

func parseAnchor(s string) (journal.Anchor, bool) {
	var a journal.Anchor
	var hexHash string
	if _, err := fmt.Sscanf(s, "seq=%d hash=%s", &a.Seq, &hexHash); err != nil {
		return a, false
	}
	h, ok := decodeHash(hexHash)
	a.Hash = h
	return a, ok
}

// pruning reports whether any retention is set.
func (a *Archive) pruning() bool {
	if a.opts.Retention > 0 {
		return true
	}
	for _, r := range a.opts.DomainRetention {
		if r > 0 {
			return true
		}
	}
	return false
}

// retention returns how long a record of the local domains in ds is
// kept: the longest retention among them; 0 is for ever.
func (a *Archive) retention(ds []string) time.Duration {
	longest := time.Duration(-1)
	for _, d := range ds {
		r, ok := a.opts.DomainRetention[d]
		if !ok {
			r = a.opts.Retention
		}
		if r == 0 {
			return 0
		}
		longest = max(longest, r)
	}
	if longest < 0 {
		return a.opts.Retention
	}
	return longest
}

// shortest returns the shortest retention in force (0 if none).
func (a *Archive) shortest() time.Duration {
	s := a.opts.Retention
	for _, r := range a.opts.DomainRetention {
		if r > 0 && (s == 0 || r < s) {
			s = r
		}
	}
	return s
}

// Prune removes expired records, a block at a time, keeping those of
// accounts under legal hold and those a longer retention keeps, and
// notes each removal in the audit log.
func (a *Archive) Prune() {
	holds, err := ReadHolds(a.opts.Dir)
	if err != nil {
		a.log.Error().Err(err).Msg("compliance archive: not pruning: the legal holds are unreadable")
		return
	}
	now := a.now()
	shortest := a.shortest()
	if shortest == 0 {
		return
	}
	keep := func(r journal.Record) bool {
		e, err := decode(r)
		if err != nil {
			return true // not ours to judge: kept
		}
		parties := []string{bareOf(e.From), bareOf(e.To), bareOf(e.Sender), bareOf(e.Recipient)}
		var domains []string
		for _, p := range parties {
			if holds.Held(p) {
				return true
			}
			if d := domainOf(p); a.localDomain[d] {
				domains = append(domains, d)
			}
		}
		r2 := a.retention(domains)
		return r2 == 0 || now.Sub(e.Time) < r2
	}
	res, err := a.j.Prune(now.Add(-shortest), keep)
	for _, c := range res.Checkpoints {
		a.opts.Audit.Record(audit.Event{Actor: "server", Action: audit.ArchivePruned, Target: a.opts.Dir,
			Detail: fmt.Sprintf("records %d to %d removed but %d kept (legal hold or longer retention); chain goes on from hash=%s", c.From, c.To, c.Kept, c.Hash)})
	}
	if len(res.Checkpoints) > 0 {
		// The full-text index must not keep words of removed records:
		// the next search rebuilds it.
		dropIndex(a.opts.Dir)
		a.log.Info().Uint64("removed", res.Removed).Uint64("kept", res.Kept).Msg("compliance archive: expired records removed")
	}
	if err != nil {
		a.log.Error().Err(err).Msg("compliance archive: pruning failed")
	}
}

func bareOf(j string) string {
	if i := strings.IndexByte(j, '/'); i >= 0 {
		return j[:i]
	}
	return j
}

func domainOf(bare string) string {
	if i := strings.IndexByte(bare, '@'); i >= 0 {
		return bare[i+1:]
	}
	return bare
}
