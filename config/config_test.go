package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// contractExample is the example from CONTRACT.md.
const contractExample = `
[server]
domains = ["a.test"]                   # served domains (virtual hosts)

[storage]
sqlite = "data/parley.db"              # embedded default; relative paths are relative to the config file

[tls]
cert = "certs/a.test.crt"              # PEM; when cert and key are empty a self-signed one is generated and kept in the data dir
key  = "certs/a.test.key"
ca   = ""                              # extra trusted roots (PEM) for verifying peers' certificates

[c2s]
listen = "127.0.0.1:5222"              # STARTTLS, required before authentication
direct_tls_listen = "127.0.0.1:5223"   # XEP-0368 direct TLS; empty disables

[s2s]
listen = "127.0.0.1:5269"              # empty disables federation
secure_auth = false                    # true: peers must present a valid certificate (no dialback fallback)
allow = []                             # partner domains allowed to federate; empty = open federation

[muc]
domain = "conference.a.test"           # empty disables the group-chat service

[log]
level = "info"                         # debug, info, warn, error
`

// writeConfig writes body as config.toml in a new temporary directory,
// along with certs/a.test.{crt,key}, and returns the file's path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.test.crt", "a.test.key", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, "certs", name), []byte("PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadContractExample(t *testing.T) {
	path := writeConfig(t, contractExample)
	dir := filepath.Dir(path)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:    path,
		Server:  Server{Domains: []string{"a.test"}},
		Storage: Storage{SQLite: filepath.Join(dir, "data", "parley.db")},
		TLS: TLS{
			Cert: filepath.Join(dir, "certs", "a.test.crt"),
			Key:  filepath.Join(dir, "certs", "a.test.key"),
		},
		C2S: C2S{
			Listen:               "127.0.0.1:5222",
			DirectTLSListen:      "127.0.0.1:5223",
			MaxStanzaSize:        262144,
			AuthTimeout:          Duration{30 * time.Second},
			LoginFailureDelay:    Duration{time.Second},
			LoginFailureMaxDelay: Duration{30 * time.Second},
		},
		S2S: S2S{Listen: "127.0.0.1:5269", Allow: []string{}},
		MUC: MUC{Domain: "conference.a.test"},
		Log: Log{Level: "info"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
	}
	if got, want := cfg.DataDir(), filepath.Join(dir, "data"); got != want {
		t.Errorf("DataDir() = %q, want %q", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	path := writeConfig(t, "[server]\ndomains = [\"a.test\"]\n")
	dir := filepath.Dir(path)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = path
	want.Server.Domains = []string{"a.test"}
	want.Storage.SQLite = filepath.Join(dir, "data", "parley.db")
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadSettings(t *testing.T) {
	path := writeConfig(t, `
[server]
domains = ["a.test", "b.test"]
[storage]
sqlite = "/var/lib/parley/p.db"
[tls]
ca = "certs/ca.pem"
[c2s]
max_stanza_size = 65536
auth_timeout = "1m30s"
login_failure_delay = "500ms"
login_failure_max_delay = "10s"
[s2s]
listen = "[::1]:5269"
secure_auth = true
allow = ["c.test"]
deny = ["d.test"]
[log]
level = "debug"
`)
	dir := filepath.Dir(path)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"domains", cfg.Server.Domains, []string{"a.test", "b.test"}},
		{"sqlite", cfg.Storage.SQLite, "/var/lib/parley/p.db"},
		{"DataDir", cfg.DataDir(), "/var/lib/parley"},
		{"ca", cfg.TLS.CA, filepath.Join(dir, "certs", "ca.pem")},
		{"cert", cfg.TLS.Cert, ""},
		{"max_stanza_size", cfg.C2S.MaxStanzaSize, 65536},
		{"auth_timeout", cfg.C2S.AuthTimeout.Duration, 90 * time.Second},
		{"login_failure_delay", cfg.C2S.LoginFailureDelay.Duration, 500 * time.Millisecond},
		{"login_failure_max_delay", cfg.C2S.LoginFailureMaxDelay.Duration, 10 * time.Second},
		{"s2s.listen", cfg.S2S.Listen, "[::1]:5269"},
		{"secure_auth", cfg.S2S.SecureAuth, true},
		{"allow", cfg.S2S.Allow, []string{"c.test"}},
		{"deny", cfg.S2S.Deny, []string{"d.test"}},
		{"level", cfg.Log.Level, "debug"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestLoadRelativeConfigPath(t *testing.T) {
	path := writeConfig(t, contractExample)
	dir := filepath.Dir(path)
	t.Chdir(dir)
	cfg, err := Load("config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != path {
		t.Errorf("Path = %q, want %q", cfg.Path, path)
	}
	if want := filepath.Join(dir, "certs", "a.test.crt"); cfg.TLS.Cert != want {
		t.Errorf("TLS.Cert = %q, want %q", cfg.TLS.Cert, want)
	}
}

func TestLoadErrors(t *testing.T) {
	const base = "[server]\ndomains = [\"a.test\"]\n"
	tests := []struct {
		name string
		body string
		want []string // substrings of the error, besides the file name
	}{
		{"syntax", base + "[c2s\n", []string{"line 4", "expected '.' or ']'"}},
		{"duplicate key", base + "[c2s]\nlisten = \"a:1\"\nlisten = \"b:2\"\n", []string{"c2s.listen"}},
		{"unknown key", base + "[c2s]\nlistn = \"127.0.0.1:5222\"\n", []string{`unknown key "c2s.listn"`}},
		{"unknown section", base + "[c2x]\nlisten = \"x\"\n", []string{`unknown key "c2x"`}},
		{"unknown dotted key", "c2s.foo = 1\n" + base, []string{`unknown key "c2s.foo"`}},
		{"unknown inline key", "c2s = {listen = \"127.0.0.1:1\", bar = 2}\n" + base, []string{`unknown key "c2s.bar"`}},
		{"unknown top-level key", "domains = [\"a.test\"]\n", []string{`unknown key "domains"`}},
		{"sub-key of value", "server.domains.x = 1\n", []string{"server.domains"}},
		{"string wanted", base + "[c2s]\nlisten = 5222\n", []string{"c2s.listen: expected a string, got integer"}},
		{"integer wanted", base + "[c2s]\nmax_stanza_size = \"big\"\n", []string{"c2s.max_stanza_size: expected an integer, got string"}},
		{"boolean wanted", base + "[s2s]\nsecure_auth = \"yes\"\n", []string{"s2s.secure_auth: expected a boolean, got string"}},
		{"array wanted", "[server]\ndomains = \"a.test\"\n", []string{"server.domains: expected an array of strings, got string"}},
		{"array of strings wanted", "[server]\ndomains = [\"a.test\", 3]\n", []string{"server.domains: expected an array of strings, got array containing integer"}},
		{"table wanted", "server = 1\n", []string{"server: expected a table, got integer"}},
		{"array of tables", "[[server]]\ndomains = [\"a.test\"]\n", []string{"server: expected a table, got array of tables"}},
		{"float", base + "[c2s]\nmax_stanza_size = 1.5\n", []string{"c2s.max_stanza_size: expected an integer, got float"}},
		{"duration type", base + "[c2s]\nauth_timeout = 30\n", []string{"c2s.auth_timeout: expected a string, got integer"}},
		{"duration syntax", base + "[c2s]\nauth_timeout = \"30 seconds\"\n", []string{`c2s.auth_timeout: invalid duration "30 seconds"`}},
		{"duration zero", base + "[c2s]\nauth_timeout = \"0s\"\n", []string{"c2s.auth_timeout: must be positive"}},
		{"duration negative", base + "[c2s]\nlogin_failure_delay = \"-1s\"\n", []string{"c2s.login_failure_delay: must be positive"}},
		{"max below base delay", base + "[c2s]\nlogin_failure_delay = \"5s\"\nlogin_failure_max_delay = \"2s\"\n", []string{"c2s.login_failure_max_delay"}},
		{"no domains", "[server]\ndomains = []\n", []string{"server.domains: at least one"}},
		{"no server section", "[log]\nlevel = \"info\"\n", []string{"server.domains: at least one"}},
		{"bad domain", "[server]\ndomains = [\"bad domain!\"]\n", []string{`server.domains: "bad domain!" is not a valid domain`}},
		{"empty domain", "[server]\ndomains = [\"\"]\n", []string{`server.domains: "" is not a valid domain`}},
		{"unnormalized domain", "[server]\ndomains = [\"A.test\"]\n", []string{`server.domains: "A.test" is not in normalized form; write "a.test"`}},
		{"duplicate domain", "[server]\ndomains = [\"a.test\", \"b.test\", \"a.test\"]\n", []string{`server.domains: "a.test" is listed twice`}},
		{"empty sqlite", base + "[storage]\nsqlite = \"\"\n", []string{"storage.sqlite: must not be empty"}},
		{"cert without key", base + "[tls]\ncert = \"certs/a.test.crt\"\n", []string{"tls.key: must be set"}},
		{"key without cert", base + "[tls]\nkey = \"certs/a.test.key\"\n", []string{"tls.cert: must be set"}},
		{"missing cert", base + "[tls]\ncert = \"certs/x.crt\"\nkey = \"certs/a.test.key\"\n", []string{"tls.cert: open ", "certs/x.crt: no such file or directory"}},
		{"missing key", base + "[tls]\ncert = \"certs/a.test.crt\"\nkey = \"certs/x.key\"\n", []string{"tls.key: open ", "certs/x.key: no such file or directory"}},
		{"missing ca", base + "[tls]\nca = \"certs/x.pem\"\n", []string{"tls.ca: open ", "certs/x.pem: no such file or directory"}},
		{"ca is a directory", base + "[tls]\nca = \"certs\"\n", []string{"tls.ca: ", "is a directory"}},
		{"empty c2s listen", base + "[c2s]\nlisten = \"\"\n", []string{"c2s.listen: must not be empty"}},
		{"bad c2s listen", base + "[c2s]\nlisten = \"localhost\"\n", []string{`c2s.listen: "localhost" is not a host:port address: missing port in address`}},
		{"bad port", base + "[c2s]\nlisten = \"localhost:xmpp\"\n", []string{`c2s.listen: "localhost:xmpp": port "xmpp" is not a number`}},
		{"port range", base + "[c2s]\nlisten = \"localhost:65536\"\n", []string{`c2s.listen: "localhost:65536"`}},
		{"bad direct tls listen", base + "[c2s]\ndirect_tls_listen = \"::1:5223\"\n", []string{`c2s.direct_tls_listen: "::1:5223" is not a host:port address`}},
		{"same direct tls listen", base + "[c2s]\ndirect_tls_listen = \"127.0.0.1:5222\"\n", []string{"c2s.direct_tls_listen: \"127.0.0.1:5222\" is also c2s.listen"}},
		{"bad s2s listen", base + "[s2s]\nlisten = \"5269\"\n", []string{`s2s.listen: "5269" is not a host:port address`}},
		{"same s2s listen", base + "[s2s]\nlisten = \"127.0.0.1:5222\"\n", []string{"s2s.listen: \"127.0.0.1:5222\" is also c2s.listen"}},
		{"small stanza size", base + "[c2s]\nmax_stanza_size = 9999\n", []string{"c2s.max_stanza_size: 9999 is less than the minimum of 10000"}},
		{"bad muc domain", base + "[muc]\ndomain = \"chat room\"\n", []string{`muc.domain: "chat room" is not a valid domain`}},
		{"served muc domain", base + "[muc]\ndomain = \"a.test\"\n", []string{`muc.domain: "a.test" is also in server.domains`}},
		{"bad allow", base + "[s2s]\nallow = [\"x y\"]\n", []string{`s2s.allow: "x y" is not a valid domain`}},
		{"bad deny", base + "[s2s]\ndeny = [\"x@y\"]\n", []string{`s2s.deny: "x@y" is not a valid domain`}},
		{"bad log level", base + "[log]\nlevel = \"verbose\"\n", []string{`log.level: "verbose" is not one of debug, info, warn, error`}},
		{"log level type", base + "[log]\nlevel = 1\n", []string{"log.level: expected a string, got integer"}},
		{"public pprof", base + "[debug]\npprof_listen = \"0.0.0.0:6060\"\n", []string{`debug.pprof_listen: "0.0.0.0:6060" is not a loopback address`}},
		{"bad pprof", base + "[debug]\npprof_listen = \"6060\"\n", []string{`debug.pprof_listen: "6060" is not a host:port address`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the file name %q", msg, path)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q is more than one line", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if want := path + ": cannot read configuration: no such file or directory"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil {
		t.Fatal(err)
	}
	if d.Duration != 90*time.Second {
		t.Errorf("Duration = %s, want 1m30s", d)
	}
	text, err := d.MarshalText()
	if err != nil || string(text) != "1m30s" {
		t.Errorf("MarshalText() = %q, %v, want \"1m30s\"", text, err)
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil {
		t.Error("UnmarshalText(\"soon\") succeeded")
	}
}

func TestRepositoryConfig(t *testing.T) {
	cfg, err := Load("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Server.Domains, []string{"localhost"}) || cfg.TLS.Cert != "" ||
		cfg.C2S.DirectTLSListen != "127.0.0.1:5223" || cfg.S2S.Listen != "" || cfg.MUC.Domain != "" {
		t.Errorf("unexpected configuration: %+v", cfg)
	}
	if want, _ := filepath.Abs("../data"); cfg.DataDir() != want {
		t.Errorf("DataDir() = %q, want %q", cfg.DataDir(), want)
	}
}
