package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/config"
	"parley/internal/testutil"
	"parley/server"
)

// TestReloadIsAudited: a reload is recorded with what was reloaded, and
// a failed one with why.
func TestReloadIsAudited(t *testing.T) {
	ca := testutil.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	srv := testutil.Start(t, testutil.Options{Extra: "[tls]\ncert = \"" + certFile + "\"\nkey = \"" + keyFile + "\"\n"})

	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	if err := srv.Server.Reload("SIGHUP"); err != nil {
		t.Fatal(err)
	}
	ev := srv.WaitAudit(time.Second, audit.ConfigReloaded, "SIGHUP: reloaded the TLS certificate for "+testutil.Domain+", valid until ")
	if ev.Actor != audit.ServerActor || ev.Target != srv.Config.Path {
		t.Errorf("event %+v: want actor server, target the configuration file", ev)
	}

	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if err := srv.Server.Reload("SIGHUP"); err == nil {
		t.Fatal("a broken certificate file was accepted")
	}
	srv.WaitAudit(time.Second, audit.ConfigReloaded, "SIGHUP: reloading the TLS certificate failed, the current one stays: ")
	if n := len(srv.AuditEvents(audit.ConfigReloaded)); n != 2 {
		t.Fatalf("%d config.reloaded events for two reloads", n)
	}
}

// TestStartFailsWithoutAuditLog: a server whose audit log cannot be
// opened does not start, and says why.
func TestStartFailsWithoutAuditLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	toml := "[server]\ndomains = [\"a.test\"]\n[storage]\nsqlite = \"data/parley.db\"\n[c2s]\nlisten = \"127.0.0.1:0\"\n"
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A file where the audit log's directory should be.
	if err := os.WriteFile(audit.DefaultDir(cfg.DataDir()), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cfg, zerolog.Nop())
	if err == nil {
		srv.Shutdown(t.Context())
		t.Fatal("the server started without its audit log")
	}
	if !strings.Contains(err.Error(), "audit log") || !strings.Contains(err.Error(), audit.DefaultDir(cfg.DataDir())) {
		t.Errorf("error %q does not name the audit log and its directory", err)
	}
}
