package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ModuleRoot returns the directory holding parley's go.mod, searching
// upward from the working directory (a test runs in its package's
// directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// BuildParley builds the parley command into dir and returns the binary's
// path. It suits TestMain, so it reports an error instead of taking a
// testing.TB.
func BuildParley(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "parley")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/parley")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/parley: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address whose port was free a moment ago,
// for configuration files that need fixed ports.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Result is the outcome of a command that ran to completion.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// RunParley runs the parley binary bin with args and stdin, waiting at
// most a minute.
func RunParley(t testing.TB, bin, stdin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("parley %s: %v (stderr: %s)", strings.Join(args, " "), err, r.Stderr)
	}
	return r
}

// Process is a running "parley serve".
type Process struct {
	T   testing.TB
	Cmd *exec.Cmd

	out  *syncBuffer
	done chan struct{}
	err  error // from Wait, valid once done is closed
}

// StartParley runs "parley serve -config config" and waits until every
// address in listen accepts connections. It fails the test, showing the
// server's output, if the process exits or does not listen within 20
// seconds. The process is killed when the test ends, and its output is
// logged.
func StartParley(t testing.TB, bin, config string, listen ...string) *Process {
	t.Helper()
	p := &Process{T: t, out: &syncBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, "serve", "-config", config)
	p.Cmd.Stdout, p.Cmd.Stderr = p.out, p.out
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start parley serve: %v", err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			p.Cmd.Process.Kill()
			<-p.done
		}
		t.Logf("parley serve (pid %d) output:\n%s", p.Cmd.Process.Pid, p.Output())
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range listen {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if p.Exited() {
				t.Fatalf("parley serve exited (%v) before listening on %s; output:\n%s", p.err, addr, p.Output())
			}
			if time.Now().After(deadline) {
				t.Fatalf("parley serve is not listening on %s after 20s; output:\n%s", addr, p.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return p
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) {
	p.T.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.T.Fatalf("signal %v to parley: %v", sig, err)
	}
}

// Kill ends the process with SIGKILL, giving it no chance to clean up, and
// waits for it.
func (p *Process) Kill() {
	p.T.Helper()
	p.Cmd.Process.Kill()
	<-p.done
}

// Wait waits at most d for the process to exit and returns its exit code
// (-1 if a signal ended it). It fails the test on timeout.
func (p *Process) Wait(d time.Duration) int {
	p.T.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.T.Fatalf("parley serve still running after %v; output:\n%s", d, p.Output())
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Output returns what the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
