package muc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/archive"
	"parley/internal/testutil"
	"parley/muc"
	"parley/stanza"
)

// forgedID is an occupant ID a client puts into its own stanzas.
const forgedID = "<occupant-id xmlns='" + muc.NSOccupantID + "' id='forged'/>"

// occupantID returns the one occupant ID (XEP-0421) of a stanza, failing
// the test if it has none or several.
func occupantID(t testing.TB, el *stanza.Element) string {
	t.Helper()
	ids := el.ChildrenNamed(muc.NSOccupantID, "occupant-id")
	if len(ids) != 1 || ids[0].Attr("id") == "" {
		t.Fatalf("want one occupant ID in %s", el)
	}
	return ids[0].Attr("id")
}

// TestOccupantID checks occupant IDs (XEP-0421): every presence about an
// occupant and every message from one carries an ID that is the same for
// a user in a room across sessions, rejoins and nick changes, differs
// between users and between rooms, reveals nothing of the JID, and
// replaces one the client forged.
func TestOccupantID(t *testing.T) {
	srv := mucServer(t, "", "")
	alice := user(t, srv, "alice")
	bob := user(t, srv, "bob")
	bobPhone := login(t, srv, "bob", "phone")
	carol := user(t, srv, "carol")
	create(t, alice, "oid", "Alice")
	alice.Sendf("<message to='%s' type='groupchat'><subject>Ids</subject>%s</message>", roomJID("oid"), forgedID)
	aliceID := occupantID(t, alice.Expect(isSubject("oid")))

	// A forged ID in the join presence is replaced, for the joiner and
	// for the others.
	bob.Sendf("<presence to='%s'><x xmlns='%s'/>%s</presence>", occ("oid", "Bob"), muc.NS, forgedID)
	bobID := occupantID(t, bob.Expect(isPresence(occ("oid", "Bob"))))
	if got := occupantID(t, alice.Expect(isPresence(occ("oid", "Bob")))); got != bobID {
		t.Fatalf("bob's ID: %q to himself, %q to alice", bobID, got)
	}
	if got := occupantID(t, bob.Expect(isPresence(occ("oid", "Alice")))); got != aliceID {
		t.Fatalf("alice's ID in her presence %q, in her subject %q", got, aliceID)
	}
	if s := bob.Expect(isSubject("oid")); occupantID(t, s) != aliceID {
		t.Fatalf("subject replayed to a joiner: %s", s)
	}
	if bobID == "forged" || bobID == aliceID || strings.Contains(strings.ToLower(bobID), "bob") {
		t.Fatalf("bob's ID %q (alice's %q)", bobID, aliceID)
	}

	// Messages, group chat and private, carry the sender's ID, once.
	bob.Sendf("<message to='%s' type='groupchat'><body>first</body>%s</message>", roomJID("oid"), forgedID)
	if m := alice.Expect(isGroupchat(occ("oid", "Bob"), "first")); occupantID(t, m) != bobID {
		t.Fatalf("group chat message: %s", m)
	}
	if m := bob.Expect(isGroupchat(occ("oid", "Bob"), "first")); occupantID(t, m) != bobID {
		t.Fatalf("group chat message reflected to its sender: %s", m)
	}
	bob.Sendf("<message to='%s' type='chat'><body>psst</body>%s</message>", occ("oid", "Alice"), forgedID)
	if m := alice.Expect(func(el *stanza.Element) bool { return el.Local == "message" && el.ChildText("", "body") == "psst" }); occupantID(t, m) != bobID {
		t.Fatalf("private message: %s", m)
	}

	// A nickname change keeps the ID, in both presences.
	bob.Sendf("<presence to='%s'/>", occ("oid", "Robert"))
	if p := alice.Expect(isUnavailable(occ("oid", "Bob"))); occupantID(t, p) != bobID {
		t.Fatalf("unavailable presence of a nickname change: %s", p)
	}
	if p := alice.Expect(isPresence(occ("oid", "Robert"))); occupantID(t, p) != bobID {
		t.Fatalf("presence after a nickname change: %s", p)
	}

	// Another session of the same account has the same ID; leaving and
	// entering again under another nick keeps it too.
	join(t, bobPhone, "oid", "BobPhone", "")
	if p := alice.Expect(isPresence(occ("oid", "BobPhone"))); occupantID(t, p) != bobID {
		t.Fatalf("bob's second session: %s", p)
	}
	bob.Sendf("<presence type='unavailable' to='%s'/>", occ("oid", "Robert"))
	if p := alice.Expect(isUnavailable(occ("oid", "Robert"))); occupantID(t, p) != bobID {
		t.Fatalf("presence of leaving: %s", p)
	}
	bob.Drain()
	bob.Sendf("<presence to='%s'><x xmlns='%s'/></presence>", occ("oid", "Bobby"), muc.NS)
	if p := bob.Expect(isPresence(occ("oid", "Bobby"))); occupantID(t, p) != bobID {
		t.Fatalf("after rejoining: %s", p)
	}
	// The history replayed on joining carries the IDs too.
	if m := bob.Expect(isGroupchat(occ("oid", "Bob"), "first")); m.Child(stanza.NSDelay, "delay") == nil || occupantID(t, m) != bobID {
		t.Fatalf("history message: %s", m)
	}

	// Another user has another ID; the same user has another in another
	// room.
	join(t, carol, "oid", "Carol", "")
	carolID := occupantID(t, alice.Expect(isPresence(occ("oid", "Carol"))))
	create(t, bob, "other", "Bob")
	join(t, alice, "other", "Alice", "")
	otherID := occupantID(t, alice.Expect(isPresence(occ("other", "Bob"))))
	ids := map[string]string{"alice": aliceID, "bob": bobID, "carol": carolID, "bob elsewhere": otherID}
	seen := map[string]string{}
	for who, id := range ids {
		if prev, dup := seen[id]; dup {
			t.Errorf("%s and %s share the ID %q", who, prev, id)
		}
		seen[id] = who
	}
}

