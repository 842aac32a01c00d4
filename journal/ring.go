package journal

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The ring of an exclusive journal.
const (
	ringFile      = "ring"
	ringBlocks    = 8
	ringBlockSize = 128 << 10
	// copyInterval is how often the copier looks for records to move
	// from the ring to the segments.
	copyInterval = 10 * time.Millisecond
)

// ring is a file of fixed size, mapped into memory, in blocks. Frames are
// written one after another into the current block, each preceded by a
// zero length where it ends so that a block read from its start ends
// there; the length starting a frame is stored last, in one aligned store.
// The copier moves frames to the segments block by block, in order, and a
// block is written again only once copied.
type ring struct {
	f      *os.File
	mem    []byte
	blocks int
	bsize  int
	ends   []int // where the frames of each finished block end
	// Under Journal.mu:
	wb, wo int // block and offset of the next frame
	cb, co int // block and offset of the next byte to copy
}

// openRing opens (creating it if need be) the ring file at path and maps
// it; its contents stay for recovery.
func openRing(path string) (*ring, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	size := st.Size()
	if size != ringBlocks*ringBlockSize {
		// New (or not a ring of ours): make one, writing its blocks out
		// so that the disk space is there. The ring is small, so that
		// what it is written through stays in the processor's cache.
		size = ringBlocks * ringBlockSize
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: %w", err)
		}
		zeros := make([]byte, ringBlockSize)
		for off := int64(0); off < size; off += ringBlockSize {
			if _, err := f.WriteAt(zeros, off); err != nil {
				f.Close()
				return nil, fmt.Errorf("journal: making the ring %s: %w", path, err)
			}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: making the ring %s: %w", path, err)
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: mapping the ring %s: %w", path, err)
	}
	n := int(size / ringBlockSize)
	return &ring{f: f, mem: mem, blocks: n, bsize: ringBlockSize, ends: make([]int, n)}, nil
}

func (r *ring) close() {
	syscall.Munmap(r.mem)
	r.f.Close()
}

// reset empties the ring.
func (r *ring) reset() {
	for b := 0; b < r.blocks; b++ {
		r.store(b*r.bsize, 0)
	}
	r.wb, r.wo, r.cb, r.co = 0, 0, 0, 0
}

// store stores a frame length at off in one aligned store.
func (r *ring) store(off int, v uint32) {
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], v)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&r.mem[off])), binary.NativeEndian.Uint32(be[:]))
}

// fits reports whether a frame of n bytes fits in a block at all.
func (r *ring) fits(n int) bool { return n <= r.bsize }

// room reports whether a frame of n bytes can be written now.
func (r *ring) room(n int) bool {
	if r.wo+n <= r.bsize {
		return true
	}
	return (r.wb+1)%r.blocks != r.cb
}

// put writes a frame; room said there is room. It reports whether it
// started a block.
func (r *ring) put(frame []byte) bool {
	started := false
	if r.wo+len(frame) > r.bsize {
		r.ends[r.wb] = r.wo
		r.wb = (r.wb + 1) % r.blocks
		r.wo = 0
		r.store(r.wb*r.bsize, 0)
		started = true
	}
	base := r.wb*r.bsize + r.wo
	if r.wo+len(frame)+4 <= r.bsize {
		r.store(base+len(frame), 0)
	}
	copy(r.mem[base+4:], frame[4:])
	r.store(base, binary.BigEndian.Uint32(frame))
	r.wo += len(frame)
	return started
}

// nextChunk returns the frames to copy next, moving past finished blocks;
// nil when everything is copied.
func (r *ring) nextChunk() []byte {
	for {
		end := r.wo
		if r.cb != r.wb {
			end = r.ends[r.cb]
		}
		if r.co < end {
			base := r.cb * r.bsize
			return r.mem[base+r.co : base+end]
		}
		if r.cb == r.wb {
			return nil
		}
		r.cb = (r.cb + 1) % r.blocks
		r.co = 0
	}
}

// copier moves records from the ring to the segments and syncs them,
// until Close.
func (j *Journal) copier() {
	defer close(j.done)
	tick := time.NewTicker(copyInterval)
	defer tick.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-j.stop:
			return
		case <-j.wake:
		case <-tick.C:
		}
		err := j.copyOut()
		if err == nil && time.Since(lastSync) >= j.opts.SyncInterval {
			lastSync = time.Now()
			err = j.syncSegment()
			j.setFailed(err)
		}
		if err != nil && j.opts.OnError != nil {
			j.opts.OnError(err)
		}
	}
}

// copyOut moves every record in the ring to the segments.
func (j *Journal) copyOut() error {
	j.segMu.Lock()
	defer j.segMu.Unlock()
	for {
		j.mu.Lock()
		chunk := j.ring.nextChunk()
		j.mu.Unlock()
		if chunk == nil {
			return nil
		}
		// The chunk stays as it is while it is copied: the writer never
		// goes back into a block the copier is in.
		err := j.writeFrames(chunk)
		j.setFailed(err)
		j.mu.Lock()
		if err == nil {
			j.ring.co += len(chunk)
		}
		j.cond.Broadcast()
		j.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// drainLocked is copyOut for a caller that holds segMu and mu.
func (j *Journal) drainLocked() error {
	for {
		chunk := j.ring.nextChunk()
		if chunk == nil {
			return nil
		}
		err := j.writeFrames(chunk)
		j.setFailed(err)
		if err != nil {
			return err
		}
		j.ring.co += len(chunk)
		j.cond.Broadcast()
	}
}

// setFailed records the outcome of a background write or sync.
func (j *Journal) setFailed(err error) {
	j.errMu.Lock()
	j.failed = err
	j.failing.Store(err != nil)
	j.errMu.Unlock()
}

// recover moves the records of the ring that the segments lack (those of
// appends that returned before a crash) to the segments, syncs them and
// empties the ring. It returns how many it moved.
func (j *Journal) recover(r *ring) (int, error) {
	type found struct {
		off, n int
		seq    uint64
	}
	var list []found
	for b := 0; b < r.blocks; b++ {
		base := b * r.bsize
		for off := 0; off < r.bsize; {
			n, seq, _, _ := frameAt(r.mem[base+off : base+r.bsize])
			if n == 0 || r.mem[base+off+4] != version {
				break
			}
			if seq > j.written {
				list = append(list, found{base + off, n, seq})
			}
			off += n
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].seq < list[b].seq })
	var frames []byte
	next, prev := j.written+1, j.writtenH
	moved := 0
	for _, f := range list {
		if f.seq < next {
			continue
		}
		if f.seq != next {
			break
		}
		fr := r.mem[f.off : f.off+f.n]
		size := int(binary.BigEndian.Uint32(fr))
		_, _, _, h := frameAt(fr)
		if j.digest.chain(prev, fr[4:4+size]) != h {
			break // not a record of this chain: an older lap's leftovers
		}
		frames = append(frames, fr...)
		next, prev = f.seq+1, h
		moved++
	}
	if len(frames) > 0 {
		if err := j.writeFrames(frames); err != nil {
			return 0, fmt.Errorf("journal: recovering from the ring: %w", err)
		}
		if err := j.seg.Sync(); err != nil {
			return 0, fmt.Errorf("journal: recovering from the ring: %w", err)
		}
	}
	r.reset()
	return moved, nil
}
