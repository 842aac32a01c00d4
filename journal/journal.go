package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultSegmentSize  = 64 << 20
	DefaultSegmentAge   = 24 * time.Hour
	DefaultSyncInterval = 100 * time.Millisecond
)

// ErrClosed is returned by Append on a closed journal.
var ErrClosed = errors.New("journal: closed")

// ErrInUse is returned by Open when another process has the journal
// open.
var ErrInUse = errors.New("in use by another process")

// ErrBehind is returned by Append when the ring stayed full for MaxWait:
// the disk takes records more slowly than they come, or hangs.
var ErrBehind = errors.New("journal: the disk has not taken records for too long")

// MaxWait is the longest Append waits for room in the ring.
const MaxWait = time.Second

// Options configure a journal.
type Options struct {
	// Shared lets several processes append, each append locking the
	// directory, finding the current end, writing and syncing to the
	// disk: for journals of few records, such as the audit log.
	// Otherwise the journal belongs to one process while it is open and
	// appends go through the ring (see Journal).
	Shared bool
	// SegmentSize and SegmentAge bound a segment: a new one starts when
	// the current one holds this many bytes or its first record is this
	// old; pruning removes whole segments.
	SegmentSize int64
	SegmentAge  time.Duration
	// SyncInterval is how often what reached the segments is synced to
	// the disk.
	SyncInterval time.Duration
	// OnError, if set, is told of failures to write or sync segments in
	// the background (each time one happens) and of recovery (nil).
	OnError func(error)
}

// Journal appends records to the journal in a directory.
//
// An exclusive journal takes appends into a ring: a file of fixed size
// mapped into memory, where a record is copied (and so in the operating
// system's hands, safe from the process being killed) before Append
// returns, at the cost of a memory copy and no system call. A background
// copier moves what the ring holds to the segment files in large writes
// and syncs them every SyncInterval; when the journal is opened again
// after a crash, what the ring holds beyond the segments is recovered.
// Were the copier to fall a whole ring behind, appends wait for it.
type Journal struct {
	dir  string
	opts Options
	lock *os.File // the directory's lock file

	// Appending.
	mu     sync.Mutex
	cond   sync.Cond // the copier made room in the ring
	seq    uint64    // the last record appended
	head   Hash
	closed bool
	digest *hasher
	buf    []byte
	ring   *ring // nil for a shared journal

	// The segment being written, and what reached it.
	segMu    sync.Mutex
	seg      *os.File
	segFirst uint64    // the first sequence number of seg
	segSize  int64     // bytes of seg
	segStart time.Time // the time of seg's first record
	written  uint64    // the last record in a segment
	writtenH Hash
	synced   uint64 // the last record synced to the disk
	syncedH  Hash
	// Recovered is how many records Open moved from the ring to the
	// segments: appends that returned before a crash.
	Recovered int

	pruneMu sync.Mutex // one Prune at a time

	failing atomic.Bool // failed is set
	errMu   sync.Mutex
	failed  error // the last background failure, until the copier succeeds

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Open opens (creating it if need be) the journal in dir. A record cut
// short at the end by a crash is removed: its append never returned. An
// exclusive journal recovers what its ring holds beyond the segments and
// starts its copier, which Close stops.
func Open(dir string, opts Options) (*Journal, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.SegmentAge <= 0 {
		opts.SegmentAge = DefaultSegmentAge
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: creating %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, opts: opts, lock: lock, digest: newHasher()}
	j.cond.L = &j.mu
	if opts.Shared {
		return j, nil
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("journal: %s: %w", dir, ErrInUse)
	}
	fail := func(err error) (*Journal, error) {
		j.closeSegment()
		lock.Close()
		return nil, err
	}
	if err := j.findTail(true); err != nil {
		return fail(err)
	}
	j.removeCovered()
	r, err := openRing(filepath.Join(dir, ringFile))
	if err != nil {
		return fail(err)
	}
	if j.Recovered, err = j.recover(r); err != nil {
		r.close()
		return fail(err)
	}
	j.ring = r
	j.seq, j.head = j.written, j.writtenH
	j.synced, j.syncedH = j.written, j.writtenH
	j.wake, j.stop, j.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go j.copier()
	return j, nil
}

// Recover moves the records that the ring of the exclusive journal in dir
// holds beyond its segments (appends that returned before a crash) into
// the segments, unless another process has the journal open (its copier
// does that). It returns how many records it moved. A directory without
// a ring has nothing to recover.
func Recover(dir string) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, ringFile)); err != nil {
		return 0, nil
	}
	j, err := Open(dir, Options{})
	if errors.Is(err, ErrInUse) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := j.Recovered
	return n, j.Close()
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Head returns the sequence number and hash of the last record appended.
func (j *Journal) Head() (uint64, Hash) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq, j.head
}

