package journal

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Scan calls fn with every record of the journal in dir, in order: the
// records kept from pruned blocks, then the rest. It checks no hashes
// (Verify does); a record cut short at the very end, being written, ends
// the scan. A record's Payload is valid only during the call.
func Scan(dir string, fn func(Record) error) error {
	return walk(dir, func(rec Record, _ []byte) error { return fn(rec) })
}

// walk reads as Scan does and hands fn each record's body too.
func walk(dir string, fn func(rec Record, body []byte) error) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	cps, err := readCheckpoints(dir)
	if err != nil {
		return err
	}
	for _, c := range cps {
		if c.File == "" {
			continue
		}
		if err := readFile(filepath.Join(dir, c.File), true, fn); err != nil {
			return err
		}
	}
	var after uint64
	if last := lastCheckpoint(cps); last != nil {
		after = last.To
	}
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	for i, s := range segs {
		err := readFile(filepath.Join(dir, s.name), false, func(rec Record, body []byte) error {
			if rec.Seq <= after && after > 0 && i+1 < len(segs) {
				return nil // left over from a prune cut short
			}
			return fn(rec, body)
		})
		if errors.Is(err, errTorn) && i == len(segs)-1 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readFile calls fn for each record of one file; a torn end is reported
// as errTorn, wrapped.
func readFile(path string, withPrev bool, fn func(Record, []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fr := &frameReader{r: bufio.NewReaderSize(f, 1<<16), withPrev: withPrev}
	for {
		rec, err := fr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := fn(rec, fr.body()); err != nil {
			return err
		}
	}
}

// ChainError reports the first record where a journal's chain breaks.
type ChainError struct {
	Seq     uint64
	Problem string
}

func (e *ChainError) Error() string { return fmt.Sprintf("record %d: %s", e.Seq, e.Problem) }

// Anchor is a record's hash noted elsewhere (in the audit log, say) when
// it was the newest: the journal must still hold it, unchanged.
type Anchor struct {
	Seq  uint64
	Hash Hash
}

// Summary describes a journal that verified.
type Summary struct {
	Records     uint64 // records held, kept ones included
	Kept        uint64 // of which kept from pruned blocks
	Checkpoints int
	First       uint64 // the first sequence number still held in full order (after the checkpoints)
	Head        uint64
	HeadHash    Hash
	Anchors     int // anchors checked
}

// Verify checks the journal in dir: every record's hash, the sequence
// numbers without gaps or reordering, the checkpoints of pruned blocks and
// their kept records, and that each anchor is still there. The first
// broken record is reported as a *ChainError; an unreadable journal as
// another error.
func Verify(dir string, anchors []Anchor) (Summary, error) {
	var sum Summary
	if _, err := os.Stat(dir); err != nil {
		return sum, fmt.Errorf("journal: %w", err)
	}
	cps, err := readCheckpoints(dir)
	if err != nil {
		return sum, err
	}
	sum.Checkpoints = len(cps)
	anchorAt := map[uint64]Hash{}
	var maxAnchor uint64
	for _, a := range anchors {
		anchorAt[a.Seq] = a.Hash
		maxAnchor = max(maxAnchor, a.Seq)
	}
	checkAnchor := func(seq uint64, h Hash) error {
		if want, ok := anchorAt[seq]; ok {
			sum.Anchors++
			if want != h {
				return &ChainError{seq, "differs from the hash noted when it was the newest record (the chain was rewritten)"}
			}
		}
		return nil
	}
	d := newHasher()
	var next uint64 = 1
	var prev Hash
	for _, c := range cps {
		if c.From != next {
			return sum, &ChainError{next, fmt.Sprintf("missing: the checkpoints jump to %d", c.From)}
		}
		if c.To < c.From {
			return sum, &ChainError{c.From, "a checkpoint with an empty range"}
		}
		kd := sha256.New()
		kept := 0
		last := uint64(0)
		if c.File != "" {
			err := readFile(filepath.Join(dir, c.File), true, func(rec Record, body []byte) error {
				if rec.Seq < c.From || rec.Seq > c.To || rec.Seq <= last {
					return &ChainError{rec.Seq, fmt.Sprintf("a kept record out of place in %s", c.File)}
				}
				if d.chain(rec.Prev, body) != rec.Hash {
					return &ChainError{rec.Seq, "altered (its hash does not match)"}
				}
				if rec.Seq == c.To && rec.Hash != c.hash() {
					return &ChainError{rec.Seq, "altered (it does not match its checkpoint)"}
				}
				if err := checkAnchor(rec.Seq, rec.Hash); err != nil {
					return err
				}
				last = rec.Seq
				kept++
				kd.Write(rec.Hash[:])
				return nil
			})
			var ce *ChainError
			if errors.As(err, &ce) {
				return sum, err
			}
			if err != nil {
				return sum, &ChainError{c.From, fmt.Sprintf("kept records unreadable: %v", err)}
			}
		}
		if kept != c.Kept || (kept > 0 && hex.EncodeToString(kd.Sum(nil)) != c.KeptDigest) {
			return sum, &ChainError{c.From, fmt.Sprintf("kept records of %d to %d removed or altered (%d found, %d recorded)", c.From, c.To, kept, c.Kept)}
		}
		if err := checkAnchor(c.To, c.hash()); err != nil {
			return sum, err
		}
		sum.Kept += uint64(kept)
		sum.Records += uint64(kept)
		next, prev = c.To+1, c.hash()
	}
	sum.First = next
	segs, err := listSegments(dir)
	if err != nil {
		return sum, err
	}
	for i, s := range segs {
		err := readFile(filepath.Join(dir, s.name), false, func(rec Record, body []byte) error {
			if rec.Seq < next && i+1 < len(segs) && s.first < sum.First {
				return nil // behind a checkpoint: left over from a prune cut short
			}
			if rec.Seq != next {
				if rec.Seq > next {
					return &ChainError{next, fmt.Sprintf("missing or moved (record %d found in its place)", rec.Seq)}
				}
				return &ChainError{next, fmt.Sprintf("out of order (record %d found in its place)", rec.Seq)}
			}
			if d.chain(prev, body) != rec.Hash {
				return &ChainError{rec.Seq, "altered (its hash does not match)"}
			}
			if err := checkAnchor(rec.Seq, rec.Hash); err != nil {
				return err
			}
			sum.Records++
			next, prev = rec.Seq+1, rec.Hash
			return nil
		})
		var ce *ChainError
		if errors.As(err, &ce) {
			return sum, err
		}
		if errors.Is(err, errTorn) && i == len(segs)-1 {
			break // being written, or cut short by a crash before its append returned
		}
		if err != nil {
			return sum, &ChainError{next, fmt.Sprintf("unreadable: %v", err)}
		}
	}
	sum.Head, sum.HeadHash = next-1, prev
	if maxAnchor > sum.Head {
		return sum, &ChainError{sum.Head + 1, fmt.Sprintf("missing: the journal ends at %d but record %d was noted", sum.Head, maxAnchor)}
	}
	return sum, nil
}
