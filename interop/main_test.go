// Package interop_test drives parley end to end with programs written
// elsewhere: the slixmpp library, the go-sendxmpp command and the parley
// binary itself, the way users and admins run them.
//
// Tests that need a program that is not installed are skipped with a
// message naming its Debian package, except in CI (CI=true), where they
// fail: .ci/run installs everything they need.
package interop_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"parley/internal/testutil"
)

// parleyBin is the parley binary built for this test run.
var parleyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parleyBin, err = testutil.BuildParley(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var trackOnce sync.Once

// trackInputs reads the files these tests use only through other
// processes, the parley command's sources and the slixmpp scripts, so that
// go test's result cache notices when they change.
func trackInputs(t *testing.T) {
	trackOnce.Do(func() {
		root, err := testutil.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		scripts, _ := filepath.Glob(filepath.Join("slixmpp", "*.py"))
		files := append([]string(nil), scripts...)
		filepath.WalkDir(filepath.Join(root, "cmd", "parley"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") {
				files = append(files, path)
			}
			return nil
		})
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				t.Fatal(err)
			}
		}
	})
}
