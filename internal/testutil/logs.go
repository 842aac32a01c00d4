package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer keeps a server's log lines for tests that check what it
// logged.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTailLines is how much of a failed test's server log is printed.
const logTailLines = 40

// saveLogOnFailure writes the whole server log of a failed test to a file
// that outlives the test, and prints its path and last lines.
func saveLogOnFailure(t testing.TB, logs *logBuffer) {
	if !t.Failed() {
		return
	}
	all := logs.String()
	if all == "" {
		return
	}
	f, err := os.CreateTemp("", "parley-test-*.log")
	if err != nil {
		t.Logf("save server log: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(all); err != nil {
		t.Logf("save server log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimRight(all, "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	t.Logf("server log saved to %s; its last %d lines:\n%s", f.Name(), len(lines), strings.Join(lines, "\n"))
}

// Log returns everything the server logged so far (JSON lines).
func (s *Server) Log() string { return s.logs.String() }

// WaitLog waits up to timeout for a log line containing every one of
// parts and returns it; it fails the test if none appears.
func (s *Server) WaitLog(timeout time.Duration, parts ...string) string {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(s.Log(), "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		if time.Now().After(deadline) {
			s.T.Fatalf("no log line with %q within %v", parts, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogLines returns the log lines containing every one of parts.
func (s *Server) LogLines(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(s.Log(), "\n") {
		if line != "" && containsAll(line, parts) {
			out = append(out, line)
		}
	}
	return out
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// FreeAddrOn returns a host:port on ip that was free a moment ago, for
// configurations that must name each other's listeners before start.
func FreeAddrOn(t testing.TB, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", ip, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// FreeListenAddr returns a host:port on a random loopback address of its
// own (127.100.0.0 and up) that was free a moment ago. No other socket of
// the tests uses that address, so nothing takes the port between choosing
// it and listening on it.
func FreeListenAddr(t testing.TB) string {
	t.Helper()
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
	return FreeAddrOn(t, ip)
}
