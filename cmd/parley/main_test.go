package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/sasl"
	"parley/storage"
	"parley/storage/sqlite"
)

const testConfig = `
[server]
domains = ["a.test", "b.test"]
[storage]
sqlite = "data/parley.db"
[c2s]
listen = "127.0.0.1:0"
[muc]
domain = "conference.a.test"
`

// setup writes a configuration in a temporary directory and returns its
// path.
func setup(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// result is the outcome of one command line.
type result struct {
	code           int
	stdout, stderr string
}

// parley runs the command line args with stdin and returns the outcome.
func parley(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// wantOK fails the test unless r succeeded.
func (r result) wantOK(t *testing.T) result {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	return r
}

// wantFail fails the test unless r failed with status code and a one-line
// message starting with "parley: " and containing each of want.
func (r result) wantFail(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "parley: ") || !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr %q is not one line starting with \"parley: \"", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.stderr, w)
		}
	}
}

// openStore opens the store of the configuration at cfg.
func openStore(t *testing.T, cfg string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(filepath.Dir(cfg), "data", "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// checkPassword fails the test unless user's stored SCRAM credentials
// derive from password (RFC 5802 §3).
func checkPassword(t *testing.T, st storage.Accounts, user, password string) {
	t.Helper()
	for name, h := range map[string]func() hash.Hash{"SHA-1": sha1.New, "SHA-256": sha256.New} {
		c, err := st.Credential(t.Context(), user, name)
		if err != nil {
			t.Fatalf("%s credential of %s: %v", name, user, err)
		}
		if c.Iterations != sasl.DefaultIterations {
			t.Errorf("%s credential of %s: %d iterations, want %d", name, user, c.Iterations, sasl.DefaultIterations)
		}
		salted, err := pbkdf2.Key(h, password, c.Salt, c.Iterations, h().Size())
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(h, salted)
		mac.Write([]byte("Client Key"))
		d := h()
		d.Write(mac.Sum(nil))
		if !bytes.Equal(d.Sum(nil), c.StoredKey) {
			t.Errorf("%s credential of %s does not match password %q", name, user, password)
		}
	}
}

func TestUsage(t *testing.T) {
	r := parley(t, "")
	if r.code != 2 || !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
		t.Errorf("no arguments: %+v", r)
	}
	r = parley(t, "", "help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
		t.Errorf("help: %+v", r)
	}
	parley(t, "", "frobnicate").wantFail(t, 2, `unknown command "frobnicate"`, "parley help")

	for _, cmd := range []string{"serve", "adduser", "passwd", "deluser", "users"} {
		r := parley(t, "", cmd, "-h")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: parley "+cmd) {
			t.Errorf("%s -h: %+v", cmd, r)
		}
		parley(t, "", cmd, "-nosuchflag").wantFail(t, 2, "parley: "+cmd+": ", "-nosuchflag", "usage: parley "+cmd)
	}
}

func TestArguments(t *testing.T) {
	cfg := setup(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"adduser", "-config", cfg}, "expected 1 argument, got 0"},
		{[]string{"adduser", "-config", cfg, "a@a.test", "b@a.test"}, "expected 1 argument, got 2"},
		{[]string{"adduser", "-config", cfg, "-batch", "a@a.test"}, "-batch takes no JID"},
		{[]string{"passwd", "-config", cfg}, "usage: parley passwd"},
		{[]string{"deluser", "-config", cfg}, "usage: parley deluser"},
		{[]string{"users", "-config", cfg}, "usage: parley users"},
		{[]string{"users", "-config", cfg, "a.test", "b.test"}, "usage: parley users"},
		{[]string{"serve", "-config", cfg, "extra"}, "usage: parley serve"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:1], " "), func(t *testing.T) {
			parley(t, "", tt.args...).wantFail(t, 2, "parley: "+tt.args[0]+": ", tt.want)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(testConfig+"[log]\nlevl = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve"},
		{"adduser", "a@a.test"},
		{"adduser", "-batch"},
		{"passwd", "a@a.test"},
		{"deluser", "a@a.test"},
		{"users", "a.test"},
	} {
		t.Run(args[0], func(t *testing.T) {
			parley(t, "secret\n", append(args, "-config", missing)...).
				wantFail(t, 1, "parley: "+args[0]+": "+missing+": ", "no such file")
			parley(t, "secret\n", append(args, "-config", bad)...).
				wantFail(t, 1, "parley: "+args[0]+": "+bad+": ", `unknown key "log.levl"`)
		})
	}
	// The default is ./config.toml.
	t.Chdir(dir)
	parley(t, "", "users", "a.test").wantFail(t, 1, "parley: users: config.toml: ")
}