// TestOccupantIDArchivedAndStable checks that room archives (XEP-0313)
// return messages with their occupant IDs, and that the IDs survive a
// restart, the key that derives them being kept in the data directory.
func TestOccupantIDArchivedAndStable(t *testing.T) {
	dir := t.TempDir()
	extra := mucConfig("", "")
	srv := testutil.StartServerIn(t, dir, extra)
	alice := user(t, srv, "alice")
	create(t, alice, "kept", "Alice")
	configure(t, alice, "kept", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablelogging", "1")
	sendGroupchat(alice, "kept", "archived")
	aliceID := occupantID(t, alice.Expect(isGroupchat(occ("kept", "Alice"), "archived")))

	qid := alice.NewID()
	r := alice.IQ(fmt.Sprintf("<iq type='set' to='%s'><query xmlns='%s' queryid='%s'/></iq>", roomJID("kept"), archive.NS, qid))
	if r.Type() != "result" {
		t.Fatalf("archive query: %s", r)
	}
	results := alice.Take(func(el *stanza.Element) bool { return el.Child(archive.NS, "result") != nil })
	if len(results) != 1 {
		t.Fatalf("%d archive results, want 1", len(results))
	}
	m := results[0].Child(archive.NS, "result").Child(archive.NSForward, "forwarded").Child("", "message")
	if m == nil || occupantID(t, m) != aliceID {
		t.Fatalf("archived message: %s", results[0])
	}

	key := filepath.Join(dir, "data", muc.OccupantIDKeyFile)
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("occupant ID key file: %v, %v", fi, err)
	}
	alice.Close()
	srv.Stop()

	srv = testutil.StartServerIn(t, dir, extra)
	alice = login(t, srv, "alice", "pc")
	if p := join(t, alice, "kept", "Alicia", ""); occupantID(t, p) != aliceID {
		t.Fatalf("alice's ID after a restart: %s, want %q", p, aliceID)
	}
	// The history loaded from storage kept the ID.
	alice.Drain()
	alice.Sendf("<presence type='unavailable' to='%s'/>", occ("kept", "Alicia"))
	alice.Expect(isUnavailable(occ("kept", "Alicia")))
	alice.Sendf("<presence to='%s'><x xmlns='%s'/></presence>", occ("kept", "Alice"), muc.NS)
	if m := alice.Expect(isGroupchat(occ("kept", "Alice"), "archived")); occupantID(t, m) != aliceID {
		t.Fatalf("stored history after a restart: %s", m)
	}
}

// TestLoadOccupantIDKey checks that the key is made once, read back the
// same, and that a damaged key file is an error, not a new key.
func TestLoadOccupantIDKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", muc.OccupantIDKeyFile)
	first, err := muc.LoadOccupantIDKey(file)
	if err != nil || len(first) != muc.OccupantIDKeySize {
		t.Fatalf("first load: %x, %v", first, err)
	}
	again, err := muc.LoadOccupantIDKey(file)
	if err != nil || string(again) != string(first) {
		t.Fatalf("second load: %x, %v; want %x", again, err, first)
	}
	if err := os.WriteFile(file, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := muc.LoadOccupantIDKey(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("damaged key file: %v", err)
	}
}