// Synced returns the sequence number and hash of the last record synced
// to the disk in a segment: a head that Verify will find, to be noted
// elsewhere as an Anchor.
func (j *Journal) Synced() (uint64, Hash) {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	return j.synced, j.syncedH
}

// Failed returns the last failure to write or sync in the background, or
// nil once the copier succeeded since.
func (j *Journal) Failed() error {
	if !j.failing.Load() {
		return nil
	}
	j.errMu.Lock()
	defer j.errMu.Unlock()
	return j.failed
}

// Append appends a record with time t and payload (which the journal
// does not keep) after every record appended before, and returns its
// sequence number once it is safe from the process being killed: copied
// into the ring, or for a shared journal written and synced to the disk.
// While the copier cannot write the segments, Append fails with what
// stops it.
func (j *Journal) Append(t time.Time, payload []byte) (uint64, error) {
	if j.ring == nil {
		return j.appendShared(t, payload)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, ErrClosed
	}
	n := frameSize(len(payload))
	if !j.ring.fits(n) {
		j.mu.Unlock()
		seq, err := j.appendLarge(t, payload)
		j.mu.Lock()
		return seq, err
	}
	if !j.ring.room(n) {
		// The copier is a whole ring behind: wait for it, but not for
		// ever, so that a disk that hangs shows as a failure.
		start := time.Now()
		timer := time.AfterFunc(MaxWait, func() {
			j.mu.Lock()
			j.cond.Broadcast()
			j.mu.Unlock()
		})
		defer timer.Stop()
		for !j.ring.room(n) {
			if err := j.Failed(); err != nil {
				return 0, err
			}
			if time.Since(start) >= MaxWait {
				return 0, ErrBehind
			}
			j.kick()
			j.cond.Wait()
			if j.closed {
				return 0, ErrClosed
			}
		}
	}
	if err := j.Failed(); err != nil {
		return 0, err
	}
	// The frame is made only now: while Append waited for room, other
	// appends moved the head and reused j.buf.
	seq := j.seq + 1
	buf, h := appendFrame(j.buf[:0], j.digest, j.head, seq, t, payload)
	j.buf = buf
	if cap(j.buf) > 1<<20 {
		j.buf = nil
	}
	if j.ring.put(buf) {
		j.kick()
	}
	j.seq, j.head = seq, h
	return seq, nil
}

// kick wakes the copier.
func (j *Journal) kick() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// appendShared appends to a shared journal: under the directory's lock,
// at the end another process may have moved, synced before it returns.
func (j *Journal) appendShared(t time.Time, payload []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, ErrClosed
	}
	if err := syscall.Flock(int(j.lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("journal: locking %s: %w", j.dir, err)
	}
	defer syscall.Flock(int(j.lock.Fd()), syscall.LOCK_UN)
	j.segMu.Lock()
	defer j.segMu.Unlock()
	if err := j.findTail(true); err != nil {
		return 0, err
	}
	seq := j.written + 1
	buf, h := appendFrame(j.buf[:0], j.digest, j.writtenH, seq, t, payload)
	j.buf = buf
	if err := j.writeFrames(buf); err != nil {
		return 0, err
	}
	if err := j.seg.Sync(); err != nil {
		return 0, fmt.Errorf("journal: syncing %s: %w", j.dir, err)
	}
	j.written, j.writtenH = seq, h
	j.synced, j.syncedH = seq, h
	j.seq, j.head = seq, h
	j.closeSegment()
	return seq, nil
}

// Sync writes everything appended so far to the segments and syncs them
// to the disk.
func (j *Journal) Sync() error {
	if j.ring == nil {
		return nil // every append is synced
	}
	if err := j.copyOut(); err != nil {
		return err
	}
	return j.syncSegment()
}