func TestServe(t *testing.T) {
	cfg := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "-config", cfg}, strings.NewReader(""), &stdout, &stderr)
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
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop when its context was cancelled")
	}
	if !strings.Contains(stderr.String(), `"message":"stopped"`) {
		t.Errorf("no \"stopped\" log line: %s", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestAccountLifecycle(t *testing.T) {
	cfg := setup(t)
	c := []string{"-config", cfg}

	r := parley(t, "s3cret\n", append([]string{"adduser"}, append(c, "alice@a.test")...)...).wantOK(t)
	if r.stdout != "created alice@a.test\n" {
		t.Errorf("adduser stdout %q", r.stdout)
	}
	// Normalized; flags may follow the JID; CRLF and no final newline.
	parley(t, "pw two\r\n", "adduser", "Bob@A.Test", "-config", cfg).wantOK(t)
	parley(t, "pw", "adduser", "-config", cfg, "carol@b.test").wantOK(t)
	parley(t, "pw", "adduser", "-config", cfg, "--", "dave@a.test").wantOK(t)

	st := openStore(t, cfg)
	checkPassword(t, st, "alice@a.test", "s3cret")
	checkPassword(t, st, "bob@a.test", "pw two")

	r = parley(t, "", append([]string{"users"}, append(c, "a.test")...)...).wantOK(t)
	if want := "alice@a.test\nbob@a.test\ndave@a.test\n"; r.stdout != want {
		t.Errorf("users a.test = %q, want %q", r.stdout, want)
	}
	r = parley(t, "", "users", "-config", cfg, "B.TEST").wantOK(t)
	if want := "carol@b.test\n"; r.stdout != want {
		t.Errorf("users B.TEST = %q, want %q", r.stdout, want)
	}

	parley(t, "other\n", "adduser", "-config", cfg, "alice@a.test").
		wantFail(t, 1, "parley: adduser: alice@a.test: account already exists")
	checkPassword(t, st, "alice@a.test", "s3cret")

	r = parley(t, "n3w\nignored\n", "passwd", "-config", cfg, "ALICE@a.test").wantOK(t)
	if r.stdout != "changed the password of alice@a.test\n" {
		t.Errorf("passwd stdout %q", r.stdout)
	}
	checkPassword(t, st, "alice@a.test", "n3w")
	parley(t, "x\n", "passwd", "-config", cfg, "zoe@a.test").wantFail(t, 1, "parley: passwd: zoe@a.test: no such account")

	r = parley(t, "", "deluser", "-config", cfg, "alice@a.test").wantOK(t)
	if r.stdout != "deleted alice@a.test\n" {
		t.Errorf("deluser stdout %q", r.stdout)
	}
	if ok, err := st.AccountExists(t.Context(), "alice@a.test"); err != nil || ok {
		t.Errorf("AccountExists after deluser = %v, %v", ok, err)
	}
	parley(t, "", "deluser", "-config", cfg, "alice@a.test").wantFail(t, 1, "parley: deluser: alice@a.test: no such account")

	r = parley(t, "", "users", "-config", cfg, "a.test").wantOK(t)
	if want := "bob@a.test\ndave@a.test\n"; r.stdout != want {
		t.Errorf("users after deluser = %q, want %q", r.stdout, want)
	}
}

func TestAccountErrors(t *testing.T) {
	cfg := setup(t)
	name := cfg // as given on the command line
	tests := []struct {
		cmd   string
		arg   string
		stdin string
		want  string
	}{
		{"adduser", "alice@example.org", "pw\n", "parley: adduser: alice@example.org: domain example.org is not served by this server (" + name + ")"},
		{"adduser", "alice@conference.a.test", "pw\n", "domain conference.a.test is not served"},
		{"adduser", "a.test", "pw\n", "a.test: not an account JID (expected user@domain)"},
		{"adduser", "alice@a.test/phone", "pw\n", `alice@a.test/phone: not a bare JID (remove "/phone")`},
		{"adduser", "al ice@a.test", "pw\n", `"al ice@a.test" is not a valid JID`},
		{"adduser", "alice@a.test", "", "no password"},
		{"adduser", "alice@a.test", "\nsecond\n", "no password"},
		{"passwd", "alice@example.org", "pw\n", "parley: passwd: alice@example.org: domain example.org is not served"},
		{"passwd", "alice@a.test", "", "parley: passwd: no password"},
		{"deluser", "alice@example.org", "", "parley: deluser: alice@example.org: domain example.org is not served"},
		{"deluser", "@a.test", "", "parley: deluser: "},
		{"users", "example.org", "", "parley: users: domain example.org is not served by this server (" + name + ")"},
		{"users", "bad domain", "", `parley: users: "bad domain" is not a valid domain`},
	}
	for _, tt := range tests {
		t.Run(tt.cmd+" "+tt.arg, func(t *testing.T) {
			parley(t, tt.stdin, tt.cmd, "-config", cfg, tt.arg).wantFail(t, 1, tt.want)
		})
	}
	// Nothing was created, not even the database.
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data")); !os.IsNotExist(err) {
		t.Errorf("data directory created by failed commands: %v", err)
	}
}

func TestAddUserBatch(t *testing.T) {
	cfg := setup(t)
	var in strings.Builder
	want := map[string]string{}
	for i := range 12 {
		user := fmt.Sprintf("user%02d@a.test", i)
		pw := fmt.Sprintf("pass %d", i)
		want[user] = pw
		fmt.Fprintf(&in, "%s %s\n", user, pw)
		if i%4 == 0 {
			in.WriteString("\n   \n")
		}
	}
	in.WriteString("Tab@B.test\t pass word\r\n")
	want["tab@b.test"] = "pass word"

	r := parley(t, in.String(), "adduser", "-config", cfg, "-batch").wantOK(t)
	if r.stdout != "created 13 of 13 accounts\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	st := openStore(t, cfg)
	for user, pw := range want {
		checkPassword(t, st, user, pw)
	}
	users, err := st.ListAccounts(t.Context(), "a.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 12 || !slices.IsSorted(users) {
		t.Errorf("ListAccounts(a.test) = %q", users)
	}

	// Existing accounts are reported by line; the others are created.
	r = parley(t, "new1@a.test pw\nuser03@a.test pw\n\nnew2@b.test pw\nuser05@a.test pw\n", "adduser", "-batch", "-config", cfg)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	wantErr := "parley: adduser: line 2: user03@a.test: account already exists\n" +
		"parley: adduser: line 5: user05@a.test: account already exists\n"
	if r.stderr != wantErr {
		t.Errorf("stderr %q, want %q", r.stderr, wantErr)
	}
	if r.stdout != "created 2 of 4 accounts\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	checkPassword(t, st, "new2@b.test", "pw")
	checkPassword(t, st, "user03@a.test", "pass 3")

	// Empty input creates nothing.
	r = parley(t, "\n\n", "adduser", "-batch", "-config", cfg).wantOK(t)
	if r.stdout != "created 0 of 0 accounts\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}

func TestAddUserBatchErrors(t *testing.T) {
	cfg := setup(t)
	in := "ok1@a.test pw\n" +
		"nopass@a.test\n" +
		"\n" +
		"x@example.org pw\n" +
		"ok2@a.test pw\n" +
		"OK1@a.test again\n" +
		"bad jid@a.test pw\n" +
		"res@a.test/r pw\n" +
		"trailing@a.test   \n"
	r := parley(t, in, "adduser", "-batch", "-config", cfg)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	wantLines := []string{
		"parley: adduser: line 2: nopass@a.test: no password",
		"parley: adduser: line 4: x@example.org: domain example.org is not served by this server (" + cfg + ")",
		"parley: adduser: line 6: ok1@a.test: already listed on line 1",
		"parley: adduser: line 7: ",
		"parley: adduser: line 8: res@a.test/r: not a bare JID",
		"parley: adduser: line 9: trailing@a.test: no password",
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != len(wantLines) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(wantLines), r.stderr)
	}
	for i, w := range wantLines {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("stderr line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	// Nothing was created.
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data")); !os.IsNotExist(err) {
		t.Errorf("data directory created by a rejected batch: %v", err)
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb\n"); got != "a; b" {
		t.Errorf("oneLine = %q", got)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Msg("hidden")
	log.Warn().Msg("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"message":"shown"`) || !strings.Contains(out, `"time":`) {
		t.Errorf("log output %q", out)
	}
	if _, err := newLogger(&buf, "loud"); err == nil {
		t.Error("newLogger accepted level \"loud\"")
	}
}
