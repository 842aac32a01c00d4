package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestContactSection(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		check               func(t *testing.T, c *Config)
	}{
		{name: "empty by default", body: "", check: func(t *testing.T, c *Config) {
			for _, l := range c.Contact.Lists() {
				if len(l.URIs) != 0 {
					t.Fatalf("contact.%s = %v by default", l.Key, l.URIs)
				}
			}
		}},
		{name: "addresses", body: "[contact]\nabuse = [\"mailto:abuse@a.test\", \"xmpp:abuse@a.test\"]\nadmin = [\"xmpp:admin@a.test?message\"]\nsupport = [\"https://a.test/support\"]\nsecurity = [\"mailto:security@a.test?subject=xmpp\"]\nfeedback = [\"http://a.test/feedback\"]\nsales = [\"tel:+15551234567\"]\nstatus = [\"https://status.a.test/\"]\n", check: func(t *testing.T, c *Config) {
			want := Contact{
				Abuse:    []string{"mailto:abuse@a.test", "xmpp:abuse@a.test"},
				Admin:    []string{"xmpp:admin@a.test?message"},
				Feedback: []string{"http://a.test/feedback"},
				Sales:    []string{"tel:+15551234567"},
				Security: []string{"mailto:security@a.test?subject=xmpp"},
				Status:   []string{"https://status.a.test/"},
				Support:  []string{"https://a.test/support"},
			}
			if !reflect.DeepEqual(c.Contact, want) {
				t.Fatalf("got %+v", c.Contact)
			}
			if l := c.Contact.Lists(); len(l) != 7 || l[0].Key != "abuse" || l[6].Key != "support" {
				t.Fatalf("lists %+v", l)
			}
		}},
		{name: "not a URI", body: "[contact]\nabuse = [\"abuse@a.test\"]\n", wantErr: `contact.abuse[0]: "abuse@a.test" is not a URI`},
		{name: "second entry", body: "[contact]\nadmin = [\"xmpp:admin@a.test\", \"admin\"]\n", wantErr: "contact.admin[1]"},
		{name: "mailto without address", body: "[contact]\nsupport = [\"mailto:support\"]\n", wantErr: "contact.support[0]: \"mailto:support\" is not a mailto URI"},
		{name: "xmpp without JID", body: "[contact]\nsecurity = [\"xmpp:\"]\n", wantErr: "contact.security[0]"},
		{name: "xmpp bad JID", body: "[contact]\nsecurity = [\"xmpp:a@b@c\"]\n", wantErr: "contact.security[0]"},
		{name: "web without host", body: "[contact]\nfeedback = [\"https:///x\"]\n", wantErr: "contact.feedback[0]"},
		{name: "white space", body: "[contact]\nsales = [\"mailto:a b@a.test\"]\n", wantErr: "contact.sales[0]"},
		{name: "twice", body: "[contact]\nsales = [\"mailto:s@a.test\", \"mailto:s@a.test\"]\n", wantErr: "contact.sales[1]: \"mailto:s@a.test\" is listed twice"},
		{name: "not a list", body: "[contact]\nabuse = \"mailto:abuse@a.test\"\n", wantErr: "contact.abuse: expected an array of strings"},
		{name: "unknown key", body: "[contact]\nbilling = [\"mailto:b@a.test\"]\n", wantErr: `unknown key "contact.billing"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg != nil && c.check != nil {
				c.check(t, cfg)
			}
		})
	}
}

func TestServerAdmins(t *testing.T) {
	cases := []struct {
		name, admins, wantErr string
		want                  []string
	}{
		{name: "none", admins: "", want: nil},
		{name: "local admins", admins: `admins = ["boss@a.test", "ops@b.test"]`, want: []string{"boss@a.test", "ops@b.test"}},
		{name: "remote admin", admins: `admins = ["boss@c.test"]`, wantErr: `server.admins: "boss@c.test" is not an account of server.domains`},
		{name: "domain only", admins: `admins = ["a.test"]`, wantErr: "server.admins: \"a.test\" is not a bare JID"},
		{name: "full JID", admins: `admins = ["boss@a.test/pc"]`, wantErr: "server.admins"},
		{name: "not normalized", admins: `admins = ["Boss@a.test"]`, wantErr: "server.admins: \"Boss@a.test\" is not in normalized form"},
		{name: "twice", admins: `admins = ["boss@a.test", "boss@a.test"]`, wantErr: "server.admins: \"boss@a.test\" is listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, "[server]\ndomains = [\"a.test\", \"b.test\"]\n"+c.admins+"\n")
			cfg, err := Load(path)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Server.Admins, c.want) {
				t.Fatalf("admins %v, want %v", cfg.Server.Admins, c.want)
			}
		})
	}
}
