package muc

import (
	"encoding/json"
	"fmt"
	"parley/dataform"
	"strings"
	"testing"

	"parley/stanza"
)

// submitted parses a submitted form with the given fields (var, value
// pairs).
func submitted(t *testing.T, fields ...string) dataform.Form {
	t.Helper()
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'>")
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", fields[i], fields[i+1])
	}
	b.WriteString("</x>")
	x, err := stanza.Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	return dataform.Parse(x)
}

func TestApplyConfigForm(t *testing.T) {
	p := Policy{MaxOccupants: 100, HistoryLength: 30}
	base := newRoomConfig(Policy{MaxOccupants: 100, HistoryLength: 30, Defaults: RoomDefaults{Public: true, History: true}})
	cases := []struct {
		name   string
		fields []string
		want   func(c *RoomConfig)
		err    string // condition; "" for success
	}{
		{"empty form keeps everything", nil, func(*RoomConfig) {}, ""},
		{"texts", []string{"FORM_TYPE", NSRoomConfig, fieldName, " Team ", fieldDescription, "Our room"}, func(c *RoomConfig) {
			c.Name, c.Description = "Team", "Our room"
		}, ""},
		{"booleans", []string{fieldPersistent, "1", fieldPublic, "false", fieldMembersOnly, "true", fieldModerated, "1",
			fieldChangeSubject, "0", fieldAllowInvites, "1", fieldLogging, "0"}, func(c *RoomConfig) {
			c.Persistent, c.Public, c.MembersOnly, c.Moderated = true, false, true, true
			c.ChangeSubject, c.AllowInvites, c.Logging = false, true, false
		}, ""},
		{"password", []string{fieldPasswordOn, "1", fieldPassword, "pw"}, func(c *RoomConfig) { c.Password = "pw" }, ""},
		{"password without protection flag", []string{fieldPassword, "pw"}, func(c *RoomConfig) { c.Password = "pw" }, ""},
		{"protection without password", []string{fieldPasswordOn, "1"}, nil, "not-acceptable"},
		{"whois anyone", []string{fieldWhois, "anyone"}, func(c *RoomConfig) { c.NonAnonymous = true }, ""},
		{"whois unknown", []string{fieldWhois, "everybody"}, nil, "not-acceptable"},
		{"maxusers", []string{fieldMaxUsers, "10"}, func(c *RoomConfig) { c.MaxUsers = 10 }, ""},
		{"maxusers none", []string{fieldMaxUsers, "none"}, func(c *RoomConfig) { c.MaxUsers = 100 }, ""},
		{"maxusers above the service's", []string{fieldMaxUsers, "101"}, nil, "not-acceptable"},
		{"maxusers not a number", []string{fieldMaxUsers, "ten"}, nil, "not-acceptable"},
		{"allowpm", []string{fieldAllowPM, "participants"}, func(c *RoomConfig) { c.AllowPM = PMParticipants }, ""},
		{"allowpm unknown", []string{fieldAllowPM, "friends"}, nil, "not-acceptable"},
		{"history", []string{fieldHistory, "5"}, func(c *RoomConfig) { c.HistoryLength = 5 }, ""},
		{"history by Prosody's name", []string{fieldHistoryAlias, "0"}, func(c *RoomConfig) { c.HistoryLength = 0 }, ""},
		{"history above the service's", []string{fieldHistory, "31"}, nil, "not-acceptable"},
		{"history negative", []string{fieldHistory, "-1"}, nil, "not-acceptable"},
		{"bad boolean", []string{fieldPublic, "yes"}, nil, "bad-request"},
		{"wrong FORM_TYPE", []string{"FORM_TYPE", "urn:example"}, nil, "bad-request"},
		{"unknown fields are ignored", []string{"x-custom", "1"}, func(*RoomConfig) {}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := applyConfigForm(submitted(t, c.fields...), base, p)
			if c.err != "" {
				if condition(err) != c.err {
					t.Fatalf("error %v, want %s", err, c.err)
				}
				if got != base {
					t.Fatalf("a refused form changed the configuration: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			c.want(&want)
			if got != want {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("protection off clears the password", func(t *testing.T) {
		cur := base
		cur.Password = "pw"
		got, err := applyConfigForm(submitted(t, fieldPasswordOn, "0"), cur, p)
		if err != nil || got.Password != "" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

// TestConfigFormRoundTrip checks that submitting the rendered form back
// unchanged keeps the configuration.
func TestConfigFormRoundTrip(t *testing.T) {
	p := Policy{MaxOccupants: 150, HistoryLength: 40}
	cfg := RoomConfig{Name: "N", Description: "D", Persistent: true, MembersOnly: true, Password: "pw", NonAnonymous: true,
		MaxUsers: 30, AllowInvites: true, AllowPM: PMModerators, HistoryLength: 7, Logging: true}
	x := configForm("r@s", cfg, p)
	x.SetAttr("type", "submit")
	got, err := applyConfigForm(dataform.Parse(x), RoomConfig{AllowPM: PMAnyone}, p)
	if err != nil {
		t.Fatal(err)
	}
	if got != cfg {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, cfg)
	}
}

func TestRoomConfigClamp(t *testing.T) {
	p := Policy{MaxOccupants: 50, HistoryLength: 10}
	var stored RoomConfig
	if err := json.Unmarshal([]byte(`{"max_users": 500, "history_length": 99, "allow_pm": "bogus"}`), &stored); err != nil {
		t.Fatal(err)
	}
	got := stored.clamp(p)
	if got.MaxUsers != 50 || got.HistoryLength != 10 || got.AllowPM != PMAnyone {
		t.Fatalf("clamped: %+v", got)
	}
}
