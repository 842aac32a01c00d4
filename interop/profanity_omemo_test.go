package interop_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/pubsub"
	"parley/stanza"
	"parley/storage"
)

// omemoWait bounds each wait of the OMEMO test: key generation, bundle
// publication and the first session setup take a while on a busy machine.
const omemoWait = 90 * time.Second

// OMEMO's PEP nodes (XEP-0384 v0.3, the version Profanity speaks).
const (
	omemoNS         = "eu.siacs.conversations.axolotl"
	omemoDeviceList = omemoNS + ".devicelist"
	omemoBundles    = omemoNS + ".bundles:"
)

// profanityOMEMO returns the Profanity to run. A missing Profanity skips
// the test (fails it in CI, see testutil.RequireTool); one built without
// OMEMO skips it.
func profanityOMEMO(t *testing.T) string {
	t.Helper()
	profanity := testutil.RequireTool(t, "profanity", "profanity")
	out, err := exec.Command(profanity, "--version").Output()
	if err != nil {
		t.Fatalf("profanity --version: %v", err)
	}
	if !strings.Contains(string(out), "OMEMO support: Enabled") {
		t.Skip("this Profanity is built without OMEMO support (Debian's profanity package has it)")
	}
	return profanity
}

// profanityUser is a Profanity logged in as user, in a terminal.
type profanityUser struct {
	*terminal
	user string
}

// startProfanity runs Profanity with a home of its own (configuration,
// OMEMO keys and trust in temporary directories) and logs it in to srv
// as user.
func startProfanity(t *testing.T, profanity string, srv *testutil.Server, user, password string) *profanityUser {
	t.Helper()
	home := t.TempDir()
	for _, d := range []string{".config", ".local/share"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	host, port := splitAddr(t, srv.Addr)
	tm := startTerminal(t, []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
	}, profanity+" -l DEBUG")
	// Runs before the terminal's own cleanup, while it still shows.
	t.Cleanup(func() {
		if t.Failed() {
			saveProfanityArtifacts(t, tm, user, filepath.Join(home, ".local/share/profanity/logs/profanity.log"))
		}
	})
	p := &profanityUser{terminal: tm, user: user}
	p.waitWithin("Type '/help'", omemoWait)
	p.keys("/connect " + user + " server " + host + " port " + port)
	p.waitWithin("password", omemoWait)
	p.keys(password)
	// The generated certificate is self-signed.
	p.waitWithin("/tls allow", omemoWait)
	p.keys("/tls allow")
	p.waitWithin("logged in successfully", omemoWait)
	return p
}

// saveProfanityArtifacts keeps the screen and the debug log (with every
// stanza) of a failed test's Profanity in a directory that outlives it.
func saveProfanityArtifacts(t *testing.T, tm *terminal, user, logFile string) {
	dir, err := os.MkdirTemp("", "parley-profanity-*")
	if err != nil {
		t.Logf("save Profanity's screen and log: %v", err)
		return
	}
	os.WriteFile(filepath.Join(dir, user+".screen.txt"), []byte(tm.screen()), 0o644)
	if b, err := os.ReadFile(logFile); err == nil {
		os.WriteFile(filepath.Join(dir, user+".log"), b, 0o644)
	}
	t.Logf("%s's Profanity screen and debug log saved in %s", user, dir)
}

// waitWithin waits up to d until the screen shows text.
func (p *profanityUser) waitWithin(text string, d time.Duration) {
	p.t.Helper()
	p.waitMatch(regexp.MustCompile(regexp.QuoteMeta(text)), d)
}

// waitMatch waits up to d until the screen matches re and returns the
// first match's submatches.
func (p *profanityUser) waitMatch(re *regexp.Regexp, d time.Duration) []string {
	p.t.Helper()
	m := p.waitMatchOrTimeout(re, d)
	if m == nil {
		p.t.Fatalf("%s's screen never matched %q", p.user, re)
	}
	return m
}