// Close writes and syncs what was appended and closes the journal;
// appends after it fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.cond.Broadcast()
	j.mu.Unlock()
	var err error
	if j.ring != nil {
		close(j.stop)
		<-j.done
		err = j.copyOut()
		if serr := j.syncSegment(); err == nil {
			err = serr
		}
		if err == nil {
			// Everything is in the segments: nothing to recover.
			j.mu.Lock()
			j.ring.reset()
			j.mu.Unlock()
		}
		j.ring.close()
	}
	j.segMu.Lock()
	if cerr := j.closeSegment(); err == nil {
		err = cerr
	}
	j.segMu.Unlock()
	j.lock.Close()
	return err
}

// findTail finds the last record in the segments and opens its segment
// for appending; with repair (the caller holds the directory's lock), a
// torn record at the end is cut off and empty segments after the last
// record are removed. The caller holds segMu or owns the journal alone.
func (j *Journal) findTail(repair bool) error {
	cps, err := readCheckpoints(j.dir)
	if err != nil {
		return err
	}
	segs, err := listSegments(j.dir)
	if err != nil {
		return err
	}
	j.written, j.writtenH = 0, Hash{}
	if last := lastCheckpoint(cps); last != nil {
		j.written, j.writtenH = last.To, last.hash()
	}
	j.closeSegment()
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		path := filepath.Join(j.dir, s.name)
		first, last, end, err := scanSegment(path, repair)
		if err != nil {
			return err
		}
		if last == nil {
			if repair {
				os.Remove(path)
			}
			continue
		}
		if last.Seq <= j.written {
			break // every record is behind the last checkpoint
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		if repair {
			// Cut off the space made for frames that were never written.
			if err := f.Truncate(end); err != nil {
				f.Close()
				return fmt.Errorf("journal: %w", err)
			}
		}
		if _, err := f.Seek(end, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("journal: %w", err)
		}
		j.seg, j.segFirst, j.segSize, j.segStart = f, s.first, end, first.Time
		j.written, j.writtenH = last.Seq, last.Hash
		return nil
	}
	return nil
}

// scanSegment reads a segment's frames without checking hashes and
// returns its first and last records and where the last one ends; with
// repair, a torn record at the end is cut off, otherwise it ends the
// segment.
func scanSegment(path string, repair bool) (first, last *Record, end int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fr := &frameReader{r: bufio.NewReaderSize(f, 1<<16)}
	for {
		rec, err := fr.next()
		if err == io.EOF {
			return first, last, end, nil
		}
		if errors.Is(err, errTorn) {
			if repair {
				if err := os.Truncate(path, end); err != nil {
					return nil, nil, 0, fmt.Errorf("journal: cutting a torn record off %s: %w", path, err)
				}
			}
			return first, last, end, nil
		}
		if err != nil {
			return nil, nil, 0, fmt.Errorf("journal: %s: %w", path, err)
		}
		r := rec
		r.Payload = nil
		if first == nil {
			first = &r
		}
		last, end = &r, fr.off
	}
}

// removeCovered removes segments whose records are all behind a
// checkpoint (left over when a prune was cut short).
func (j *Journal) removeCovered() {
	cps, err := readCheckpoints(j.dir)
	if err != nil {
		return
	}
	last := lastCheckpoint(cps)
	if last == nil {
		return
	}
	segs, err := listSegments(j.dir)
	if err != nil {
		return
	}
	// A segment ends where the next begins; the last one is never covered.
	for i := 0; i+1 < len(segs); i++ {
		if segs[i+1].first-1 <= last.To && segs[i].name != j.segName() {
			os.Remove(filepath.Join(j.dir, segs[i].name))
		}
	}
}

// segment is a segment file of a directory.
type segment struct {
	name  string
	first uint64
}

func segmentName(first uint64) string { return fmt.Sprintf("seg-%020d.log", first) }

// listSegments lists the segment files of dir in order.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var segs []segment
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, "seg-") || !strings.HasSuffix(n, ".log") {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(n, "seg-"), ".log"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("journal: %s: not a segment name", filepath.Join(dir, n))
		}
		segs = append(segs, segment{name: n, first: first})
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a].first < segs[b].first })
	return segs, nil
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: syncing %s: %w", dir, err)
	}
	return nil
}
