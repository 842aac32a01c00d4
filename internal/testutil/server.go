// Package testutil holds the helpers parley's end-to-end tests share: a
// real server on loopback ports with SQLite in a temporary directory, and
// a minimal raw-XML client speaking STARTTLS, SCRAM and resource binding.
package testutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/config"
	"parley/sasl"
	"parley/server"
)

// Domain is the domain test servers serve by default.
const Domain = "parley.test"

// Server is a running test server.
type Server struct {
	*server.Server
	T      testing.TB
	Dir    string
	Domain string
	Config *config.Config
	// Addr and DirectAddr are the STARTTLS and direct TLS client listeners.
	Addr, DirectAddr string
	cancel           context.CancelFunc
	stopped          bool
	logs             *logBuffer
}

// StartServer starts a server on loopback with a fresh data directory.
// extraTOML is appended to the generated config.toml; it may override
// sections other than [server], [storage] and [c2s] listen keys.
func StartServer(t testing.TB, extraTOML string) *Server {
	t.Helper()
	dir := t.TempDir()
	return StartServerIn(t, dir, extraTOML)
}

// StartServerIn starts a server whose config and data live in dir, so a
// test can stop it and start it again on the same data.
func StartServerIn(t testing.TB, dir, extraTOML string) *Server {
	t.Helper()
	return Start(t, Options{Dir: dir, Extra: extraTOML})
}

// Options describe a test server for Start.
type Options struct {
	// Dir holds the config and data; empty means a new temporary directory.
	Dir string
	// Domain is the served domain; empty means Domain.
	Domain string
	// MoreDomains are further served domains (virtual hosts).
	MoreDomains []string
	// Admins are the server administrators (server.admins), bare JIDs.
	Admins []string
	// Extra is appended to the generated config.toml (see StartServer).
	Extra string
	// LogLevel overrides the log level (default warn, or $PARLEY_TEST_LOG).
	LogLevel string
}

// Start starts a server described by o. Its log goes to the test log and
// is kept for Log and WaitLog.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Domain == "" {
		o.Domain = Domain
	}
	if o.LogLevel == "" {
		o.LogLevel = logLevel()
	}
	domains := fmt.Sprintf("%q", o.Domain)
	for _, d := range o.MoreDomains {
		domains += fmt.Sprintf(", %q", d)
	}
	admins := ""
	for i, a := range o.Admins {
		if i > 0 {
			admins += ", "
		}
		admins += fmt.Sprintf("%q", a)
	}
	toml := fmt.Sprintf(`[server]
domains = [%s]
admins = [%s]

[storage]
sqlite = "data/parley.db"

[c2s]
listen = "127.0.0.1:0"
direct_tls_listen = "127.0.0.1:0"
%s

[log]
level = %q
`, domains, admins, c2sSection(o.Extra), o.LogLevel)
	toml += stripC2S(o.Extra)
	path := filepath.Join(o.Dir, "config.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load test config: %v", err)
	}
	logs := &logBuffer{}
	// Warnings and errors go to the test output as they happen; every
	// line is kept for Log and WaitLog, and saved to a file if the test
	// fails, so a busy info log cannot bury the failure itself.
	stream := &zerolog.FilteredLevelWriter{Writer: zerolog.LevelWriterAdapter{Writer: zerolog.NewTestWriter(t)}, Level: streamLevel()}
	log := zerolog.New(zerolog.MultiLevelWriter(stream, logs)).With().Timestamp().Logger().Level(level(cfg.Log.Level))
	t.Cleanup(func() { saveLogOnFailure(t, logs) })
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	s := &Server{Server: srv, T: t, Dir: o.Dir, Domain: o.Domain, Config: cfg, Addr: srv.Addr("c2s"), DirectAddr: srv.Addr("c2s_direct_tls"), cancel: cancel, logs: logs}
	t.Cleanup(s.Stop)
	return s
}

// c2sSection returns the [c2s] lines of extra (given there under a
// "[c2s]" header) merged with test defaults that keep login throttling
// short, so they form one section.
func c2sSection(extra string) string {
	_, c2s := splitC2S(extra)
	for _, def := range []string{`login_failure_delay = "10ms"`, `login_failure_max_delay = "50ms"`} {
		key := strings.Fields(def)[0]
		if !strings.Contains(c2s, key+" ") && !strings.Contains(c2s, key+"=") {
			c2s += def + "\n"
		}
	}
	return c2s
}

func stripC2S(extra string) string {
	rest, _ := splitC2S(extra)
	return rest
}

func splitC2S(extra string) (rest, c2s string) {
	var r, c strings.Builder
	in := false
	for _, line := range strings.Split(extra, "\n") {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "[") {
			in = trim == "[c2s]"
			if in {
				continue
			}
		}
		if in {
			c.WriteString(line + "\n")
		} else {
			r.WriteString(line + "\n")
		}
	}
	return r.String(), c.String()
}

func logLevel() string {
	if l := os.Getenv("PARLEY_TEST_LOG"); l != "" {
		return l
	}
	return "warn"
}

// streamLevel is the lowest level copied to the test output: warn, or
// $PARLEY_TEST_LOG when set.
func streamLevel() zerolog.Level {
	if l := os.Getenv("PARLEY_TEST_LOG"); l != "" {
		return level(l)
	}
	return zerolog.WarnLevel
}

func level(s string) zerolog.Level {
	l, err := zerolog.ParseLevel(s)
	if err != nil {
		return zerolog.InfoLevel
	}
	return l
}

// Stop shuts the server down cleanly (idempotent).
func (s *Server) Stop() {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.T.Errorf("shutdown: %v", err)
	}
	s.cancel()
}

// AddUser creates an account; local may be a localpart or a bare JID.
func (s *Server) AddUser(local, password string) string {
	s.T.Helper()
	bare := local
	if !strings.Contains(local, "@") {
		bare = local + "@" + s.Domain
	}
	creds, err := sasl.NewCredentials(password, sasl.DefaultIterations)
	if err != nil {
		s.T.Fatal(err)
	}
	if err := s.Store().CreateAccount(context.Background(), bare, creds); err != nil {
		s.T.Fatalf("create %s: %v", bare, err)
	}
	return bare
}
