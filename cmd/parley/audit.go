package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"parley/audit"
	"parley/config"
	"parley/journal"
	"parley/storage"
)

// auditLine is one event as "parley audit" prints it: every key always
// present, in this order.
type auditLine struct {
	Time   string `json:"time"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
}

// runAudit runs "parley audit": prints the audit log as JSON Lines, from
// -since on, or with -verify checks its chain. It reads the log as it is
// on the disk, while the server appends to it.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("audit", "[-config FILE] [-since T] [-verify]", stdout, stderr)
	sinceFlag := c.flags.String("since", "", "only events at or after `T`: a date (2026-12-05, UTC) or an RFC 3339 time")
	verify := c.flags.Bool("verify", false, "check the hash chain of the log instead of printing it")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	since, err := parseTimeFlag("since", *sinceFlag, false)
	if err != nil {
		return c.usageError(err.Error())
	}
	if *verify && !since.IsZero() {
		return c.usageError("-since does not go with -verify, which checks the whole log")
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	dir := audit.DefaultDir(cfg.DataDir())
	if *verify {
		return verifyAudit(c, dir)
	}
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err = audit.Read(dir, since, func(e audit.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return enc.Encode(auditLine{
			Time:   e.Time.UTC().Format(time.RFC3339Nano),
			Actor:  e.Actor,
			Action: e.Action,
			Target: e.Target,
			Detail: e.Detail,
			Seq:    e.Seq,
			Hash:   e.Hash,
		})
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return c.fail(fmt.Errorf("audit log %s: %w", dir, err))
	}
	return 0
}

// verifyAudit checks the chain of the audit log in dir and prints a one
// line summary, or fails naming the first broken record.
func verifyAudit(c *command, dir string) int {
	sum, err := audit.Verify(dir)
	var ce *journal.ChainError
	switch {
	case errors.As(err, &ce):
		return c.fail(fmt.Errorf("audit log %s is broken at record %d: %s", dir, ce.Seq, ce.Problem))
	case err != nil:
		return c.fail(fmt.Errorf("audit log %s: %w", dir, err))
	case sum.Records == 0:
		fmt.Fprintf(c.stdout, "audit log %s: no records yet\n", dir)
	default:
		fmt.Fprintf(c.stdout, "audit log intact: %d records, head %d %s\n", sum.Records, sum.Head, sum.HeadHash)
	}
	return 0
}

// recorder records an action of a command in the audit log.
type recorder func(action, target, detail string) error

// withAuditedStore runs fn as withStore does, with the audit log of cfg
// open for fn to record what it does, by the local user running the
// command. The log is opened first: nothing is done that could not be
// recorded.
func withAuditedStore(ctx context.Context, c *command, cfg *config.Config, fn func(storage.Store, recorder) error) int {
	log, err := audit.Open(audit.DefaultDir(cfg.DataDir()))
	if err != nil {
		return c.fail(err)
	}
	defer log.Close()
	actor := audit.CommandActor()
	rec := func(action, target, detail string) error {
		err := log.Record(audit.Event{Actor: actor, Action: action, Target: target, Detail: detail})
		if err != nil {
			return fmt.Errorf("%s %s done, but not recorded in the audit log: %w", action, target, err)
		}
		return nil
	}
	return withStore(ctx, c, cfg, func(st storage.Store) error { return fn(st, rec) })
}
