// Package audit keeps the audit log: an append-only, hash-chained journal
// (package journal) of administrative actions and federation decisions,
// shared by the server and the command line, read with `parley audit`.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"parley/journal"
)

// Event is one entry of the audit log.
type Event struct {
	Time time.Time `json:"time"`
	// Actor is who acted: an account ("admin@a.test"), a local user of
	// the command line ("cli:root"), "server" or a remote domain.
	Actor string `json:"actor"`
	// Action names what happened, as "noun.verb" (see the constants).
	Action string `json:"action"`
	// Target is what it happened to: an account, a domain, an address.
	Target string `json:"target,omitempty"`
	// Detail says more, for people.
	Detail string `json:"detail,omitempty"`
}

// Actions.
const (
	AccountCreated         = "account.created"
	AccountDeleted         = "account.deleted"
	AccountPasswordChanged = "account.password_changed"
	SessionsEnded          = "sessions.ended"
	ConfigReloaded         = "config.reloaded"
	ArchiveExported        = "archive.exported"
	ArchiveCheckpoint      = "archive.checkpoint"
	ArchivePruned          = "archive.pruned"
	ArchiveHold            = "archive.hold"
	ArchiveRelease         = "archive.release"
	ArchiveFailure         = "archive.failure"
	FederationEstablished  = "federation.established"
	FederationRefused      = "federation.refused"
	AuthFailures           = "auth.failures"
	InvitationCreated      = "invitation.created"
	FastTokensRevoked      = "fast_tokens.revoked"
)

// ServerActor is the actor of what the server does or decides on its
// own: federation decisions, reloads, summaries of failed logins.
const ServerActor = "server"

// Entry is an event as read back, with its place in the chain.
type Entry struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Event
}

// Log appends to the audit log in a directory. Several processes may
// append at once (the server and commands); each event is on the disk
// before Record returns.
type Log struct {
	j *journal.Journal
}

// Open opens the audit log in dir, creating it if need be.
func Open(dir string) (*Log, error) {
	j, err := journal.Open(dir, journal.Options{Shared: true})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Log{j: j}, nil
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.j.Dir() }

// Record appends ev, stamping the time if it has none.
func (l *Log) Record(ev Event) error {
	if l == nil {
		return nil
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if _, err := l.j.Append(ev.Time, b); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Close closes the log.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	return l.j.Close()
}

// Read calls fn with each event of the log in dir at or after since, in
// order. A log that does not exist yet has no events.
func Read(dir string, since time.Time, fn func(Entry) error) error {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	return journal.Scan(dir, func(r journal.Record) error {
		if r.Time.Before(since) {
			return nil
		}
		var e Entry
		if err := json.Unmarshal(r.Payload, &e.Event); err != nil {
			return fmt.Errorf("audit log %s: record %d: %w", dir, r.Seq, err)
		}
		e.Seq, e.Hash = r.Seq, r.Hash.String()
		return fn(e)
	})
}

// Verify checks the audit log's chain (see journal.Verify).
func Verify(dir string) (journal.Summary, error) {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return journal.Summary{}, nil
	}
	return journal.Verify(dir, nil)
}

// CommandActor names the local user running a command, as the actor of
// what the command does.
func CommandActor() string {
	if u, err := user.Current(); err == nil {
		return "cli:" + u.Username
	}
	return fmt.Sprintf("cli:uid %d", os.Getuid())
}

// DefaultDir is where the audit log of a server with data directory
// dataDir lives.
func DefaultDir(dataDir string) string { return filepath.Join(dataDir, "audit") }
