// Command parley is an XMPP server.
//
// Usage:
//
//	parley serve   [-config FILE]          run the server in the foreground
//	parley adduser [-config FILE] JID      create an account (password: first line of stdin)
//	parley adduser [-config FILE] -batch   create accounts from stdin lines "JID PASSWORD"
//	parley passwd  [-config FILE] JID      change a password (new password: first line of stdin)
//	parley deluser [-config FILE] JID      delete an account and all its data
//	parley users   [-config FILE] DOMAIN   list the accounts of a served domain
//	parley invite  [-config FILE] [-expire 7d] [-user LOCALPART]   invite someone to register in band
//	parley fast-revoke [-config FILE] [-client ID] JID   end an account's FAST logins
//	parley audit   [-config FILE] [-since T] [-verify]   the audit log as JSON Lines, or check its chain
//	parley archive verify|export|hold|release|holds [-config FILE] ...   the compliance archive
//	parley usage   [-config FILE] [-domain D] [-since T] [-until T] [-format json|csv] [-daily]
//	                                       usage per user and per domain, for charge-back
//
// FILE defaults to ./config.toml. On failure parley prints one line on
// standard error and exits with a non-zero status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `parley is an XMPP server.

Usage:
  parley serve   [-config FILE]          run the server in the foreground
  parley adduser [-config FILE] JID      create an account; the password is the first line of stdin
  parley adduser [-config FILE] -batch   create accounts from stdin lines "JID PASSWORD"
  parley passwd  [-config FILE] JID      change a password; the new one is the first line of stdin
  parley deluser [-config FILE] JID      delete an account and all its data
  parley users   [-config FILE] DOMAIN   list the accounts of a served domain, one per line
  parley invite  [-config FILE] [-expire 7d] [-user LOCALPART] [-domain DOMAIN]
                                         make a single-use invitation to register in band; prints its token and xmpp: URI
  parley fast-revoke [-config FILE] [-client ID] JID
                                         revoke an account's FAST login tokens (all clients, or one)
  parley audit   [-config FILE] [-since T] [-verify]
                                         print the audit log as JSON Lines (T: 2026-12-05 or an RFC 3339
                                         time), or with -verify check its hash chain
  parley usage   [-config FILE] [-domain DOMAIN] [-since T] [-until T] [-format json|csv] [-daily]
                                         usage per user and per domain over whole UTC days (T: 2026-12-05
                                         or an RFC 3339 time), as JSON Lines or CSV, for charge-back
  parley archive verify [-config FILE]    check the compliance archive: every record, in order, unaltered
  parley archive export [-config FILE] [-user JID] [-room JID] [-domain D] [-since T] [-until T] [-text WORDS] [-format json|text]
                                         write archived messages as JSON Lines, or as a transcript
  parley archive hold|release|holds [-config FILE] [-reason TEXT] [JID]
                                         keep an account's messages past retention (legal hold), end it, list holds
  parley help                            show this help

FILE defaults to ./config.toml.
`

// defaultConfig is the -config default.
const defaultConfig = "config.toml"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdout, stderr)
	case "adduser":
		return runAddUser(ctx, args, stdin, stdout, stderr)
	case "passwd":
		return runPasswd(ctx, args, stdin, stdout, stderr)
	case "deluser":
		return runDelUser(ctx, args, stdout, stderr)
	case "users":
		return runUsers(ctx, args, stdout, stderr)
	case "invite":
		return runInvite(ctx, args, stdout, stderr)
	case "fast-revoke":
		return runFastRevoke(ctx, args, stdout, stderr)
	case "audit":
		return runAudit(ctx, args, stdout, stderr)
	case "archive":
		return runArchive(ctx, args, stdout, stderr)
	case "usage":
		return runUsage(ctx, args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "parley: unknown command %q; run \"parley help\" for usage\n", cmd)
	return 2
}

// command holds one subcommand's flags and output streams.
type command struct {
	name     string // subcommand name, for messages
	synopsis string // arguments after the name, for usage messages
	flags    *flag.FlagSet
	config   *string // -config
	stdout   io.Writer
	stderr   io.Writer
}

// newCommand prepares a subcommand with the -config flag; add more flags
// to c.flags before calling c.parse.
func newCommand(name, synopsis string, stdout, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &command{name: name, synopsis: synopsis, flags: fs, stdout: stdout, stderr: stderr}
	c.config = fs.String("config", defaultConfig, "configuration `FILE`")
	return c
}

// parse parses args, flags and positional arguments in any order, and
// checks that there are nargs positional arguments (any number if nargs is
// negative). If it returns ok false, the command should exit with status
// code.
func (c *command) parse(args []string, nargs int) (pos []string, code int, ok bool) {
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(c.stdout, "usage: parley %s %s\n", c.name, c.synopsis)
				return nil, 0, false
			}
			return nil, c.usageError(err.Error()), false
		}
		rest := c.flags.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if nargs >= 0 && len(pos) != nargs {
		return nil, c.usageError(fmt.Sprintf("expected %d argument(s), got %d", nargs, len(pos))), false
	}
	return pos, 0, true
}

// usageError reports a command-line mistake and returns exit status 2.
func (c *command) usageError(msg string) int {
	fmt.Fprintf(c.stderr, "parley: %s: %s; usage: parley %s %s\n", c.name, msg, c.name, c.synopsis)
	return 2
}

// fail reports err on one line and returns exit status 1.
func (c *command) fail(err error) int {
	fmt.Fprintf(c.stderr, "parley: %s: %s\n", c.name, oneLine(err.Error()))
	return 1
}

// oneLine joins the lines of a multi-line message.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}
