package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/audit"
	"parley/compliance"
	"parley/stanza"
)

// archiveSetup writes a configuration with the archive on and archives
// n messages: alice and bob chatting, then room messages.
func archiveSetup(t *testing.T, n int) (cfg, archiveDir string) {
	t.Helper()
	cfg = setup(t)
	f, _ := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("[archive]\nenabled = true\n")
	f.Close()
	data := filepath.Join(filepath.Dir(cfg), "data")
	archiveDir = filepath.Join(data, "archive")
	al, err := audit.Open(audit.DefaultDir(data))
	if err != nil {
		t.Fatal(err)
	}
	a, err := compliance.Open(compliance.Options{Dir: archiveDir, Audit: al, Log: zerolog.Nop(),
		Now: func() time.Time { return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		from, to, dir, typ := "alice@a.test/phone", "bob@a.test", compliance.Local, "chat"
		sender := from
		switch {
		case i%3 == 0:
			from, to, dir, typ, sender = "lobby@conference.a.test/Bob", "lobby@conference.a.test", compliance.Room, "groupchat", "bob@a.test/desk"
		case i%5 == 0:
			from, to, dir = "carol@b.test/x", "bob@a.test", compliance.Local
		}
		el, err := stanza.Parse(fmt.Sprintf("<message from='%s' to='%s' type='%s' id='m%d'><body>message number %d</body></message>", from, to, typ, i, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Record(dir, from, to, sender, el); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	al.Close()
	return cfg, archiveDir
}

func TestArchiveVerifyAndExport(t *testing.T) {
	cfg, _ := archiveSetup(t, 20)
	out := parley(t, "", "archive", "verify", "-config", cfg).wantOK(t).stdout
	if !strings.HasPrefix(out, "archive intact: 20 records") || !strings.Contains(out, "1 checkpoints in the audit log matched") {
		t.Fatalf("verify: %q", out)
	}

	lines := strings.Split(strings.TrimSpace(parley(t, "", "archive", "export", "-config", cfg).wantOK(t).stdout), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d lines exported, want 20", len(lines))
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seq", "time", "from", "to", "type", "body", "stanza", "hash", "direction", "sender", "id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("an exported line lacks %q: %s", k, lines[0])
		}
	}
	if first["seq"] != 1.0 || first["time"] != "2026-12-05T10:00:00Z" || first["body"] != "message number 1" || first["direction"] != "local" {
		t.Errorf("first line: %s", lines[0])
	}

	count := func(args ...string) int {
		t.Helper()
		out := strings.TrimSpace(parley(t, "", append([]string{"archive", "export", "-config", cfg}, args...)...).wantOK(t).stdout)
		if out == "" {
			return 0
		}
		return len(strings.Split(out, "\n"))
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"-room", "lobby@conference.a.test"}, 6},
		{[]string{"-user", "carol@b.test"}, 3},
		{[]string{"-user", "bob@a.test"}, 20}, // to bob, or written by him in the room
		{[]string{"-domain", "b.test"}, 3},
		{[]string{"-text", "number 7"}, 1},
		{[]string{"-text", "nothing like it"}, 0},
		{[]string{"-since", "2026-12-05", "-until", "2026-12-05"}, 20},
		{[]string{"-since", "2026-12-06"}, 0},
		{[]string{"-until", "2026-12-05T09:59:59Z"}, 0},
	} {
		if got := count(c.args...); got != c.want {
			t.Errorf("export %v: %d messages, want %d", c.args, got, c.want)
		}
	}

	text := parley(t, "", "archive", "export", "-config", cfg, "-room", "lobby@conference.a.test", "-format", "text").wantOK(t).stdout
	tl := strings.Split(strings.TrimSpace(text), "\n")
	if len(tl) != 8 || tl[0] != "# Transcript of room lobby@conference.a.test" || tl[1] != "--- 2026-12-05 (Saturday) ---" || tl[2] != "[10:00:00] Bob: message number 3" {
		t.Errorf("transcript:\n%s", text)
	}

	// Every export is in the audit log, with who ran it and what it took.
	var exports []audit.Entry
	audit.Read(filepath.Join(filepath.Dir(cfg), "data", "audit"), time.Time{}, func(e audit.Entry) error {
		if e.Action == audit.ArchiveExported {
			exports = append(exports, e)
		}
		return nil
	})
	if len(exports) != 11 || !strings.HasPrefix(exports[0].Actor, "cli:") || exports[1].Target != "room=lobby@conference.a.test" || exports[1].Detail != "6 messages exported as json" {
		t.Errorf("audit of the exports: %+v", exports[:2])
	}
}

func TestArchiveExportBadInput(t *testing.T) {
	cfg, _ := archiveSetup(t, 3)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-since", "yesterday"}, `-since: "yesterday" is neither a date`},
		{[]string{"-until", "2026-02-30"}, "-until:"},
		{[]string{"-since", "2026-12-06", "-until", "2026-12-05"}, "-until: must be after -since"},
		{[]string{"-user", "alice@a.test/phone"}, "-user: \"alice@a.test/phone\" has a resource"},
		{[]string{"-user", "a@@b"}, "-user: \"a@@b\" is not a valid JID"},
		{[]string{"-room", "@conference.a.test"}, "-room:"},
		{[]string{"-domain", "bad domain"}, "-domain:"},
		{[]string{"-format", "xml"}, `-format: "xml" is not one of json, text`},
	} {
		r := parley(t, "", append([]string{"archive", "export", "-config", cfg}, c.args...)...)
		r.wantFail(t, 2, c.want)
	}
	parley(t, "", "archive").wantFail(t, 2, "expected a subcommand")
	parley(t, "", "archive", "shred").wantFail(t, 2, `unknown subcommand "shred"`)
	// No archive there at all.
	other := setup(t)
	parley(t, "", "archive", "verify", "-config", other).wantFail(t, 1, "no compliance archive at")
}

// frames returns the offsets of the frames of a segment file.
func frames(t *testing.T, b []byte) []int {
	t.Helper()
	var offs []int
	for o := 0; o+4 <= len(b); {
		n := 4 + int(binary.BigEndian.Uint32(b[o:])) + 32
		offs = append(offs, o)
		o += n + (8-n%8)%8
	}
	return offs
}

// TestArchiveVerifyFindsTampering: records altered, removed, swapped or
// cut off the end in the files are found, naming the first bad record;
// export reports a corrupted archive instead of skipping what it cannot
// read.
func TestArchiveVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(b []byte, offs []int) []byte
		want   string
	}{
		{"altered", func(b []byte, offs []int) []byte {
			i := strings.Index(string(b[offs[6]:]), "number 7")
			b[offs[6]+i+7] = '8' // "message number 8" in record 7
			return b
		}, "the archive is broken at record 7: altered"},
		{"removed", func(b []byte, offs []int) []byte {
			return append(append([]byte(nil), b[:offs[4]]...), b[offs[5]:]...)
		}, "the archive is broken at record 5: missing"},
		{"swapped", func(b []byte, offs []int) []byte {
			var out []byte
			out = append(out, b[:offs[2]]...)
			out = append(out, b[offs[3]:offs[4]]...)
			out = append(out, b[offs[2]:offs[3]]...)
			return append(out, b[offs[4]:]...)
		}, "the archive is broken at record 3"},
		{"cut off", func(b []byte, offs []int) []byte { return b[:offs[8]] }, "the archive is broken at record 9: missing: the journal ends at 8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, dir := archiveSetup(t, 10)
			seg := filepath.Join(dir, "seg-00000000000000000001.log")
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, c.tamper(b, frames(t, b)), 0o600); err != nil {
				t.Fatal(err)
			}
			parley(t, "", "archive", "verify", "-config", cfg).wantFail(t, 1, c.want)
		})
	}
	t.Run("corrupted", func(t *testing.T) {
		cfg, dir := archiveSetup(t, 10)
		seg := filepath.Join(dir, "seg-00000000000000000001.log")
		b, _ := os.ReadFile(seg)
		offs := frames(t, b)
		binary.BigEndian.PutUint32(b[offs[5]:], 0xfffffff0)
		os.WriteFile(seg, b, 0o600)
		parley(t, "", "archive", "verify", "-config", cfg).wantFail(t, 1, "record 6: unreadable")
		parley(t, "", "archive", "export", "-config", cfg).wantFail(t, 1, "claims")
	})
}

