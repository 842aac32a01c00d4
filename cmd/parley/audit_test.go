package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/audit"
	"parley/storage"
)

// auditEvents runs "parley audit" with args and returns the events it
// printed, checking that each line has every key.
func auditEvents(t *testing.T, args ...string) []auditLine {
	t.Helper()
	r := parley(t, "", append([]string{"audit"}, args...)...).wantOK(t)
	var out []auditLine
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var keys map[string]any
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, k := range []string{"time", "actor", "action", "target", "detail", "seq", "hash"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("line %q has no %q", line, k)
			}
		}
		var l auditLine
		json.Unmarshal([]byte(line), &l)
		if _, err := time.Parse(time.RFC3339, l.Time); err != nil {
			t.Errorf("time %q is not RFC 3339: %v", l.Time, err)
		}
		if len(l.Hash) != 64 {
			t.Errorf("hash %q", l.Hash)
		}
		out = append(out, l)
	}
	return out
}

// TestCommandsAreAudited: every command that changes accounts records
// what it did, by the local user running it, with no password or token.
func TestCommandsAreAudited(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte(testConfig+"[register]\nenabled = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := auditEvents(t, "-config", cfg); len(got) != 0 {
		t.Fatalf("a new server's audit log: %+v", got)
	}
	parley(t, "alice-secret\n", "adduser", "-config", cfg, "alice@a.test").wantOK(t)
	parley(t, "bob@a.test bob-secret\ncarol@b.test carol-secret\n", "adduser", "-config", cfg, "-batch").wantOK(t)
	parley(t, "alice-new-secret\n", "passwd", "-config", cfg, "alice@a.test").wantOK(t)
	parley(t, "", "deluser", "-config", cfg, "bob@a.test").wantOK(t)
	inv := parseInvite(t, parley(t, "", "invite", "-config", cfg, "-user", "dave").wantOK(t))
	st := openStore(t, cfg)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := st.PutFastToken(t.Context(), storage.FastToken{User: "alice@a.test", Client: "phone", Mechanism: "HT-SHA-256-NONE", Digest: []byte("x"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	parley(t, "", "fast-revoke", "-config", cfg, "alice@a.test").wantOK(t)
	// What fails changes nothing and records nothing.
	parley(t, "pw\n", "adduser", "-config", cfg, "alice@a.test").wantFail(t, 1, "already exists")
	parley(t, "", "deluser", "-config", cfg, "bob@a.test").wantFail(t, 1, "no such account")

	got := auditEvents(t, "-config", cfg)
	actor := audit.CommandActor()
	want := []struct{ action, target, detail string }{
		{audit.AccountCreated, "alice@a.test", "parley adduser"},
		{audit.AccountCreated, "bob@a.test", "parley adduser -batch, line 1"},
		{audit.AccountCreated, "carol@b.test", "parley adduser -batch, line 2"},
		{audit.AccountPasswordChanged, "alice@a.test", "parley passwd"},
		{audit.AccountDeleted, "bob@a.test", "parley deluser, with its data and 0 uploaded files"},
		{audit.InvitationCreated, "dave@a.test", "parley invite: dave@a.test on a.test, once, until "},
		{audit.FastTokensRevoked, "alice@a.test", "parley fast-revoke: 1 tokens of every client"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i, g := range got {
		if g.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d", i, g.Seq)
		}
	}
	// The batch's accounts are created in parallel, in either order.
	if got[1].Target == "carol@b.test" {
		got[1], got[2] = got[2], got[1]
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != actor || g.Action != w.action || g.Target != w.target || !strings.HasPrefix(g.Detail, w.detail) {
			t.Errorf("event %d: %+v, want actor %s, %s %s %q...", i, g, actor, w.action, w.target, w.detail)
		}
	}
	all, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"alice-secret", "bob-secret", "alice-new-secret", inv.token} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the audit log holds the secret %q", secret)
		}
	}
}

// TestAuditSinceAndVerify: -since filters by time, a malformed -since is
// a one-line usage error, and -verify tells an intact log from one edited
// on the disk.
func TestAuditSinceAndVerify(t *testing.T) {
	cfg := setup(t)
	dir := filepath.Join(filepath.Dir(cfg), "data", "audit")
	parley(t, "", "audit", "-config", cfg, "-verify").wantOK(t)
	l, err := audit.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []audit.Event{
		{Time: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC), Actor: "cli:root", Action: audit.AccountCreated, Target: "alice@a.test"},
		{Time: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), Actor: "cli:root", Action: audit.AccountCreated, Target: "bob@a.test"},
		{Time: time.Date(2026, 12, 5, 12, 30, 0, 0, time.UTC), Actor: "server", Action: audit.ConfigReloaded, Detail: "SIGHUP: reloaded"},
	} {
		if err := l.Record(ev); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	for _, c := range []struct {
		since string
		want  []string
	}{
		{"", []string{"alice@a.test", "bob@a.test", ""}},
		{"2026-12-05", []string{"bob@a.test", ""}},
		{"2026-12-05T09:00:00Z", []string{"bob@a.test", ""}},
		{"2026-12-05T10:00:00+01:00", []string{"bob@a.test", ""}},
		{"2026-12-05T09:00:01Z", []string{""}},
		{"2026-12-06", nil},
	} {
		args := []string{"-config", cfg}
		if c.since != "" {
			args = append(args, "-since", c.since)
		}
		var targets []string
		for _, e := range auditEvents(t, args...) {
			targets = append(targets, e.Target)
		}
		if strings.Join(targets, ",") != strings.Join(c.want, ",") || len(targets) != len(c.want) {
			t.Errorf("-since %q: targets %q, want %q", c.since, targets, c.want)
		}
	}
	got := auditEvents(t, "-config", cfg, "-since", "2026-12-05T12:00:00Z")
	if len(got) != 1 || got[0].Time != "2026-12-05T12:30:00Z" || got[0].Actor != "server" || got[0].Action != audit.ConfigReloaded ||
		got[0].Detail != "SIGHUP: reloaded" || got[0].Seq != 3 {
		t.Errorf("event %+v", got)
	}

	for _, bad := range []string{"yesterday", "2026-13-01", "2026-12-05 10:00"} {
		parley(t, "", "audit", "-config", cfg, "-since", bad).wantFail(t, 2, "parley: audit: -since: ", bad)
	}
	parley(t, "", "audit", "-config", cfg, "-since", "2026-12-05", "-verify").wantFail(t, 2, "-since")
	parley(t, "", "audit", "-config", cfg, "extra").wantFail(t, 2, "usage: parley audit [-config FILE] [-since T] [-verify]")
	missing := filepath.Join(t.TempDir(), "missing.toml")
	parley(t, "", "audit", "-config", missing).wantFail(t, 1, "parley: audit: "+missing+": ", "no such file")
	if r := parley(t, "", "audit", "-h"); r.code != 0 || !strings.HasPrefix(r.stdout, "usage: parley audit") {
		t.Errorf("audit -h: %+v", r)
	}

	r := parley(t, "", "audit", "-config", cfg, "-verify").wantOK(t)
	if !strings.HasPrefix(r.stdout, "audit log intact: 3 records, head 3 ") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("-verify of an intact log: %q", r.stdout)
	}

	// Someone edits the log on the disk.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("bob@a.test")) {
		t.Fatal("the segment does not hold the event in clear")
	}
	if err := os.WriteFile(segs[0], bytes.Replace(b, []byte("bob@a.test"), []byte("eve@a.test"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	parley(t, "", "audit", "-config", cfg, "-verify").wantFail(t, 1, "parley: audit: audit log ", "broken at record 2")
}

// TestAuditWhileServing: "parley audit" reads the log while the server
// appends to it, commands record beside the server, and SIGHUP's reload
// is recorded.
func TestAuditWhileServing(t *testing.T) {
	cfg := setup(t)
	stop, stderr := serve(t, cfg)
	defer stop()
	parley(t, "pw\n", "adduser", "-config", cfg, "alice@a.test").wantOK(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := auditEvents(t, "-config", cfg)
		if len(evs) == 2 {
			if evs[0].Action != audit.AccountCreated || evs[1].Action != audit.ConfigReloaded ||
				evs[1].Actor != "server" || !strings.HasPrefix(evs[1].Detail, "SIGHUP: reloaded the TLS certificate for ") {
				t.Fatalf("events %+v", evs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %+v; server log: %s", evs, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := parley(t, "", "audit", "-config", cfg, "-verify").wantOK(t)
	if !strings.HasPrefix(r.stdout, "audit log intact: 2 records") {
		t.Errorf("-verify: %q", r.stdout)
	}
}

// serve runs "parley serve" with cfg until stop is called, once it has
// started (and so handles SIGHUP).
func serve(t *testing.T, cfg string) (stop func(), stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr = new(syncBuffer)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-config", cfg}, strings.NewReader(""), io.Discard, stderr)
	}()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stderr.String(), `"message":"starting"`) {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited early with %d: %s", code, stderr.String())
		case <-deadline:
			cancel()
			t.Fatalf("serve did not start: %s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited with %d: %s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("serve did not stop")
		}
	}, stderr
}
