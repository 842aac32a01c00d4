// Command parley-bench is a load generator for XMPP servers: it drives a
// server's client port (STARTTLS), or its XMPP over WebSocket endpoint,
// with many raw-XML sessions (SCRAM or PLAIN, bind) through one scenario
// — login, idle, chat, muc, presence, pep (personal eventing fan-out),
// resume or reconnect (legacy SASL, SASL2 and FAST logins side by side)
// — and prints one JSON line of results, including the server's CPU and
// memory read from /proc when given its process id.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run executes one benchmark run and returns the exit status: 0 when the
// run completed (errors are counted in the output), 1 when it could not
// run, 2 for bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if err != errUsage {
			fmt.Fprintf(stderr, "parley-bench: %v\n", err)
		}
		return 2
	}
	prev := runtime.GOMAXPROCS(o.procs)
	defer runtime.GOMAXPROCS(prev)
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v\n", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	child, err := parseIdleChild(env(idleChildEnv))
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v\n", err)
		return 2
	}
	var offset uint64
	if child != nil {
		offset = uint64(child.offset)
	}
	src, err := parseSources(o.sources, offset)
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: %v\n", err)
		return 2
	}
	b := newBench(o, src, stderr, env)
	if child != nil {
		if err := b.idleChild(ctx, child, stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "parley-bench: idle child: %v\n", err)
			return 1
		}
		return 0
	}
	rec, err := b.run(ctx, args)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (-timeout %v)", err, o.timeout)
		}
		fmt.Fprintf(stderr, "parley-bench: %s: %v\n", o.scenario, err)
		return 1
	}
	line, err := json.Marshal(rec)
	if err != nil {
		fmt.Fprintf(stderr, "parley-bench: encode result: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

// run checks the server is there, creates accounts when asked, and runs
// the scenario.
func (b *bench) run(ctx context.Context, args []string) (*record, error) {
	if b.o.pid > 0 {
		if _, err := readProc(b.o.pid); err != nil {
			return nil, err
		}
	}
	if err := b.probe(ctx); err != nil {
		return nil, err
	}
	if b.o.register {
		if err := b.registerUsers(ctx, b.accountsNeeded()); err != nil {
			return nil, err
		}
	}
	switch b.o.scenario {
	case "login":
		return b.login(ctx)
	case "idle":
		return b.idle(ctx, args)
	case "chat":
		return b.chat(ctx)
	case "muc":
		return b.muc(ctx)
	case "resume":
		return b.resume(ctx)
	case "reconnect":
		return b.reconnect(ctx)
	case "pep":
		return b.pep(ctx)
	default:
		return b.presence(ctx)
	}
}

// probe fails fast when nothing listens at -addr (with -transport
// websocket, at the -ws-url's host and port).
func (b *bench) probe(ctx context.Context) error {
	addr := b.o.addr
	if b.o.transport == transportWebSocket {
		addr = b.o.wsAddr
	}
	d := b.conn.src.dialer()
	d.Timeout = setupTimeout
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	return c.Close()
}

// accountsNeeded returns how many accounts (1..n) the scenario uses.
func (b *bench) accountsNeeded() int {
	o := b.o
	switch o.scenario {
	case "idle", "resume":
		return min(o.users, o.conns)
	case "chat":
		return 2 * o.pairs
	case "muc":
		return o.rooms * o.roomSize
	case "pep":
		return o.firstUser - 1 + o.publishers + o.contacts
	}
	return o.users
}
