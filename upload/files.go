package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// fileInfo describes a stored file; it is kept beside the file's data as
// ID.json.
type fileInfo struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"` // bare JID of the uploader
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// files keeps uploaded files in one directory, each as ID.data with its
// ID.json, and an index of them in memory for lookups and quotas. IDs are
// checked (see validID) before they name a file, so no request can reach
// outside the directory.
type files struct {
	dir string

	mu       sync.Mutex
	byID     map[string]*fileInfo
	used     map[string]int64 // bytes stored per owner
	reserved map[string]int64 // bytes of uploads in progress per owner
	writing  map[string]bool  // IDs being uploaded
}

// openFiles opens (creating it) the directory and indexes what it holds;
// with cleanup, leftovers of uploads that never finished are removed
// (only the service that writes to the directory may do that).
func openFiles(dir string, cleanup bool) (*files, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	f := &files{dir: dir, byID: make(map[string]*fileInfo), used: make(map[string]int64), reserved: make(map[string]int64), writing: make(map[string]bool)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("upload directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".part"):
			if cleanup {
				os.Remove(filepath.Join(dir, name))
			}
		case strings.HasSuffix(name, ".json"):
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("upload directory: %w", err)
			}
			var fi fileInfo
			if err := json.Unmarshal(data, &fi); err != nil || !validID(fi.ID) || fi.ID+".json" != name {
				return nil, fmt.Errorf("upload directory: %s is damaged", filepath.Join(dir, name))
			}
			if _, err := os.Stat(f.dataPath(fi.ID)); err != nil {
				os.Remove(filepath.Join(dir, name))
				continue
			}
			f.byID[fi.ID] = &fi
			f.used[fi.Owner] += fi.Size
		}
	}
	return f, nil
}

func (f *files) dataPath(id string) string { return filepath.Join(f.dir, id+".data") }
func (f *files) infoPath(id string) string { return filepath.Join(f.dir, id+".json") }

// get returns the file id, if it is stored and not expired.
func (f *files) get(id string, now time.Time) (fileInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, ok := f.byID[id]
	if !ok || now.After(fi.Expires) {
		return fileInfo{}, false
	}
	return *fi, true
}

// usage returns the bytes owner stores and is uploading.
func (f *files) usage(owner string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used[owner] + f.reserved[owner]
}

// errSlotUsed is the error of an upload to a slot that was used before or
// is being used.
var errSlotUsed = errors.New("this upload slot was used already")

// errQuota is the error of an upload beyond the owner's quota.
var errQuota = errors.New("the upload quota is used up")

// put stores the file fi from r, which must hold exactly fi.Size bytes,
// within quota bytes for the owner (0: no limit). Data is streamed to
// disk and made durable before the file is visible.
func (f *files) put(fi fileInfo, r io.Reader, quota int64) error {
	f.mu.Lock()
	if _, ok := f.byID[fi.ID]; ok || f.writing[fi.ID] {
		f.mu.Unlock()
		return errSlotUsed
	}
	if quota > 0 && f.used[fi.Owner]+f.reserved[fi.Owner]+fi.Size > quota {
		f.mu.Unlock()
		return errQuota
	}
	f.writing[fi.ID] = true
	f.reserved[fi.Owner] += fi.Size
	f.mu.Unlock()
	err := f.write(fi, r)
	f.mu.Lock()
	delete(f.writing, fi.ID)
	f.reserved[fi.Owner] -= fi.Size
	if f.reserved[fi.Owner] == 0 {
		delete(f.reserved, fi.Owner)
	}
	if err == nil {
		f.byID[fi.ID] = &fi
		f.used[fi.Owner] += fi.Size
	}
	f.mu.Unlock()
	return err
}

// errSize is the error of an upload whose body is not the size of its
// slot.
type errSize struct{ got, want int64 }

func (e errSize) Error() string {
	if e.got > e.want {
		return fmt.Sprintf("the upload is larger than the %d bytes of its slot", e.want)
	}
	return fmt.Sprintf("the upload ended after %d of the %d bytes of its slot", e.got, e.want)
}

func (f *files) write(fi fileInfo, r io.Reader) error {
	part := filepath.Join(f.dir, fi.ID+".part")
	out, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", part, err)
	}
	n, err := io.Copy(out, io.LimitReader(r, fi.Size+1))
	if err == nil && n != fi.Size {
		err = errSize{got: n, want: fi.Size}
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeFileSync(f.infoPath(fi.ID), fi)
	}
	if err == nil {
		err = os.Rename(part, f.dataPath(fi.ID))
	}
	if err != nil {
		os.Remove(part)
		os.Remove(f.infoPath(fi.ID))
		return err
	}
	syncDir(f.dir)
	return nil
}

// writeFileSync writes v as JSON to path durably, through a temporary
// file.
func writeFileSync(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// open opens the data of the file id. A file removed from the
// directory by someone else (parley deluser) is forgotten.
func (f *files) open(id string) (*os.File, error) {
	file, err := os.Open(f.dataPath(id))
	if errors.Is(err, os.ErrNotExist) {
		f.remove(func(fi *fileInfo) bool { return fi.ID == id })
	}
	return file, err
}

// remove deletes the files for which drop reports true and returns how
// many it removed.
func (f *files) remove(drop func(fi *fileInfo) bool) (int, error) {
	f.mu.Lock()
	var gone []*fileInfo
	for id, fi := range f.byID {
		if drop(fi) {
			gone = append(gone, fi)
			delete(f.byID, id)
			f.used[fi.Owner] -= fi.Size
			if f.used[fi.Owner] <= 0 {
				delete(f.used, fi.Owner)
			}
		}
	}
	f.mu.Unlock()
	var errs []error
	for _, fi := range gone {
		// The description first: a file without one is not indexed
		// again at the next start.
		if err := os.Remove(f.infoPath(fi.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if err := os.Remove(f.dataPath(fi.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return len(gone), errors.Join(errs...)
}

// validID reports whether id has the form of a file ID: base64url
// characters only, of the length IDs are made with.
func validID(id string) bool {
	if len(id) != idLength {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
