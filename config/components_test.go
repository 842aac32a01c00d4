package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultComponents(t *testing.T) {
	want := Components{Listen: "127.0.0.1:5347"}
	if got := Default().Components; !reflect.DeepEqual(got, want) {
		t.Errorf("Default().Components = %+v, want %+v", got, want)
	}
}

func TestLoadComponents(t *testing.T) {
	path := writeConfig(t, `
[server]
domains = ["a.test"]
[muc]
domain = "conference.a.test"
[components]
listen = "127.0.0.1:15347"
[components.secrets]
"gateway.a.test" = "0123456789abcdef"
"bot.example" = "a long random secret"
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Components{
		Listen: "127.0.0.1:15347",
		Secrets: map[string]string{
			"gateway.a.test": "0123456789abcdef",
			"bot.example":    "a long random secret",
		},
	}
	if !reflect.DeepEqual(cfg.Components, want) {
		t.Errorf("Components = %+v, want %+v", cfg.Components, want)
	}
	if got, want := cfg.ComponentDomains(), []string{"bot.example", "gateway.a.test"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ComponentDomains() = %q, want %q", got, want)
	}
}

// TestComponentsListenUnusedWithoutSecrets: with no component configured
// the listener does not run, so its address may be any other listener's.
func TestComponentsListenUnusedWithoutSecrets(t *testing.T) {
	path := writeConfig(t, "[server]\ndomains = [\"a.test\"]\n[components]\nlisten = \"127.0.0.1:5222\"\n")
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

func TestLoadComponentsErrors(t *testing.T) {
	const base = "[server]\ndomains = [\"a.test\"]\n[muc]\ndomain = \"conference.a.test\"\n"
	const secret = "\"0123456789abcdef\""
	secrets := func(lines ...string) string {
		return "[components.secrets]\n" + strings.Join(lines, "\n") + "\n"
	}
	tests := []struct {
		name string
		body string
		want string // substring of the error, besides the file name
	}{
		{"listen type", "[components]\nlisten = 5347\n", "components.listen: expected a string, got integer"},
		{"listen without port", "[components]\nlisten = \"127.0.0.1\"\n", `components.listen: "127.0.0.1" is not a host:port address: missing port in address`},
		{"listen named port", "[components]\nlisten = \"127.0.0.1:xmpp-component\"\n", `components.listen: "127.0.0.1:xmpp-component": port "xmpp-component" is not a number`},
		{"listen is c2s", "[components]\nlisten = \"127.0.0.1:5222\"\n" + secrets(`"gw.a.test" = `+secret), `components.listen: "127.0.0.1:5222" is also c2s.listen`},
		{"listen is s2s", "[s2s]\nlisten = \"127.0.0.1:5269\"\n[components]\nlisten = \"127.0.0.1:5269\"\n" + secrets(`"gw.a.test" = `+secret), `components.listen: "127.0.0.1:5269" is also s2s.listen`},
		{"listen is pprof", "[debug]\npprof_listen = \"127.0.0.1:6060\"\n[components]\nlisten = \"127.0.0.1:6060\"\n" + secrets(`"gw.a.test" = `+secret), `components.listen: "127.0.0.1:6060" is also debug.pprof_listen`},
		{"secrets type", "[components]\nsecrets = \"gw.a.test=x\"\n", "components.secrets: expected a table, got string"},
		{"secret type", secrets(`"gw.a.test" = 1234567890123456`), `components.secrets."gw.a.test": expected a string, got integer`},
		{"secret table", "[components.secrets.\"gw.a.test\"]\nsecret = " + secret + "\n", `components.secrets."gw.a.test": expected a string, got table`},
		{"unknown key", "[components]\nport = 5347\n", `unknown key "components.port"`},
		{"bad domain", secrets(`"bad domain!" = ` + secret), `components.secrets."bad domain!": "bad domain!" is not a valid domain`},
		{"domain with localpart", secrets(`"bot@a.test" = ` + secret), `components.secrets."bot@a.test": "bot@a.test" is not a valid domain`},
		{"unnormalized domain", secrets(`"GW.a.test" = ` + secret), `components.secrets."GW.a.test": "GW.a.test" is not in normalized form; write "gw.a.test"`},
		{"served domain", secrets(`"a.test" = ` + secret), `components.secrets."a.test": "a.test" is also in server.domains`},
		{"muc domain", secrets(`"conference.a.test" = ` + secret), `components.secrets."conference.a.test": "conference.a.test" is also muc.domain`},
		{"empty secret", secrets(`"gw.a.test" = ""`), `components.secrets."gw.a.test": the secret must not be empty`},
		{"short secret", secrets(`"gw.a.test" = "hunter2"`), `components.secrets."gw.a.test": the secret is too short (7 bytes, at least 16 needed`},
		{"checked in sorted order", secrets(`"z.a.test" = "x"`, `"c.a.test" = "yy"`), `components.secrets."c.a.test": the secret is too short (2 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, base+tt.body)
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

// TestComponentSecretsNotInErrors: an error about a component's secret
// names its key but never repeats the secret.
func TestComponentSecretsNotInErrors(t *testing.T) {
	const secret = "short-s3cret"
	path := writeConfig(t, "[server]\ndomains = [\"a.test\"]\n[components.secrets]\n\"gw.a.test\" = \""+secret+"\"\n")
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded with a short secret")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q contains the secret", err)
	}
}

// TestRepositoryConfigComponentsExample: the commented [components]
// example in the repository's config.toml is valid once uncommented.
func TestRepositoryConfigComponentsExample(t *testing.T) {
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "# [components") {
			in = true
		} else if !strings.HasPrefix(line, "# ") {
			in = false
		}
		if in {
			line = strings.TrimPrefix(line, "# ")
		}
		out = append(out, line)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Components.Listen != DefaultComponentsListen || len(cfg.Components.Secrets) != 1 {
		t.Fatalf("the example configures %+v", cfg.Components)
	}
}
