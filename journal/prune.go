package journal

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// PruneResult tells what a Prune removed.
type PruneResult struct {
	Checkpoints []Checkpoint // the checkpoints written
	Removed     uint64       // records removed
	Kept        uint64       // records of removed blocks kept
}

// Prune removes every segment, but the one being written, whose newest
// record is older than cutoff, keeping the records for which keep says
// so; and it drops from the kept records of earlier prunes those keep no
// longer keeps. Each block removed or changed leaves a checkpoint.
func (j *Journal) Prune(cutoff time.Time, keep func(Record) bool) (PruneResult, error) {
	var res PruneResult
	if j.ring == nil {
		return res, fmt.Errorf("journal: a shared journal is not pruned")
	}
	j.pruneMu.Lock()
	defer j.pruneMu.Unlock()
	// Only segments older than the one being written now are touched,
	// so the copier goes on writing meanwhile.
	j.segMu.Lock()
	active := j.segName()
	j.segMu.Unlock()
	if active == "" {
		active = segmentName(^uint64(0))
	}

	cps, err := readCheckpoints(j.dir)
	if err != nil {
		return res, err
	}
	// Kept records released since they were kept.
	for _, c := range cps {
		if c.File == "" {
			continue
		}
		recs, err := readKept(filepath.Join(j.dir, c.File))
		if err != nil {
			return res, err
		}
		var still []Record
		for _, r := range recs {
			if keep(r) {
				still = append(still, r)
			}
		}
		if len(still) == len(recs) {
			continue
		}
		nc, err := j.writeBlock(c.From, c.To, c.hash(), still)
		if err != nil {
			return res, err
		}
		res.Checkpoints = append(res.Checkpoints, nc)
		res.Removed += uint64(len(recs) - len(still))
		os.Remove(filepath.Join(j.dir, c.File))
	}

	segs, err := listSegments(j.dir)
	if err != nil {
		return res, err
	}
	var after uint64
	if last := lastCheckpoint(cps); last != nil {
		after = last.To
	}
	for _, s := range segs {
		if s.name >= active {
			break
		}
		path := filepath.Join(j.dir, s.name)
		var recs []Record
		var all []Record
		err := readFile(path, false, func(rec Record, _ []byte) error {
			r := rec
			r.Payload = append([]byte(nil), rec.Payload...)
			all = append(all, r)
			return nil
		})
		if err != nil {
			return res, err
		}
		if len(all) == 0 {
			os.Remove(path)
			continue
		}
		last := all[len(all)-1]
		if last.Seq <= after {
			os.Remove(path) // left over from a prune cut short
			continue
		}
		if !last.Time.Before(cutoff) {
			break // blocks are removed in order
		}
		prev := Hash{}
		if after > 0 {
			prev = cpHashAt(cps, after)
		}
		for i := range all {
			all[i].Prev = prev
			prev = all[i].Hash
			if keep(all[i]) {
				recs = append(recs, all[i])
			}
		}
		c, err := j.writeBlock(all[0].Seq, last.Seq, last.Hash, recs)
		if err != nil {
			return res, err
		}
		if err := os.Remove(path); err != nil {
			return res, fmt.Errorf("journal: removing %s: %w", path, err)
		}
		res.Checkpoints = append(res.Checkpoints, c)
		res.Removed += uint64(len(all) - len(recs))
		res.Kept += uint64(len(recs))
		cps = append(cps, c)
		after = last.Seq
	}
	return res, syncDir(j.dir)
}

// cpHashAt returns the hash of the checkpoint ending at seq.
func cpHashAt(cps []Checkpoint, seq uint64) Hash {
	for _, c := range cps {
		if c.To == seq {
			return c.hash()
		}
	}
	return Hash{}
}

// writeBlock writes the kept records of the block from..to (if any) to a
// file of their own and appends the block's checkpoint.
func (j *Journal) writeBlock(from, to uint64, last Hash, kept []Record) (Checkpoint, error) {
	c := Checkpoint{From: from, To: to, Hash: last.String(), Kept: len(kept), Time: time.Now().UTC()}
	if len(kept) > 0 {
		c.File = fmt.Sprintf("kept-%020d-%020d-%d.log", from, to, time.Now().UnixNano())
		path := filepath.Join(j.dir, c.File)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return c, fmt.Errorf("journal: %w", err)
		}
		w := bufio.NewWriter(f)
		kd := sha256.New()
		d := newHasher()
		var buf []byte
		for _, r := range kept {
			buf = append(buf[:0], r.Prev[:]...)
			var h Hash
			buf, h = appendFrame(buf, d, r.Prev, r.Seq, r.Time, r.Payload)
			if h != r.Hash {
				f.Close()
				os.Remove(path)
				return c, &ChainError{r.Seq, "altered (its hash does not match); not pruned"}
			}
			w.Write(buf)
			kd.Write(r.Hash[:])
		}
		err = w.Flush()
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return c, fmt.Errorf("journal: writing %s: %w", path, err)
		}
		c.KeptDigest = hex.EncodeToString(kd.Sum(nil))
		if err := syncDir(j.dir); err != nil {
			return c, err
		}
	}
	if err := appendCheckpoint(j.dir, c); err != nil {
		return c, err
	}
	return c, nil
}

// readKept reads a file of kept records.
func readKept(path string) ([]Record, error) {
	var recs []Record
	err := readFile(path, true, func(rec Record, _ []byte) error {
		r := rec
		r.Payload = append([]byte(nil), rec.Payload...)
		recs = append(recs, r)
		return nil
	})
	return recs, err
}