// waitMatchOrTimeout is waitMatch returning nil when d passes.
func (p *profanityUser) waitMatchOrTimeout(re *regexp.Regexp, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(p.screen()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProfanityOMEMO has two Profanity users add each other as
// contacts, generate OMEMO keys, trust each other's device and chat
// encrypted both ways: each client publishes its device list and bundle
// through PEP, finds the other's through PEP, and shows the other's
// message decrypted, while parley only ever routes the ciphertext.
func TestProfanityOMEMO(t *testing.T) {
	profanity := profanityOMEMO(t)
	// The archive is where the test sees the stanzas parley routed.
	srv := testutil.Start(t, testutil.Options{Extra: "[mam]\nenabled = true\n"})
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	pa := startProfanity(t, profanity, srv, alice, "alice-pw")
	pb := startProfanity(t, profanity, srv, bob, "bob-pw")

	// Mutual presence subscriptions, which PEP's default access model
	// (presence) requires for reading each other's nodes.
	subscribe(t, srv, pa, pb)
	subscribe(t, srv, pb, pa)

	for _, p := range []*profanityUser{pa, pb} {
		p.keys("/omemo gen")
		// Profanity 0.13 spells it "crytographic".
		p.waitWithin("materials generated. Your Device ID is", omemoWait)
	}
	aliceDevice := waitOMEMOPublished(t, srv, alice)
	bobDevice := waitOMEMOPublished(t, srv, bob)

	// Alice starts an OMEMO chat: her client fetches bob's device list
	// and bundle, shows the fingerprint of the identity key bob
	// published, which she trusts, and encrypts to his device.
	pa.keys("/msg " + bob)
	pa.keys("/omemo start")
	trust(t, pa, bob, bobDevice)
	sendEncrypted(t, pa, "hello bob, in secret")
	pb.keys("/msg " + alice)
	receivedEncrypted(t, pb, alice, "hello bob, in secret")
	// Bob answers the same way.
	pb.keys("/omemo start")
	trust(t, pb, alice, aliceDevice)
	sendEncrypted(t, pb, "hello alice, in secret too")
	receivedEncrypted(t, pa, bob, "hello alice, in secret too")

	expectEncrypted(t, srv, bob, alice, aliceDevice, bobDevice, "hello bob, in secret")
	expectEncrypted(t, srv, alice, bob, bobDevice, aliceDevice, "hello alice, in secret too")
}

// subscribe has p ask for a presence subscription to contact, which
// contact approves, and checks that the server recorded it.
func subscribe(t *testing.T, srv *testutil.Server, p, contact *profanityUser) {
	t.Helper()
	p.keys("/sub request " + contact.user)
	contact.waitWithin("Received authorization request from "+p.user, omemoWait)
	contact.keys("/sub allow " + p.user)
	p.waitWithin("Subscription received from "+contact.user, omemoWait)
	deadline := time.Now().Add(omemoWait)
	for {
		item, err := srv.Store().RosterItem(context.Background(), p.user, contact.user)
		if err == nil && (item.Subscription == "to" || item.Subscription == "both") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's roster never had a subscription to %s: %+v, %v", p.user, contact.user, item, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// omemoDevice is an OMEMO device as published in PEP.
type omemoDevice struct {
	ID string
	// Fingerprint is the identity key as Profanity shows it: the key's
	// 32 bytes in hex, in groups of eight digits joined by dashes.
	Fingerprint string
}

// trust has p's user trust contact's device, once the client shows its
// fingerprint.
func trust(t *testing.T, p *profanityUser, contact string, d omemoDevice) {
	t.Helper()
	// The fingerprint is known once the client has fetched the
	// contact's bundle; until then Profanity says it knows none.
	shown := regexp.MustCompile(regexp.QuoteMeta(contact + "'s OMEMO fingerprint: " + d.Fingerprint))
	deadline := time.Now().Add(omemoWait)
	for {
		p.keys("/omemo fingerprint " + contact)
		if p.waitMatchOrTimeout(shown, 3*time.Second) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's client never showed %s's fingerprint %s", p.user, contact, d.Fingerprint)
		}
	}
	p.keys("/omemo trust " + contact + " " + d.Fingerprint)
	p.waitWithin(d.Fingerprint+" (trusted)", omemoWait)
}

// omemoUndecryptable is what Profanity 0.13 says instead of sending when
// it has no session with any trusted device of the recipient yet.
const omemoUndecryptable = "This message cannot be decrypted for any recipient"

// sendEncrypted has p send text in the open OMEMO chat, and waits until
// the client shows it sent encrypted ("~", Profanity's OMEMO mark).
// Trusting a device makes Profanity fetch its bundle again and build the
// session only when that arrives; a message typed before is refused, not
// sent, and is typed again, as a user would.
func sendEncrypted(t *testing.T, p *profanityUser, text string) {
	t.Helper()
	sent := regexp.MustCompile(`~ me: ` + regexp.QuoteMeta(text))
	deadline := time.Now().Add(omemoWait)
	for {
		refused := strings.Count(p.screen(), omemoUndecryptable)
		p.keys(text)
		for p.waitMatchOrTimeout(sent, 500*time.Millisecond) == nil {
			if strings.Count(p.screen(), omemoUndecryptable) > refused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's client never sent %q encrypted", p.user, text)
			}
		}
		if p.waitMatchOrTimeout(sent, 0) != nil {
			return
		}
		t.Logf("%s's client had no session yet and did not send %q; typing it again", p.user, text)
		if time.Now().After(deadline) {
			t.Fatalf("%s's client never had a session to send %q encrypted", p.user, text)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// receivedEncrypted waits until p's client shows text from sender,
// decrypted ("~", Profanity's OMEMO mark).
func receivedEncrypted(t *testing.T, p *profanityUser, sender, text string) {
	t.Helper()
	p.waitMatch(regexp.MustCompile(`~ `+regexp.QuoteMeta(sender)+`/\S+: `+regexp.QuoteMeta(text)), omemoWait)
}

// waitOMEMOPublished waits until owner's OMEMO device list names a device
// whose bundle is published, and returns it.
func waitOMEMOPublished(t *testing.T, srv *testutil.Server, owner string) omemoDevice {
	t.Helper()
	svc := srv.Module("pep").(*pubsub.Service)
	o := jid.MustParse(owner)
	ctx := context.Background()
	deadline := time.Now().Add(omemoWait)
	for {
		if items, err := svc.Items(ctx, o, omemoDeviceList, nil, 1); err == nil && len(items) == 1 && items[0].Payload != nil {
			for _, d := range items[0].Payload.ChildrenNamed(omemoNS, "device") {
				id := d.Attr("id")
				b, err := svc.Items(ctx, o, omemoBundles+id, nil, 1)
				if err != nil || len(b) != 1 || b[0].Payload == nil {
					continue
				}
				key, err := base64.StdEncoding.DecodeString(b[0].Payload.ChildText(omemoNS, "identityKey"))
				if err != nil || len(key) != 33 {
					t.Fatalf("%s's bundle %s has no valid identity key: %v", owner, id, b[0].Payload)
				}
				digits := hex.EncodeToString(key[1:])
				var groups []string
				for i := 0; i < len(digits); i += 8 {
					groups = append(groups, digits[i:i+8])
				}
				return omemoDevice{ID: id, Fingerprint: strings.Join(groups, "-")}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never published an OMEMO device list naming a device with a bundle", owner)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expectEncrypted checks, in the recipient's archive, that parley routed
// the message from sender as an OMEMO message from the sender's device
// with a key for the recipient's device, and never the plaintext.
func expectEncrypted(t *testing.T, srv *testutil.Server, recipient, sender string, from, to omemoDevice, plaintext string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(omemoWait)
	for {
		page, _, err := srv.Store().QueryArchive(ctx, recipient, storage.ArchiveQuery{With: sender, Max: 100})
		if err != nil {
			t.Fatalf("archive of %s: %v", recipient, err)
		}
		found := false
		for _, m := range page {
			if strings.Contains(string(m.Stanza), plaintext) {
				t.Fatalf("parley routed the plaintext %q: %s", plaintext, m.Stanza)
			}
			el, err := stanza.ParseBytes(m.Stanza)
			if err != nil {
				t.Fatalf("archived stanza: %v", err)
			}
			enc := el.Child(omemoNS, "encrypted")
			if enc == nil {
				continue
			}
			header := enc.Child(omemoNS, "header")
			if header == nil || header.Attr("sid") != from.ID || enc.ChildText(omemoNS, "payload") == "" {
				continue
			}
			for _, k := range header.ChildrenNamed(omemoNS, "key") {
				if k.Attr("rid") == to.ID {
					found = true
				}
			}
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's archive holds no OMEMO message from %s's device %s for device %s", recipient, sender, from.ID, to.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
