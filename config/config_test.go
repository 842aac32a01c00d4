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
			ResumeTimeout:        Duration{5 * time.Minute},
			MaxUnacked:           10000,
			FastTokenLifetime:    Duration{21 * 24 * time.Hour},
		},
		S2S: S2S{
			Listen:         "127.0.0.1:5269",
			Allow:          []string{},
			ConnectTimeout: Duration{30 * time.Second},
			IdleTimeout:    Duration{10 * time.Minute},
			MaxStanzaSize:  262144,
		},
		MUC: func() MUC { m := Default().MUC; m.Domain = "conference.a.test"; return m }(),
		Log: Log{Level: "info"},
		// The example has no [components] section.
		Components: Default().Components,
		MAM:        Default().MAM,
		HTTP:       Default().HTTP,
		Upload:     Default().Upload,
		Proxy65:    Default().Proxy65,
		PEP:        Default().PEP,
		Register:   Default().Register,
		Archive:    Default().Archive,
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

func TestDefaultS2S(t *testing.T) {
	want := S2S{
		ConnectTimeout: Duration{30 * time.Second},
		IdleTimeout:    Duration{10 * time.Minute},
		MaxStanzaSize:  262144,
	}
	if got := Default().S2S; !reflect.DeepEqual(got, want) {
		t.Errorf("Default().S2S = %+v, want %+v", got, want)
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
direct_tls_listen = "[::1]:5270"
secure_auth = true
allow = ["c.test", "*.e.test"]
deny = ["d.test", "*.spam.e.test"]
connect_timeout = "5s"
idle_timeout = "1h"
max_stanza_size = 10000
[s2s.hosts]
"b.example" = "127.0.0.2:5269"
localhost = "[::1]:15269"
"bücher.example" = "xmpp.xn--bcher-kva.example:5269"
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
		{"allow", cfg.S2S.Allow, []string{"c.test", "*.e.test"}},
		{"deny", cfg.S2S.Deny, []string{"d.test", "*.spam.e.test"}},
		{"s2s.direct_tls_listen", cfg.S2S.DirectTLSListen, "[::1]:5270"},
		{"connect_timeout", cfg.S2S.ConnectTimeout.Duration, 5 * time.Second},
		{"idle_timeout", cfg.S2S.IdleTimeout.Duration, time.Hour},
		{"s2s.max_stanza_size", cfg.S2S.MaxStanzaSize, 10000},
		{"hosts", cfg.S2S.Hosts, map[string]string{
			"b.example":      "127.0.0.2:5269",
			"localhost":      "[::1]:15269",
			"bücher.example": "xmpp.xn--bcher-kva.example:5269",
		}},
		{"level", cfg.Log.Level, "debug"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultMUC(t *testing.T) {
	want := MUC{
		Create:          "local",
		LockNewRooms:    true,
		MaxRoomsPerUser: 50,
		MaxOccupants:    200,
		HistoryLength:   20,
		DefaultRoom:     MUCRoomDefaults{Public: true, Anonymity: "semi", History: true, Logging: true},
	}
	if got := Default().MUC; !reflect.DeepEqual(got, want) {
		t.Errorf("Default().MUC = %+v, want %+v", got, want)
	}
}

func TestLoadMUCSettings(t *testing.T) {
	path := writeConfig(t, `
[server]
domains = ["a.test"]
[muc]
domain = "conference.a.test"
create = "admins"
admins = ["boss@a.test", "ops@partner.test"]
lock_new_rooms = false
max_rooms_per_user = 0
max_occupants = 1000
history_length = 0
[muc.default_room]
public = false
persistent = true
members_only = true
moderated = true
anonymity = "non"
history = false
logging = false
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := MUC{
		Domain:          "conference.a.test",
		Create:          "admins",
		Admins:          []string{"boss@a.test", "ops@partner.test"},
		LockNewRooms:    false,
		MaxRoomsPerUser: 0,
		MaxOccupants:    1000,
		HistoryLength:   0,
		DefaultRoom:     MUCRoomDefaults{Persistent: true, MembersOnly: true, Moderated: true, Anonymity: "non"},
	}
	if !reflect.DeepEqual(cfg.MUC, want) {
		t.Errorf("MUC = %+v\nwant %+v", cfg.MUC, want)
	}
}

func TestLoadMUCErrors(t *testing.T) {
	const base = "[server]\ndomains = [\"a.test\"]\n[muc]\ndomain = \"conference.a.test\"\n"
	tests := []struct {
		name string
		body string
		want string // substring of the error, besides the file name
	}{
		{"create value", base + "create = \"everyone\"\n", `muc.create: "everyone" is not one of local, admins, anyone`},
		{"create type", base + "create = true\n", "muc.create: expected a string, got boolean"},
		{"admins without admins", base + "create = \"admins\"\n", `muc.create: "admins" needs at least one JID in muc.admins`},
		{"admin not a JID", base + "admins = [\"not a jid@\"]\n", `muc.admins: "not a jid@" is not a valid JID`},
		{"admin is a domain", base + "admins = [\"a.test\"]\n", `muc.admins: "a.test" is not a bare JID of the form user@domain`},
		{"admin with resource", base + "admins = [\"boss@a.test/pc\"]\n", `muc.admins: "boss@a.test/pc" is not a bare JID`},
		{"admin unnormalized", base + "admins = [\"Boss@A.test\"]\n", `muc.admins: "Boss@A.test" is not in normalized form; write "boss@a.test"`},
		{"admin twice", base + "admins = [\"boss@a.test\", \"boss@a.test\"]\n", `muc.admins: "boss@a.test" is listed twice`},
		{"admins type", base + "admins = \"boss@a.test\"\n", "muc.admins: expected an array of strings, got string"},
		{"lock type", base + "lock_new_rooms = \"yes\"\n", "muc.lock_new_rooms: expected a boolean, got string"},
		{"negative rooms per user", base + "max_rooms_per_user = -1\n", "muc.max_rooms_per_user: must not be negative, got -1"},
		{"zero occupants", base + "max_occupants = 0\n", "muc.max_occupants: must be at least 1, got 0"},
		{"negative history", base + "history_length = -5\n", "muc.history_length: -5 is not between 0 and 10000"},
		{"huge history", base + "history_length = 10001\n", "muc.history_length: 10001 is not between 0 and 10000"},
		{"anonymity value", base + "[muc.default_room]\nanonymity = \"full\"\n", `muc.default_room.anonymity: "full" is not one of semi, non`},
		{"default room key", base + "[muc.default_room]\npassword = \"x\"\n", `unknown key "muc.default_room.password"`},
		{"default room type", base + "[muc.default_room]\npublic = 1\n", "muc.default_room.public: expected a boolean, got integer"},
		{"unknown muc key", base + "max_users = 5\n", `unknown key "muc.max_users"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want one line starting with the file name and containing %q", msg, tt.want)
			}
		})
	}
}

