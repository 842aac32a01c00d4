package journal

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// checkpointFile names the file of checkpoints in a journal directory.
const checkpointFile = "checkpoints.log"

// Checkpoint stands for a block of records removed by Prune: the range of
// sequence numbers, the hash of its last record, from which the chain
// goes on, and the records kept from it (in file Kept, their number and
// SHA-256 over their hashes in order). A later checkpoint with the same
// From replaces an earlier one: kept records released later.
type Checkpoint struct {
	From       uint64    `json:"from"`
	To         uint64    `json:"to"`
	Hash       string    `json:"hash"`
	Kept       int       `json:"kept"`
	KeptDigest string    `json:"kept_digest,omitempty"`
	File       string    `json:"file,omitempty"`
	Time       time.Time `json:"time"`
}

func (c *Checkpoint) hash() Hash {
	var h Hash
	hex.Decode(h[:], []byte(c.Hash))
	return h
}

// readCheckpoints returns the checkpoints of dir that are in force,
// ordered by From.
func readCheckpoints(dir string) ([]Checkpoint, error) {
	f, err := os.Open(filepath.Join(dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	byFrom := map[uint64]int{}
	var cps []Checkpoint
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("journal: %s line %d: %w", filepath.Join(dir, checkpointFile), line, err)
		}
		if len(c.Hash) != 2*len(Hash{}) {
			return nil, fmt.Errorf("journal: %s line %d: a checkpoint without a valid hash", filepath.Join(dir, checkpointFile), line)
		}
		if i, ok := byFrom[c.From]; ok {
			cps[i] = c
			continue
		}
		byFrom[c.From] = len(cps)
		cps = append(cps, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading checkpoints: %w", err)
	}
	sortCheckpoints(cps)
	return cps, nil
}

func sortCheckpoints(cps []Checkpoint) {
	slices.SortFunc(cps, func(a, b Checkpoint) int { return cmp.Compare(a.From, b.From) })
}

func lastCheckpoint(cps []Checkpoint) *Checkpoint {
	if len(cps) == 0 {
		return nil
	}
	return &cps[len(cps)-1]
}

// appendCheckpoint appends c to dir's checkpoints durably.
func appendCheckpoint(dir string, c Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, checkpointFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("journal: writing a checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: writing a checkpoint: %w", err)
	}
	return f.Close()
}

// Checkpoints returns the checkpoints in force in the journal in dir.
func Checkpoints(dir string) ([]Checkpoint, error) { return readCheckpoints(dir) }
