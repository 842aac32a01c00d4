package interop_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley/internal/testutil"
)

// The compliance archive test's servers: parley and Prosody, each on a
// loopback address of its own with s2s on the standard port, found
// through /etc/hosts.
const (
	archiveParleyIP   = "127.0.0.41"
	archiveProsodyIP  = "127.0.0.42"
	archiveDomain     = "arc.test"
	archiveMUC        = "conference.arc.test"
	archivePeerDomain = "arcpeer.test"
)

// sentMessage is a "sent:" line of slixmpp/compliance.py.
type sentMessage struct {
	Label string `json:"label"`
	From  string `json:"from"`
	To    string `json:"to"`
	Type  string `json:"type"`
	ID    string `json:"id"`
	Body  string `json:"body"`
}

// exportedMessage is a line of `parley archive export`.
type exportedMessage struct {
	Seq       uint64 `json:"seq"`
	Time      string `json:"time"`
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	Sender    string `json:"sender"`
	Type      string `json:"type"`
	ID        string `json:"id"`
	Body      string `json:"body"`
	Stanza    string `json:"stanza"`
	Hash      string `json:"hash"`
}

// TestComplianceArchiveWithSlixmppAndProsody has slixmpp clients on the
// parley binary (alice, bob) and on Debian's Prosody (carol) chat one to
// one, across the federation both ways, and in a room of parley's group
// chat service that all three join, with a private message through the
// room. `parley archive export` then shows every message exactly once,
// with its direction (local, outbound, inbound, and room once per room
// message, not once per occupant), its addresses and id; `parley archive
// verify` passes, while the server runs and after it stopped; the room's
// transcript reads like the conversation; -user, -domain and -text select
// the right messages; and a malformed -since is refused naming the flag.
func TestComplianceArchiveWithSlixmppAndProsody(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody")
	}
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	testutil.RequireTool(t, "prosody", "prosody")
	trackInputs(t)
	testutil.MapHosts(t, map[string]string{
		archiveDomain:     archiveParleyIP,
		archiveMUC:        archiveParleyIP,
		archivePeerDomain: archiveProsodyIP,
	})

	cert, key := testutil.SelfSigned(t, archiveDomain, archiveMUC)
	in := &instance{t: t, dir: t.TempDir(), domain: archiveDomain, addr: testutil.FreeAddr(t)}
	in.config = filepath.Join(in.dir, "config.toml")
	s2sAddr := archiveParleyIP + ":5269"
	conf := fmt.Sprintf(`[server]
domains = [%q]

[storage]
sqlite = "data/parley.db"

[tls]
cert = %q
key = %q

[c2s]
listen = %q

[s2s]
listen = %q
connect_timeout = "10s"

[muc]
domain = %q
lock_new_rooms = false

[archive]
enabled = true

[log]
level = "info"
`, archiveDomain, cert, key, in.addr, s2sAddr, archiveMUC)
	if err := os.WriteFile(in.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	in.mustRun(in.jid("alice")+" alice-pw\n"+in.jid("bob")+" bob-pw\n", "adduser", "-batch")

	peerCert, peerKey := testutil.SelfSigned(t, archivePeerDomain)
	prosody := testutil.StartProsody(t, testutil.PeerOptions{Domain: archivePeerDomain, IP: archiveProsodyIP,
		CertFile: peerCert, KeyFile: peerKey, Users: map[string]string{"carol": "carol-pw"}})
	p := testutil.StartParley(t, parleyBin, in.config, in.addr, s2sAddr)

	token := strings.ToLower(rand.Text()[:8])
	host, port := splitAddr(t, in.addr)
	start := time.Now()
	out, err := runScript(t, 3*time.Minute, py, "slixmpp/compliance.py",
		"--a-host", host, "--a-port", port, "--a-domain", archiveDomain, "--muc", archiveMUC,
		"--b-host", archiveProsodyIP, "--b-port", fmt.Sprint(prosody.C2SPort), "--b-domain", archivePeerDomain,
		"--token", token, "conversation")
	if err != nil {
		t.Logf("prosody log (tail):\n%s", tailLines(prosody.Log(), 60))
		t.Fatalf("compliance.py: %v\n%s", err, failLines(out))
	}
	t.Logf("the conversation took %v", time.Since(start).Round(time.Millisecond))
	sent := sentLines(t, out)
	room := "standup-" + token + "@" + archiveMUC
	alice, bob, carol := in.jid("alice"), in.jid("bob"), "carol@"+archivePeerDomain
	want := map[string]archivedAs{
		"alice-bob":           {"local", alice, bob, alice, ""},
		"bob-alice":           {"local", bob, alice, bob, ""},
		"alice-carol":         {"outbound", alice, carol, alice, ""},
		"carol-alice":         {"inbound", carol, alice, carol, ""},
		"room-alice":          {"room", room, room, alice, "Alice"},
		"room-bob":            {"room", room, room, bob, "Bob"},
		"room-carol":          {"room", room, room, carol, "Carol"},
		"room-pm-carol-alice": {"room", room, room, carol, "Carol"},
	}
	if len(sent) != len(want) {
		t.Fatalf("the script sent %d messages, want %d", len(sent), len(want))
	}

	// While the server runs.
	checkArchive(t, in, sent, want, room)
	if r := archiveCmd(in, "verify"); r.Code != 0 || !strings.HasPrefix(r.Stdout, fmt.Sprintf("archive intact: %d records", len(want))) {
		t.Errorf("archive verify while the server runs: exit %d, %q", r.Code, r.Stdout+r.Stderr)
	}

	// After a clean stop, which notes the archive's head in the audit log.
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(20 * time.Second); code != 0 {
		t.Errorf("parley serve exited with %d after SIGTERM", code)
	}
	r := archiveCmd(in, "verify")
	if r.Code != 0 || strings.Count(r.Stdout, "\n") != 1 ||
		!strings.HasPrefix(r.Stdout, fmt.Sprintf("archive intact: %d records", len(want))) ||
		strings.Contains(r.Stdout, " 0 checkpoints in the audit log matched") {
		t.Errorf("archive verify after the stop: exit %d, %q; want one line, %d records and the shutdown checkpoint matched", r.Code, r.Stdout+r.Stderr, len(want))
	}
	checkArchive(t, in, sent, want, room)

	// Filters.
	labels := func(args ...string) []string {
		t.Helper()
		var out []string
		for _, e := range exportLines(t, in, args...) {
			for _, s := range sent {
				if s.Body == e.Body {
					out = append(out, s.Label)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"-user", carol}, []string{"alice-carol", "carol-alice", "room-carol", "room-pm-carol-alice"}},
		{[]string{"-user", bob}, []string{"alice-bob", "bob-alice", "room-bob"}},
		// The private message alice received in the room is hers too.
		{[]string{"-user", alice}, []string{"alice-bob", "alice-carol", "bob-alice", "carol-alice", "room-alice", "room-pm-carol-alice"}},
		{[]string{"-domain", archivePeerDomain}, []string{"alice-carol", "carol-alice", "room-carol", "room-pm-carol-alice"}},
		{[]string{"-room", room}, []string{"room-alice", "room-bob", "room-carol", "room-pm-carol-alice"}},
		{[]string{"-text", "contract SIGNED"}, []string{"alice-carol"}},
		{[]string{"-text", "morning"}, []string{"room-alice", "room-bob"}},
		{[]string{"-text", "morning", "-user", bob}, []string{"room-bob"}},
		{[]string{"-text", token}, []string{"alice-bob", "alice-carol", "bob-alice", "carol-alice", "room-alice", "room-bob", "room-carol", "room-pm-carol-alice"}},
		{[]string{"-text", "nobody said this"}, nil},
		{[]string{"-since", time.Now().UTC().Format("2006-01-02")}, []string{"alice-bob", "alice-carol", "bob-alice", "carol-alice", "room-alice", "room-bob", "room-carol", "room-pm-carol-alice"}},
		{[]string{"-until", time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")}, nil},
	} {
		if got := labels(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("archive export %s: %v, want %v", strings.Join(c.args, " "), got, c.want)
		}
	}

	// The room's transcript: a title, the day, then a line per message.
	r = archiveCmd(in, "export", "-room", room, "-format", "text")
	if r.Code != 0 {
		t.Fatalf("archive export -room %s -format text: exit %d: %s", room, r.Code, r.Stderr)
	}
	text := r.Stdout
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	wantLines := []string{
		"Alice: good morning team " + token,
		"Bob: morning! the build is green " + token,
		"Carol: hello from the partner side " + token,
		"psst alice, a word in private " + token,
	}
	if len(lines) != 2+len(wantLines) || lines[0] != "# Transcript of room "+room || !strings.HasPrefix(lines[1], "--- ") {
		t.Fatalf("transcript of %s:\n%s", room, text)
	}
	for i, w := range wantLines {
		l := lines[2+i]
		if !strings.HasPrefix(l, "[") || !strings.HasSuffix(l, w) {
			t.Errorf("transcript line %d: %q, want it to end with %q", i+3, l, w)
		}
	}
	// The private message names its author and whom it was for.
	if pm := lines[len(lines)-1]; !strings.Contains(pm, "] Carol → Alice (private): ") {
		t.Errorf("transcript line of the private message does not name its author and recipient: %q", pm)
	}

	// A time that is not a date is refused, naming the flag.
	r = archiveCmd(in, "export", "-since", "yesterday")
	if r.Code == 0 || !strings.Contains(r.Stderr, "-since") || r.Stdout != "" {
		t.Errorf("archive export -since yesterday: exit %d, stderr %q, stdout %q; want a failure naming -since", r.Code, r.Stderr, r.Stdout)
	}
}

// archivedAs is how a message must be archived: its direction, the bare
// addresses of from, to and the real sender, and for a room message the
// nickname it is from.
type archivedAs struct{ dir, from, to, sender, nick string }

// checkArchive exports the whole archive and checks that it holds each
// message sent exactly once, as want says, and nothing else, in order.
func checkArchive(t *testing.T, in *instance, sent []sentMessage, want map[string]archivedAs, room string) {
	t.Helper()
	all := exportLines(t, in)
	if len(all) != len(sent) {
		t.Errorf("the archive holds %d messages, want %d", len(all), len(sent))
	}
	for i, e := range all {
		if e.Seq != uint64(i+1) || len(e.Hash) != 64 || e.Time == "" || !strings.Contains(e.Stanza, e.Body) {
			t.Errorf("record %d: seq %d, hash %q, time %q, stanza %s", i, e.Seq, e.Hash, e.Time, e.Stanza)
		}
	}
	for _, s := range sent {
		w := want[s.Label]
		var found []exportedMessage
		for _, e := range all {
			if e.Body == s.Body {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s (%q): archived %d times, want once", s.Label, s.Body, len(found))
			continue
		}
		e := found[0]
		if e.Direction != w.dir || bare(e.From) != w.from || bare(e.To) != w.to || bare(e.Sender) != w.sender ||
			e.Type != s.Type || e.ID != s.ID {
			t.Errorf("%s: archived as %s %s -> %s (by %s), type %s, id %q; want %s %s -> %s (by %s), type %s, id %q",
				s.Label, e.Direction, e.From, e.To, e.Sender, e.Type, e.ID, w.dir, w.from, w.to, w.sender, s.Type, s.ID)
		}
		// Addresses as routed: the sender's full JID, a room message
		// from the occupant's nickname.
		wantFrom := s.From
		if w.nick != "" {
			wantFrom = room + "/" + w.nick
		}
		if e.From != wantFrom || e.Sender != s.From {
			t.Errorf("%s: archived from %s by %s, want from %s by %s", s.Label, e.From, e.Sender, wantFrom, s.From)
		}
	}
}

// archiveCmd runs `parley archive sub -config FILE args...` on the
// instance's configuration.
func archiveCmd(in *instance, sub string, args ...string) testutil.Result {
	in.t.Helper()
	r := testutil.RunParley(in.t, parleyBin, "", append([]string{"archive", sub, "-config", in.config}, args...)...)
	in.t.Logf("parley archive %s %s: exit %d\nstdout: %s\nstderr: %s", sub, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	return r
}

// exportLines runs `parley archive export` with args and parses its JSON
// Lines.
func exportLines(t *testing.T, in *instance, args ...string) []exportedMessage {
	t.Helper()
	r := archiveCmd(in, "export", args...)
	if r.Code != 0 {
		t.Fatalf("archive export %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	out := r.Stdout
	var es []exportedMessage
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var e exportedMessage
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("archive export line %q: %v", l, err)
		}
		es = append(es, e)
	}
	return es
}

// sentLines reads the "sent:" lines of compliance.py's output.
func sentLines(t *testing.T, out string) []sentMessage {
	t.Helper()
	var sent []sentMessage
	for _, l := range strings.Split(out, "\n") {
		if j, ok := strings.CutPrefix(l, "sent: "); ok {
			var s sentMessage
			if err := json.Unmarshal([]byte(j), &s); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			sent = append(sent, s)
		}
	}
	return sent
}

func bare(j string) string {
	b, _, _ := strings.Cut(j, "/")
	return b
}
