package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"parley/audit"
	"parley/compliance"
	"parley/config"
	"parley/journal"
)

const archiveUsage = `verify | export [-user JID] [-room JID] [-domain D] [-since T] [-until T] [-text WORDS] [-format json|text] | hold [-reason TEXT] JID | release JID | holds`

// runArchive runs "parley archive": verify, export, and the legal holds
// of the compliance archive.
func runArchive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "parley: archive: expected a subcommand; usage: parley archive %s\n", archiveUsage)
		return 2
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "verify":
		return archiveVerify(rest, stdout, stderr)
	case "export":
		return archiveExport(rest, stdout, stderr)
	case "hold", "release":
		return archiveHold(sub, rest, stdout, stderr)
	case "holds":
		return archiveHolds(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "parley: archive: unknown subcommand %q; usage: parley archive %s\n", sub, archiveUsage)
		return 2
	}
}

// archiveVerify checks the archive's chain and the checkpoints of it in
// the audit log.
func archiveVerify(args []string, stdout, stderr io.Writer) int {
	c := newCommand("archive verify", "[-config FILE]", stdout, stderr)
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	sum, err := compliance.Verify(cfg.ArchiveDir(), audit.DefaultDir(cfg.DataDir()))
	var ce *journal.ChainError
	if errors.As(err, &ce) {
		return c.fail(fmt.Errorf("the archive is broken at record %d: %s", ce.Seq, ce.Problem))
	}
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(stdout, "archive intact: %d records (%d kept from %d pruned blocks), head %d %s, %d checkpoints in the audit log matched\n",
		sum.Records, sum.Kept, sum.Checkpoints, sum.Head, sum.HeadHash, sum.Anchors)
	return 0
}

