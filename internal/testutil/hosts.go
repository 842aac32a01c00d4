package testutil

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// HostsFile is the file MapHosts edits.
const HostsFile = "/etc/hosts"

// hostsLock serializes the edits of HostsFile by concurrent test processes.
const hostsLock = "/etc/hosts.parley-lock"

// hostsTag ends every line this process adds to HostsFile.
func hostsTag() string { return "# parley-test " + strconv.Itoa(os.Getpid()) }

// MapHosts makes each domain of m (domain -> IPv4 address, which must be
// in 127.0.0.0/8) resolve to its address through /etc/hosts, for servers
// that find their peers by name, and removes those lines again when the
// test ends. Each line is tagged with a comment naming this process, so
// that tests in other processes, editing the file at the same time, keep
// theirs; lines left behind by test processes that no longer run are
// dropped. Prosody reads /etc/hosts once, when it starts: map its peers
// before starting it. When the file cannot be written (not root), the
// test stops as Missing does.
func MapHosts(t testing.TB, m map[string]string) {
	t.Helper()
	if len(m) == 0 {
		return
	}
	domains := make([]string, 0, len(m))
	for d, ip := range m {
		addr := net.ParseIP(ip)
		if addr == nil || addr.To4() == nil || !addr.IsLoopback() {
			t.Fatalf("MapHosts %s: %q is not an address in 127.0.0.0/8", d, ip)
		}
		if d == "" || strings.ContainsAny(d, " \t\n#") {
			t.Fatalf("MapHosts: bad domain %q", d)
		}
		domains = append(domains, d)
	}
	sort.Strings(domains)

	unlock, err := lockHosts()
	if err != nil {
		Missing(t, "cannot edit "+HostsFile+" (tests that map domains to loopback addresses run as root): "+err.Error())
		return
	}
	defer unlock()
	data, err := os.ReadFile(HostsFile)
	if err != nil {
		Missing(t, "cannot read "+HostsFile+": "+err.Error())
		return
	}
	// Retire lines of test processes that are gone, and refuse to shadow
	// a mapping of a live one.
	content := retireLines(string(data), func(l string) bool {
		pid, ok := hostsLinePID(l)
		return ok && pid != os.Getpid() && !processAlive(pid)
	})
	for _, l := range strings.SplitAfter(content, "\n") {
		pid, ok := hostsLinePID(l)
		if f := strings.Fields(strings.SplitN(l, "#", 2)[0]); ok && len(f) >= 2 {
			for _, name := range f[1:] {
				if ip, mine := m[name]; mine && ip != f[0] {
					t.Fatalf("MapHosts: %s is already mapped to %s by test process %d", name, f[0], pid)
				}
			}
		}
	}
	if content, err = storeHosts(string(data), content); err != nil {
		t.Fatalf("MapHosts: %v", err)
	}
	data = []byte(content)

	var add strings.Builder
	if len(data) > 0 && data[len(data)-1] != '\n' {
		add.WriteByte('\n')
	}
	for _, d := range domains {
		fmt.Fprintf(&add, "%s %s %s\n", m[d], d, hostsTag())
	}
	f, err := os.OpenFile(HostsFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		Missing(t, "cannot write "+HostsFile+": "+err.Error())
		return
	}
	_, werr := f.WriteString(add.String())
	cerr := f.Close()
	if werr != nil || cerr != nil {
		t.Fatalf("MapHosts: append to %s: %v %v", HostsFile, werr, cerr)
	}
	t.Cleanup(func() { unmapHosts(t, m) })
}

// unmapHosts removes this process's lines for the domains of m.
func unmapHosts(t testing.TB, m map[string]string) {
	unlock, err := lockHosts()
	if err != nil {
		t.Errorf("MapHosts cleanup: %v", err)
		return
	}
	defer unlock()
	data, err := os.ReadFile(HostsFile)
	if err != nil {
		t.Errorf("MapHosts cleanup: %v", err)
		return
	}
	// One line per domain: a test of this process running at the same
	// time may have added the same mapping.
	left := make(map[string]bool, len(m))
	for d := range m {
		left[d] = true
	}
	content := retireLines(string(data), func(l string) bool {
		if pid, ok := hostsLinePID(l); ok && pid == os.Getpid() {
			if f := strings.Fields(l); len(f) >= 2 && left[f[1]] && m[f[1]] == f[0] {
				delete(left, f[1])
				return true
			}
		}
		return false
	})
	if _, err := storeHosts(string(data), content); err != nil {
		t.Errorf("MapHosts cleanup: %v", err)
	}
}

// retiredLine is how a removed line starts: it is overwritten in place by
// this comment, padded with spaces to its old length.
const retiredLine = "#parley-test-retired"

// retireLines overwrites each line of content that retire selects with a
// comment of the same length, so that every other line keeps its place.
func retireLines(content string, retire func(line string) bool) string {
	lines := strings.SplitAfter(content, "\n")
	for i, l := range lines {
		body := strings.TrimSuffix(l, "\n")
		if len(body) < len(retiredLine) || !retire(l) {
			continue
		}
		lines[i] = retiredLine + strings.Repeat(" ", len(body)-len(retiredLine)) + l[len(body):]
	}
	return strings.Join(lines, "")
}

// storeHosts writes content, an edit of old made by retireLines, to
// HostsFile, and returns what the file now holds. Resolvers of other
// processes read the file at any moment, and where it is a mount point
// (a container's /etc/hosts) it cannot be replaced by a rename, only
// rewritten in place: so while any live test process has lines in it,
// the edit keeps the file's length and only changes the retired lines'
// bytes, and a reader sees every live line whatever it catches. Retired
// lines are removed once no live test process has lines left.
func storeHosts(old, content string) (string, error) {
	if !hasLiveLines(content) {
		compact := compactHosts(content)
		if compact == old {
			return old, nil
		}
		return compact, rewriteHosts(compact)
	}
	if content == old {
		return old, nil
	}
	f, err := os.OpenFile(HostsFile, os.O_WRONLY, 0)
	if err != nil {
		return old, err
	}
	_, werr := f.WriteAt([]byte(content), 0)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return old, fmt.Errorf("rewrite %s in place: %w", HostsFile, werr)
	}
	return content, nil
}

// hasLiveLines reports whether content has a line tagged by a running
// test process.
func hasLiveLines(content string) bool {
	for _, l := range strings.SplitAfter(content, "\n") {
		if pid, ok := hostsLinePID(l); ok && (pid == os.Getpid() || processAlive(pid)) {
			return true
		}
	}
	return false
}

// compactHosts drops the retired lines of content.
func compactHosts(content string) string {
	lines := strings.SplitAfter(content, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, retiredLine) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// hostsLinePID reports the process that added a tagged line.
func hostsLinePID(line string) (int, bool) {
	i := strings.Index(line, "# parley-test ")
	if i < 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[i+len("# parley-test "):]))
	return pid, err == nil
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// lockHosts takes the exclusive lock that serializes edits of HostsFile.
func lockHosts() (unlock func(), err error) {
	f, err := os.OpenFile(hostsLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", hostsLock, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// rewriteHosts replaces the contents of HostsFile: by renaming a new file
// over it, so that resolvers never see it half written, or, where it is a
// mount point (a container's /etc/hosts), by rewriting it in place.
func rewriteHosts(content string) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(HostsFile); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := HostsFile + ".parley-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(content), mode); err == nil {
		if err := os.Chmod(tmp, mode); err == nil {
			if err := os.Rename(tmp, HostsFile); err == nil {
				return nil
			}
		}
	}
	os.Remove(tmp)
	f, err := os.OpenFile(HostsFile, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