func TestArchiveHolds(t *testing.T) {
	cfg, _ := archiveSetup(t, 1)
	out := parley(t, "", "archive", "hold", "-config", cfg, "-reason", "case 42", "carol@b.test").wantOK(t).stdout
	if !strings.Contains(out, "carol@b.test is under a legal hold") {
		t.Fatalf("hold: %q", out)
	}
	if out := parley(t, "", "archive", "hold", "-config", cfg, "carol@b.test").wantOK(t).stdout; !strings.Contains(out, "already") {
		t.Errorf("second hold: %q", out)
	}
	if out := parley(t, "", "archive", "holds", "-config", cfg).wantOK(t).stdout; !strings.HasPrefix(out, "carol@b.test\tsince ") || !strings.Contains(out, "case 42") {
		t.Errorf("holds: %q", out)
	}
	parley(t, "", "archive", "release", "-config", cfg, "carol@b.test").wantOK(t)
	if out := parley(t, "", "archive", "holds", "-config", cfg).wantOK(t).stdout; out != "" {
		t.Errorf("holds after the release: %q", out)
	}
	parley(t, "", "archive", "hold", "-config", cfg, "carol@b.test/x").wantFail(t, 2, "has a resource")
	var actions []string
	audit.Read(filepath.Join(filepath.Dir(cfg), "data", "audit"), time.Time{}, func(e audit.Entry) error {
		if e.Action == audit.ArchiveHold || e.Action == audit.ArchiveRelease {
			actions = append(actions, e.Action+" "+e.Target+" "+e.Detail)
		}
		return nil
	})
	if strings.Join(actions, "|") != "archive.hold carol@b.test case 42|archive.release carol@b.test " {
		t.Errorf("audit: %q", actions)
	}
}