// archiveExport writes archived messages as JSON Lines or a transcript.
func archiveExport(args []string, stdout, stderr io.Writer) int {
	c := newCommand("archive export", "[-config FILE] [-user JID] [-room JID] [-domain D] [-since T] [-until T] [-text WORDS] [-format json|text]", stdout, stderr)
	user := c.flags.String("user", "", "messages from, to or written by this bare `JID`")
	room := c.flags.String("room", "", "messages of this room (bare `JID`)")
	domain := c.flags.String("domain", "", "messages from or to addresses of this `domain`")
	since := c.flags.String("since", "", "messages at or after `T` (a date or an RFC 3339 time)")
	until := c.flags.String("until", "", "messages before `T` (a date: to the end of that day)")
	text := c.flags.String("text", "", "messages whose body holds all these `words`")
	format := c.flags.String("format", "json", "json (JSON Lines) or text (a transcript)")
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	var f compliance.Filter
	var err error
	if f.User, err = bareFlag("user", *user); err != nil {
		return c.usageError(err.Error())
	}
	if f.Room, err = bareFlag("room", *room); err != nil {
		return c.usageError(err.Error())
	}
	if *domain != "" {
		d, err := jid.New("", *domain, "")
		if err != nil {
			return c.usageError(fmt.Sprintf("-domain: %q is not a valid domain: %v", *domain, err))
		}
		f.Domain = d.Domainpart()
	}
	if f.Since, err = parseTimeFlag("since", *since, false); err != nil {
		return c.usageError(err.Error())
	}
	if f.Until, err = parseTimeFlag("until", *until, true); err != nil {
		return c.usageError(err.Error())
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return c.usageError("-until: must be after -since")
	}
	f.Text = *text
	if *format != "json" && *format != "text" {
		return c.usageError(fmt.Sprintf("-format: %q is not one of json, text", *format))
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	n := 0
	var write func(compliance.Entry) error
	var finish func() error
	if *format == "json" {
		w := compliance.NewJSONWriter(stdout)
		write, finish = w.Write, func() error { return nil }
	} else {
		t := compliance.NewTranscriptWriter(stdout, transcriptTitle(f))
		write, finish = t.Write, t.Close
	}
	err = compliance.Export(cfg.ArchiveDir(), f, func(e compliance.Entry) error {
		n++
		return write(e)
	})
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err != nil {
		return c.fail(err)
	}
	// Who exported what is itself on record.
	if log, aerr := audit.Open(audit.DefaultDir(cfg.DataDir())); aerr == nil {
		aerr = log.Record(audit.Event{Actor: audit.CommandActor(), Action: audit.ArchiveExported,
			Target: describeFilter(f), Detail: fmt.Sprintf("%d messages exported as %s", n, *format)})
		log.Close()
		if aerr != nil {
			return c.fail(aerr)
		}
	} else {
		return c.fail(aerr)
	}
	return 0
}

// bareFlag reads a flag naming a bare JID.
func bareFlag(flag, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	j, err := jid.Parse(value)
	if err != nil {
		return "", fmt.Errorf("-%s: %q is not a valid JID: %v", flag, value, err)
	}
	if j.Resourcepart() != "" {
		return "", fmt.Errorf("-%s: %q has a resource; give a bare JID", flag, value)
	}
	return j.String(), nil
}

// describeFilter says what an export selected, for the audit log.
func describeFilter(f compliance.Filter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("user", f.User)
	add("room", f.Room)
	add("domain", f.Domain)
	if !f.Since.IsZero() {
		add("since", f.Since.Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		add("until", f.Until.Format(time.RFC3339))
	}
	add("text", f.Text)
	if len(parts) == 0 {
		return "all messages"
	}
	return strings.Join(parts, " ")
}

// transcriptTitle titles a transcript.
func transcriptTitle(f compliance.Filter) string {
	what := "all archived messages"
	switch {
	case f.Room != "":
		what = "room " + f.Room
	case f.User != "":
		what = "conversations of " + f.User
	case f.Domain != "":
		what = "messages of " + f.Domain
	}
	if !f.Since.IsZero() {
		what += " from " + f.Since.Format("2006-01-02 15:04 MST")
	}
	if !f.Until.IsZero() {
		what += " until " + f.Until.Format("2006-01-02 15:04 MST")
	}
	if f.Text != "" {
		what += fmt.Sprintf(" with the words %q", f.Text)
	}
	return "Transcript of " + what
}

// archiveHold puts an account's records under a legal hold, or releases
// it.
func archiveHold(sub string, args []string, stdout, stderr io.Writer) int {
	c := newCommand("archive "+sub, "[-config FILE] JID", stdout, stderr)
	reason := c.flags.String("reason", "", "why (for the record)")
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	who, err := bareFlag("JID", pos[0])
	if err != nil {
		return c.usageError(strings.TrimPrefix(err.Error(), "-"))
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	actor := audit.CommandActor()
	changed, err := compliance.SetHold(cfg.ArchiveDir(), sub == "hold", compliance.Hold{JID: who, Since: time.Now().UTC(), By: actor, Reason: *reason})
	if err != nil {
		return c.fail(err)
	}
	if !changed {
		if sub == "hold" {
			fmt.Fprintf(stdout, "%s is already under a legal hold\n", who)
		} else {
			fmt.Fprintf(stdout, "%s is not under a legal hold\n", who)
		}
		return 0
	}
	action := audit.ArchiveHold
	if sub == "release" {
		action = audit.ArchiveRelease
	}
	log, err := audit.Open(audit.DefaultDir(cfg.DataDir()))
	if err != nil {
		return c.fail(err)
	}
	defer log.Close()
	if err := log.Record(audit.Event{Actor: actor, Action: action, Target: who, Detail: *reason}); err != nil {
		return c.fail(err)
	}
	if sub == "hold" {
		fmt.Fprintf(stdout, "%s is under a legal hold: retention no longer removes their messages\n", who)
	} else {
		fmt.Fprintf(stdout, "the legal hold on %s is released\n", who)
	}
	return 0
}

// archiveHolds lists the legal holds.
func archiveHolds(args []string, stdout, stderr io.Writer) int {
	c := newCommand("archive holds", "[-config FILE]", stdout, stderr)
	if _, code, ok := c.parse(args, 0); !ok {
		return code
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	hs, err := compliance.ReadHolds(cfg.ArchiveDir())
	if err != nil {
		return c.fail(err)
	}
	for _, h := range hs {
		fmt.Fprintf(stdout, "%s\tsince %s\tby %s\t%s\n", h.JID, h.Since.Format(time.RFC3339), h.By, h.Reason)
	}
	return 0
}
