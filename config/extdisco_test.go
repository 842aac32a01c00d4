package config

import (
	"strings"
	"testing"
	"time"
)

func TestExternalServices(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		root                bool // body goes before [server], at the top level
		check               func(t *testing.T, c *Config)
	}{
		{name: "none by default", body: "", check: func(t *testing.T, c *Config) {
			if len(c.ExternalServices) != 0 {
				t.Fatalf("got %+v", c.ExternalServices)
			}
		}},
		{name: "contract example", body: "[[external_services]]\ntype = \"stun\"\nhost = \"turn.a.test\"\nport = 3478\ntransport = \"udp\"\n", check: func(t *testing.T, c *Config) {
			want := ExternalService{Type: "stun", Host: "turn.a.test", Port: 3478, Transport: "udp", TTL: Duration{24 * time.Hour}}
			if len(c.ExternalServices) != 1 || c.ExternalServices[0] != want {
				t.Fatalf("got %+v", c.ExternalServices)
			}
		}},
		{name: "several with defaults", body: "[[external_services]]\ntype = \"turn\"\nhost = \"turn.a.test\"\nsecret = \"s3cret\"\nttl = \"1h\"\nname = \"Office TURN\"\n\n[[external_services]]\ntype = \"turns\"\nhost = \"192.0.2.1\"\n\n[[external_services]]\ntype = \"turn\"\nhost = \"turn.a.test\"\ntransport = \"tcp\"\n", check: func(t *testing.T, c *Config) {
			want := []ExternalService{
				{Type: "turn", Host: "turn.a.test", Port: 3478, Transport: "udp", Secret: "s3cret", TTL: Duration{time.Hour}, Name: "Office TURN"},
				{Type: "turns", Host: "192.0.2.1", Port: 5349, Transport: "tcp", TTL: Duration{24 * time.Hour}},
				{Type: "turn", Host: "turn.a.test", Port: 3478, Transport: "tcp", TTL: Duration{24 * time.Hour}},
			}
			if len(c.ExternalServices) != len(want) {
				t.Fatalf("got %+v", c.ExternalServices)
			}
			for i := range want {
				if c.ExternalServices[i] != want[i] {
					t.Fatalf("service %d: got %+v, want %+v", i, c.ExternalServices[i], want[i])
				}
			}
		}},
		{name: "inline tables", root: true, body: "external_services = [{type = \"stun\", host = \"stun.a.test\"}, {type = \"turn\", host = \"turn.a.test\", port = 3479}]\n", check: func(t *testing.T, c *Config) {
			if len(c.ExternalServices) != 2 || c.ExternalServices[1].Port != 3479 {
				t.Fatalf("got %+v", c.ExternalServices)
			}
		}},
		{name: "no type", body: "[[external_services]]\nhost = \"turn.a.test\"\n", wantErr: "external_services[0].type: must be set"},
		{name: "bad type", body: "[[external_services]]\ntype = \"stun\"\nhost = \"a.test\"\n[[external_services]]\ntype = \"ftp\"\nhost = \"a.test\"\n", wantErr: `external_services[1].type: "ftp" is not one of stun, turn, stuns, turns`},
		{name: "no host", body: "[[external_services]]\ntype = \"stun\"\n", wantErr: "external_services[0].host: must be set"},
		{name: "bad host", body: "[[external_services]]\ntype = \"stun\"\nhost = \"turn.a.test:3478\"\n", wantErr: "external_services[0].host"},
		{name: "port too large", body: "[[external_services]]\ntype = \"stun\"\nhost = \"a.test\"\nport = 70000\n", wantErr: "external_services[0].port: 70000 is not between 1 and 65535"},
		{name: "negative port", body: "[[external_services]]\ntype = \"stun\"\nhost = \"a.test\"\nport = -1\n", wantErr: "external_services[0].port"},
		{name: "bad transport", body: "[[external_services]]\ntype = \"stun\"\nhost = \"a.test\"\ntransport = \"sctp\"\n", wantErr: `external_services[0].transport: "sctp" is not one of udp, tcp`},
		{name: "secret on stun", body: "[[external_services]]\ntype = \"stun\"\nhost = \"a.test\"\nsecret = \"x\"\n", wantErr: "external_services[0].secret: only turn and turns"},
		{name: "short ttl", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nsecret = \"x\"\nttl = \"10s\"\n", wantErr: "external_services[0].ttl: 10s is not between"},
		{name: "long ttl", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nsecret = \"x\"\nttl = \"90d\"\n", wantErr: "external_services[0].ttl"},
		{name: "bad ttl", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nttl = \"soon\"\n", wantErr: "external_services.ttl: invalid duration"},
		{name: "control in name", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nname = \"a\\u0007\"\n", wantErr: "external_services[0].name"},
		{name: "duplicate", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\n[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nport = 3478\n", wantErr: "external_services[1]: the same service (turn a.test 3478 udp) as external_services[0]"},
		{name: "port as string", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nport = \"3478\"\n", wantErr: "external_services.port: expected an integer, got string"},
		{name: "unknown key", body: "[[external_services]]\ntype = \"turn\"\nhost = \"a.test\"\nusername = \"u\"\n", wantErr: `unknown key "external_services.username"`},
		{name: "unknown key inline", root: true, body: "external_services = [{type = \"turn\", host = \"a.test\", password = \"p\"}]\n", wantErr: `unknown key "external_services.password"`},
		{name: "not tables", root: true, body: "external_services = [\"stun.a.test\"]\n", wantErr: "external_services: expected an array of tables"},
		{name: "table instead of array", body: "[external_services]\ntype = \"turn\"\n", wantErr: "external_services: expected an array of tables, got table"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg *Config
			if c.root {
				cfg = loadRoot(t, c.body, c.wantErr)
			} else {
				cfg = loadSection(t, c.body, c.wantErr)
			}
			if cfg != nil && c.check != nil {
				c.check(t, cfg)
			}
		})
	}
}

// loadRoot is loadSection with body at the top level of the file, before
// the [server] table.
func loadRoot(t *testing.T, body, wantErr string) *Config {
	t.Helper()
	path := writeConfig(t, body+"[server]\ndomains = [\"a.test\"]\n")
	cfg, err := Load(path)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got %v, want an error with %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
