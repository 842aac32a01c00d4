package compliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// holdsFile names the file of legal holds in the archive's directory.
const holdsFile = "holds.json"

// Hold exempts an account's records from retention.
type Hold struct {
	JID    string    `json:"jid"`
	Since  time.Time `json:"since"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
}

// Holds are the legal holds in force.
type Holds []Hold

// Held reports whether the bare JID is under a hold.
func (hs Holds) Held(bare string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.JID, bare) {
			return true
		}
	}
	return false
}

// ReadHolds reads the holds of the archive in dir.
func ReadHolds(dir string) (Holds, error) {
	b, err := os.ReadFile(filepath.Join(dir, holdsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("legal holds: %w", err)
	}
	var hs Holds
	if err := json.Unmarshal(b, &hs); err != nil {
		return nil, fmt.Errorf("legal holds %s: %w", filepath.Join(dir, holdsFile), err)
	}
	return hs, nil
}

// SetHold puts bare under a hold (or, with on false, releases it) and
// reports whether that changed anything.
func SetHold(dir string, on bool, h Hold) (bool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("legal holds: %w", err)
	}
	hs, err := ReadHolds(dir)
	if err != nil {
		return false, err
	}
	if hs.Held(h.JID) == on {
		return false, nil
	}
	if on {
		hs = append(hs, h)
	} else {
		out := hs[:0]
		for _, x := range hs {
			if !strings.EqualFold(x.JID, h.JID) {
				out = append(out, x)
			}
		}
		hs = out
	}
	sort.Slice(hs, func(i, k int) bool { return hs[i].JID < hs[k].JID })
	b, err := json.MarshalIndent(hs, "", "  ")
	if err != nil {
		return false, err
	}
	tmp := filepath.Join(dir, holdsFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, fmt.Errorf("legal holds: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, holdsFile))
	}
	if err != nil {
		os.Remove(tmp)
		return false, fmt.Errorf("legal holds: %w", err)
	}
	return true, nil
}
