package journal

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// frameAt describes the frame that starts b: its length with padding, its
// sequence number, time and hash; n is 0 where b starts with no frame.
func frameAt(b []byte) (n int, seq uint64, t time.Time, h Hash) {
	if len(b) < 4 {
		return 0, 0, t, h
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < headerSize || 4+size+sha256.Size > len(b) {
		return 0, 0, t, h
	}
	body := b[4 : 4+size]
	seq = binary.BigEndian.Uint64(body[1:9])
	t = time.Unix(0, int64(binary.BigEndian.Uint64(body[9:17])))
	copy(h[:], b[4+size:])
	n = 4 + size + sha256.Size
	n += padding(n)
	return min(n, len(b)), seq, t, h
}

// writeFrames writes whole frames at the end of the segments, starting
// new segments where they are full or old; the caller holds segMu. On
// failure what was written of the failed write is cut off, and the
// records before it stay written.
func (j *Journal) writeFrames(frames []byte) error {
	start := 0
	flush := func(end int) error {
		if end == start {
			return nil
		}
		n, err := j.seg.Write(frames[start:end])
		if err != nil {
			if n > 0 {
				j.seg.Truncate(j.segSize)
				j.seg.Seek(j.segSize, io.SeekStart)
			}
			return fmt.Errorf("journal: writing to %s: %w", filepath.Join(j.dir, segmentName(j.segFirst)), err)
		}
		j.segSize += int64(n)
		// The last frame of the run is the journal's written head.
		for off := start; off < end; {
			n, seq, _, h := frameAt(frames[off:])
			if n == 0 {
				break
			}
			j.written, j.writtenH = seq, h
			off += n
		}
		start = end
		return nil
	}
	for off := 0; off < len(frames); {
		n, seq, t, _ := frameAt(frames[off:])
		if n == 0 {
			return fmt.Errorf("journal: a frame to write at %d is malformed", off)
		}
		pending := j.segSize + int64(off-start)
		if j.seg == nil || (pending > 0 && (pending+int64(n) > j.opts.SegmentSize || t.Sub(j.segStart) >= j.opts.SegmentAge)) {
			if err := flush(off); err != nil {
				return err
			}
			if err := j.rotate(seq, t); err != nil {
				return err
			}
		}
		off += n
	}
	return flush(len(frames))
}

// rotate starts a new segment whose first record is first, of time t;
// the caller holds segMu.
func (j *Journal) rotate(first uint64, t time.Time) error {
	if err := j.closeSegment(); err != nil {
		return err
	}
	name := filepath.Join(j.dir, segmentName(first))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal: starting a segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	j.seg, j.segFirst, j.segSize, j.segStart = f, first, 0, t
	return nil
}

// syncSegment syncs the segment being written to the disk. The copier
// goes on writing to it meanwhile: the ring is small, and must not fill up
// while a slow disk syncs.
func (j *Journal) syncSegment() error {
	j.segMu.Lock()
	if j.synced == j.written || j.seg == nil {
		j.segMu.Unlock()
		return nil
	}
	f, first, upTo, upToH := j.seg, j.segFirst, j.written, j.writtenH
	j.segMu.Unlock()
	err := f.Sync()
	j.segMu.Lock()
	defer j.segMu.Unlock()
	if err != nil {
		if j.seg != f {
			return nil // closed meanwhile, and synced as it was
		}
		return fmt.Errorf("journal: syncing %s: %w", filepath.Join(j.dir, segmentName(first)), err)
	}
	if upTo > j.synced {
		j.synced, j.syncedH = upTo, upToH
	}
	return nil
}

// closeSegment syncs and closes the segment being written; the caller
// holds segMu or owns the journal alone.
func (j *Journal) closeSegment() error {
	if j.seg == nil {
		return nil
	}
	err := j.seg.Sync()
	j.seg.Close()
	j.seg = nil
	if err != nil {
		return fmt.Errorf("journal: closing %s: %w", segmentName(j.segFirst), err)
	}
	j.synced, j.syncedH = j.written, j.writtenH
	return nil
}

func (j *Journal) segName() string {
	if j.seg == nil {
		return ""
	}
	return segmentName(j.segFirst)
}

// appendLarge appends a record too big for the ring straight to the
// segments, after everything the ring holds.
func (j *Journal) appendLarge(t time.Time, payload []byte) (uint64, error) {
	// Wait for the segments as long as Append waits for room, no longer.
	for start := time.Now(); !j.segMu.TryLock(); {
		if time.Since(start) >= MaxWait {
			return 0, ErrBehind
		}
		time.Sleep(time.Millisecond)
	}
	defer j.segMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return 0, ErrClosed
	}
	if err := j.drainLocked(); err != nil {
		return 0, err
	}
	seq := j.seq + 1
	frame, h := appendFrame(nil, j.digest, j.head, seq, t, payload)
	if err := j.writeFrames(frame); err != nil {
		return 0, err
	}
	j.seq, j.head = seq, h
	return seq, nil
}
