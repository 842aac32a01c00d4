package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in continuous integration (the CI
// environment variable is "true" or "1"). There, a test that needs an
// external program fails when the program is missing instead of skipping.
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Missing stops a test that cannot run because something it needs is not
// installed: outside CI it is skipped with why, in CI it fails.
func Missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: this test must run in CI; .ci/run installs what it needs)", why)
	}
	t.Skip(why)
}

// RequireTool returns the path of the program name, found on PATH. When it
// is missing the test is skipped (or fails in CI, see Missing) with a
// message naming the Debian package that provides it.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (sudo apt-get install "+debianPackage+")")
	}
	return path
}

// DebianPython is the interpreter that sees Debian's python3-* packages.
const DebianPython = "/usr/bin/python3"

// RequirePythonModule returns a Python 3 interpreter that can import
// module: $PARLEY_PYTHON if set, else Debian's /usr/bin/python3, else
// python3 on PATH. When none can, the test is skipped (or fails in CI)
// with a message naming the Debian package that provides the module.
func RequirePythonModule(t testing.TB, module, debianPackage string) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("PARLEY_PYTHON"); p != "" {
		candidates = append(candidates, p)
	} else {
		candidates = append(candidates, DebianPython)
		if p, err := exec.LookPath("python3"); err == nil && p != DebianPython {
			candidates = append(candidates, p)
		}
	}
	for _, py := range candidates {
		if err := exec.Command(py, "-c", "import "+module).Run(); err == nil {
			return py
		}
	}
	Missing(t, "no Python 3 interpreter can import "+module+" (sudo apt-get install "+debianPackage+")")
	return ""
}