func TestLoadS2SHostsInline(t *testing.T) {
	path := writeConfig(t, `
[server]
domains = ["a.test"]
[s2s]
hosts = { "b.example" = "127.0.0.2:5269", "c.example" = "c-xmpp.example:5270" }
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b.example": "127.0.0.2:5269", "c.example": "c-xmpp.example:5270"}
	if !reflect.DeepEqual(cfg.S2S.Hosts, want) {
		t.Errorf("Hosts = %#v, want %#v", cfg.S2S.Hosts, want)
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
		{"bad s2s direct tls listen", base + "[s2s]\nlisten = \"127.0.0.1:5269\"\ndirect_tls_listen = \"5270\"\n", []string{`s2s.direct_tls_listen: "5270" is not a host:port address`}},
		{"s2s direct tls port", base + "[s2s]\nlisten = \"127.0.0.1:5269\"\ndirect_tls_listen = \"127.0.0.1:xmpps\"\n", []string{`s2s.direct_tls_listen: "127.0.0.1:xmpps": port "xmpps" is not a number`}},
		{"s2s direct tls type", base + "[s2s]\ndirect_tls_listen = 5270\n", []string{"s2s.direct_tls_listen: expected a string, got integer"}},
		{"s2s direct tls without listen", base + "[s2s]\ndirect_tls_listen = \"127.0.0.1:5270\"\n", []string{"s2s.direct_tls_listen: set while s2s.listen is empty"}},
		{"s2s direct tls is s2s listen", base + "[s2s]\nlisten = \"127.0.0.1:5269\"\ndirect_tls_listen = \"127.0.0.1:5269\"\n", []string{`s2s.direct_tls_listen: "127.0.0.1:5269" is also s2s.listen`}},
		{"s2s direct tls is c2s listen", base + "[s2s]\nlisten = \"127.0.0.1:5269\"\ndirect_tls_listen = \"127.0.0.1:5222\"\n", []string{`s2s.direct_tls_listen: "127.0.0.1:5222" is also c2s.listen`}},
		{"s2s direct tls is c2s direct tls", base + "[c2s]\ndirect_tls_listen = \"127.0.0.1:5223\"\n[s2s]\nlisten = \"127.0.0.1:5269\"\ndirect_tls_listen = \"127.0.0.1:5223\"\n", []string{`s2s.direct_tls_listen: "127.0.0.1:5223" is also c2s.direct_tls_listen`}},
		{"connect timeout zero", base + "[s2s]\nconnect_timeout = \"0s\"\n", []string{"s2s.connect_timeout: must be positive, got 0s"}},
		{"connect timeout negative", base + "[s2s]\nconnect_timeout = \"-30s\"\n", []string{"s2s.connect_timeout: must be positive, got -30s"}},
		{"connect timeout syntax", base + "[s2s]\nconnect_timeout = \"30\"\n", []string{`s2s.connect_timeout: invalid duration "30"`}},
		{"connect timeout type", base + "[s2s]\nconnect_timeout = 30\n", []string{"s2s.connect_timeout: expected a string, got integer"}},
		{"idle timeout zero", base + "[s2s]\nidle_timeout = \"0\"\n", []string{"s2s.idle_timeout: must be positive, got 0s"}},
		{"idle timeout negative", base + "[s2s]\nidle_timeout = \"-10m\"\n", []string{"s2s.idle_timeout: must be positive, got -10m0s"}},
		{"idle timeout syntax", base + "[s2s]\nidle_timeout = \"ten minutes\"\n", []string{`s2s.idle_timeout: invalid duration "ten minutes"`}},
		{"s2s small stanza size", base + "[s2s]\nmax_stanza_size = 9999\n", []string{"s2s.max_stanza_size: 9999 is less than the minimum of 10000"}},
		{"s2s negative stanza size", base + "[s2s]\nmax_stanza_size = -1\n", []string{"s2s.max_stanza_size: -1 is less than the minimum of 10000"}},
		{"s2s stanza size type", base + "[s2s]\nmax_stanza_size = \"256k\"\n", []string{"s2s.max_stanza_size: expected an integer, got string"}},
		{"hosts not a table", base + "[s2s]\nhosts = \"b.example=127.0.0.2:5269\"\n", []string{"s2s.hosts: expected a table, got string"}},
		{"hosts array of tables", base + "[[s2s.hosts]]\n\"b.example\" = \"127.0.0.2:5269\"\n", []string{"s2s.hosts: expected a table, got array of tables"}},
		{"hosts value type", base + "[s2s.hosts]\n\"b.example\" = 5269\n", []string{`s2s.hosts."b.example": expected a string, got integer`}},
		{"hosts value table", base + "[s2s.hosts.\"b.example\"]\naddr = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."b.example": expected a string, got table`}},
		{"hosts bad domain", base + "[s2s.hosts]\n\"bad domain!\" = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."bad domain!": "bad domain!" is not a valid domain`}},
		{"hosts empty domain", base + "[s2s.hosts]\n\"\" = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."": "" is not a valid domain`}},
		{"hosts newline in domain", base + "[s2s.hosts]\n\"a\\nb\" = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."a\nb": "a\nb" is not a valid domain`}},
		{"hosts unnormalized domain", base + "[s2s.hosts]\n\"B.example\" = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."B.example": "B.example" is not in normalized form; write "b.example"`}},
		{"hosts punycode domain", base + "[s2s.hosts]\n\"xn--bcher-kva.example\" = \"127.0.0.2:5269\"\n", []string{`s2s.hosts."xn--bcher-kva.example": "xn--bcher-kva.example" is not in normalized form; write "bücher.example"`}},
		{"hosts bare key", base + "[s2s.hosts]\nlocalhost = \"127.0.0.2\"\n", []string{`s2s.hosts.localhost: "127.0.0.2" is not a host:port address: missing port in address`}},
		{"hosts missing port", base + "[s2s.hosts]\n\"b.example\" = \"127.0.0.2\"\n", []string{`s2s.hosts."b.example": "127.0.0.2" is not a host:port address: missing port in address`}},
		{"hosts named port", base + "[s2s.hosts]\n\"b.example\" = \"xmpp.b.example:xmpp-server\"\n", []string{`s2s.hosts."b.example": "xmpp.b.example:xmpp-server": port "xmpp-server" is not a number`}},
		{"hosts port range", base + "[s2s.hosts]\n\"b.example\" = \"127.0.0.2:70000\"\n", []string{`s2s.hosts."b.example": "127.0.0.2:70000": port "70000" is not a number from 0 to 65535`}},
		{"hosts port zero", base + "[s2s.hosts]\n\"b.example\" = \"127.0.0.2:0\"\n", []string{`s2s.hosts."b.example": "127.0.0.2:0": port 0 cannot be connected to`}},
		{"hosts no host", base + "[s2s.hosts]\n\"b.example\" = \":5269\"\n", []string{`s2s.hosts."b.example": ":5269" has no host`}},
		{"hosts bad IPv6", base + "[s2s.hosts]\n\"b.example\" = \"::1:5269\"\n", []string{`s2s.hosts."b.example": "::1:5269" is not a host:port address: too many colons`}},
		{"hosts checked in sorted order", base + "[s2s.hosts]\n\"z.example\" = \"x\"\n\"c.example\" = \"y\"\n", []string{`s2s.hosts."c.example": "y" is not a host:port address`}},
		{"bad wildcard allow", base + "[s2s]\nallow = [\"*.x y\"]\n", []string{`s2s.allow: "*.x y" is not a valid domain or "*." and a domain`}},
		{"bare wildcard allow", base + "[s2s]\nallow = [\"*\"]\n", []string{`s2s.allow: "*" is not a valid domain`}},
		{"empty wildcard allow", base + "[s2s]\nallow = [\"*.\"]\n", []string{`s2s.allow: "*." is not a valid domain or "*." and a domain`}},
		{"inner wildcard allow", base + "[s2s]\nallow = [\"a.*.test\"]\n", []string{`s2s.allow: "a.*.test" is not a valid domain`}},
		{"double wildcard deny", base + "[s2s]\ndeny = [\"*.*.test\"]\n", []string{`s2s.deny: "*.*.test" is not a valid domain or "*." and a domain`}},
		{"unnormalized wildcard deny", base + "[s2s]\ndeny = [\"*.Spam.test\"]\n", []string{`s2s.deny: "*.Spam.test" is not in normalized form; write "*.spam.test"`}},
		{"unnormalized allow", base + "[s2s]\nallow = [\"C.test\"]\n", []string{`s2s.allow: "C.test" is not in normalized form; write "c.test"`}},
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
		cfg.C2S.DirectTLSListen != "127.0.0.1:5223" || cfg.S2S.Listen != "" || cfg.MUC.Domain != "conference.localhost" ||
		cfg.S2S.DirectTLSListen != "" || cfg.S2S.ConnectTimeout != Default().S2S.ConnectTimeout ||
		cfg.S2S.IdleTimeout != Default().S2S.IdleTimeout || cfg.S2S.MaxStanzaSize != Default().S2S.MaxStanzaSize ||
		len(cfg.S2S.Hosts) != 0 {
		t.Errorf("unexpected configuration: %+v", cfg)
	}
	wantMUC := Default().MUC
	wantMUC.Domain = "conference.localhost"
	if !reflect.DeepEqual(cfg.MUC, wantMUC) {
		t.Errorf("config.toml [muc] = %+v, want the defaults on conference.localhost %+v", cfg.MUC, wantMUC)
	}
	wantMAM := Default().MAM
	wantMAM.Enabled = true
	if cfg.MAM != wantMAM {
		t.Errorf("config.toml [mam] = %+v, want the defaults, enabled %+v", cfg.MAM, wantMAM)
	}
	if want, _ := filepath.Abs("../data"); cfg.DataDir() != want {
		t.Errorf("DataDir() = %q, want %q", cfg.DataDir(), want)
	}
}

func TestMAMSection(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		retention           time.Duration
	}{
		{name: "defaults", body: ""},
		{name: "days", body: "[mam]\nenabled = true\nretention = \"90d\"\n", retention: 90 * 24 * time.Hour},
		{name: "years", body: "[mam]\nretention = \"7y\"\n", retention: 7 * 365 * 24 * time.Hour},
		{name: "go duration", body: "[mam]\nretention = \"720h\"\n", retention: 720 * time.Hour},
		{name: "bad default", body: "[mam]\ndefault = \"sometimes\"\n", wantErr: "mam.default"},
		{name: "too short", body: "[mam]\nretention = \"5m\"\n", wantErr: "mam.retention"},
		{name: "bad unit", body: "[mam]\nretention = \"3x\"\n", wantErr: "mam.retention"},
		{name: "page too large", body: "[mam]\nmax_page = 100000\n", wantErr: "mam.max_page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg == nil {
				return
			}
			if cfg.MAM.Retention.Duration != c.retention {
				t.Fatalf("retention %v, want %v", cfg.MAM.Retention.Duration, c.retention)
			}
		})
	}
}

// loadSection loads a configuration of one domain and body. With wantErr
// set it checks that loading fails with an error containing wantErr and
// the file's name, and returns nil.
func loadSection(t *testing.T, body, wantErr string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[server]\ndomains = [\"a.test\"]\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v, want an error with %q and the file", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
