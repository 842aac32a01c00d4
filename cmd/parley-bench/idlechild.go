package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// idleChildEnv tells a re-executed generator to hold a share of the idle
// scenario's connections: "OFFSET:COUNT:TAG".
const idleChildEnv = "PARLEY_BENCH_IDLE_CHILD"

// idleShare is one child process's part of the idle connections.
type idleShare struct {
	offset, count int
	tag           string
}

func (s idleShare) String() string { return fmt.Sprintf("%d:%d:%s", s.offset, s.count, s.tag) }

// parseIdleChild parses idleChildEnv; "" means this is not a child.
func parseIdleChild(v string) (*idleShare, error) {
	if v == "" {
		return nil, nil
	}
	f := strings.Split(v, ":")
	if len(f) != 3 {
		return nil, fmt.Errorf("%s=%q: want OFFSET:COUNT:TAG", idleChildEnv, v)
	}
	off, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || off < 0 || n < 1 {
		return nil, fmt.Errorf("%s=%q: want OFFSET:COUNT:TAG", idleChildEnv, v)
	}
	return &idleShare{offset: off, count: n, tag: f[2]}, nil
}

// idleChild is the child side: connect the share, report "ready HELD
// ERRORS" on stdout, hold the connections until stdin closes, close
// them and report "done ERRORS" (those since ready).
func (b *bench) idleChild(ctx context.Context, share *idleShare, stdin io.Reader, stdout io.Writer) error {
	b.tag = share.tag
	p := &pool{b: b}
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	go keepalive(kctx, keepaliveInterval, p.list)
	held := b.connectIdle(ctx, p, share.offset, share.count)
	ready := b.errs.Load()
	fmt.Fprintf(stdout, "ready %d %d\n", held, ready)
	released := make(chan struct{})
	go func() {
		io.Copy(io.Discard, stdin)
		close(released)
	}()
	select {
	case <-released:
	case <-ctx.Done():
	}
	stop()
	p.closeAll()
	fmt.Fprintf(stdout, "done %d\n", b.errs.Load()-ready)
	return nil
}

// idleChildren are running child processes holding connections.
type idleChildren struct {
	held   int
	finish func() error // releases the children, waits, adds their errors
}

type idleKid struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startIdleChildren re-executes the generator once per
// maxConnsPerProcess connections (the per-process open-file limit), one
// after the other, and returns once every child holds its share.
func (b *bench) startIdleChildren(ctx context.Context, args []string) (*idleChildren, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	var kids []*idleKid
	res := &idleChildren{}
	finish := func() error {
		var errs []error
		for _, k := range kids {
			k.stdin.Close()
		}
		for _, k := range kids {
			var n int64
			if k.out.Scan() {
				if _, err := fmt.Sscanf(k.out.Text(), "done %d", &n); err != nil {
					errs = append(errs, fmt.Errorf("idle child %d: unexpected %q", k.cmd.Process.Pid, k.out.Text()))
				}
			}
			if err := k.cmd.Wait(); err != nil {
				errs = append(errs, fmt.Errorf("idle child %d: %w", k.cmd.Process.Pid, err))
			}
			b.errs.Add(n)
		}
		return errors.Join(errs...)
	}
	res.finish = finish
	for off := 0; off < b.o.conns; off += b.maxConnsPerProcess {
		share := idleShare{offset: off, count: min(b.maxConnsPerProcess, b.o.conns-off), tag: b.tag}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), idleChildEnv+"="+share.String())
		cmd.Stderr = lockedWriter{&b.logMu, b.stderr}
		stdin, err1 := cmd.StdinPipe()
		stdout, err2 := cmd.StdoutPipe()
		if err := errors.Join(err1, err2); err != nil {
			finish()
			return nil, fmt.Errorf("idle child pipes: %w", err)
		}
		if err := cmd.Start(); err != nil {
			finish()
			return nil, fmt.Errorf("start idle child: %w", err)
		}
		k := &idleKid{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
		kids = append(kids, k)
		var held, errs int64
		if !k.out.Scan() {
			finish()
			return nil, fmt.Errorf("idle child %d ended before holding its connections", cmd.Process.Pid)
		}
		if _, err := fmt.Sscanf(k.out.Text(), "ready %d %d", &held, &errs); err != nil {
			finish()
			return nil, fmt.Errorf("idle child %d: unexpected %q", cmd.Process.Pid, k.out.Text())
		}
		res.held += int(held)
		b.errs.Add(errs)
	}
	return res, nil
}
