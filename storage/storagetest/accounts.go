package storagetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/storage"
)

// creds returns two credentials, for SHA-1 and SHA-256, whose bytes are
// made from tag.
func creds(tag string) []storage.Credential {
	return []storage.Credential{
		{Hash: "SHA-1", Salt: []byte("salt1" + tag), Iterations: 4096, StoredKey: []byte("sk1" + tag), ServerKey: []byte("srv1" + tag)},
		{Hash: "SHA-256", Salt: []byte("salt256" + tag), Iterations: 8192, StoredKey: []byte("sk256" + tag), ServerKey: []byte("srv256" + tag)},
	}
}

func testAccounts(t *testing.T, open Opener) {
	t.Run("CreateListExists", func(t *testing.T) { testCreateAccount(t, newStore(t, open)) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, newStore(t, open)) })
	t.Run("DeleteAccount", func(t *testing.T) { testDeleteAccount(t, newStore(t, open)) })
}

func testCreateAccount(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, u := range []string{"carol@example.org", "alice@example.org", "bob@example.org", "dave@other.net"} {
		must(t, s.CreateAccount(ctx, u, creds(u)))
	}
	checkErr(t, "CreateAccount(existing)", s.CreateAccount(ctx, "alice@example.org", nil), storage.ErrExists)
	// A failing CreateAccount leaves nothing behind.
	dup := append(creds("x"), creds("y")[0])
	checkErr(t, "CreateAccount with a duplicate hash", s.CreateAccount(ctx, "erin@example.org", dup), errAny)

	for _, tc := range []struct {
		user string
		want bool
	}{
		{"alice@example.org", true},
		{"dave@other.net", true},
		{"erin@example.org", false},
		{"nobody@example.org", false},
	} {
		got, err := s.AccountExists(ctx, tc.user)
		must(t, err)
		if got != tc.want {
			t.Errorf("AccountExists(%s) = %v, want %v", tc.user, got, tc.want)
		}
	}

	for _, tc := range []struct {
		domain string
		want   []string
	}{
		{"example.org", []string{"alice@example.org", "bob@example.org", "carol@example.org"}},
		{"other.net", []string{"dave@other.net"}},
		{"nowhere.test", nil},
		{"org", nil},
	} {
		got, err := s.ListAccounts(ctx, tc.domain)
		must(t, err)
		if (len(got) != 0 || len(tc.want) != 0) && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListAccounts(%s) = %q, want %q", tc.domain, got, tc.want)
		}
	}
}

func testCredentials(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const alice, bob = "alice@example.org", "bob@example.org"
	must(t, s.CreateAccount(ctx, alice, creds(alice)))
	must(t, s.CreateAccount(ctx, bob, creds(bob)))
	for _, c := range creds(alice) {
		got, err := s.Credential(ctx, alice, c.Hash)
		must(t, err)
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Credential(alice, %s) = %+v, want %+v", c.Hash, got, c)
		}
	}

	newCreds := []storage.Credential{{Hash: "SHA-256", Salt: []byte("n"), Iterations: 10000, StoredKey: []byte("a"), ServerKey: []byte("b")}}
	must(t, s.SetCredentials(ctx, alice, newCreds))
	got, err := s.Credential(ctx, alice, "SHA-256")
	must(t, err)
	if !reflect.DeepEqual(got, newCreds[0]) {
		t.Errorf("after SetCredentials: %+v, want %+v", got, newCreds[0])
	}
	if got, err := s.Credential(ctx, bob, "SHA-1"); err != nil || !reflect.DeepEqual(got, creds(bob)[0]) {
		t.Errorf("SetCredentials(alice) changed bob's credential: %+v, %v", got, err)
	}

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Credential(replaced hash)", second(s.Credential(ctx, alice, "SHA-1"))},
		{"Credential(no account)", second(s.Credential(ctx, "nobody@example.org", "SHA-1"))},
		{"Credential(unknown hash)", second(s.Credential(ctx, bob, "MD5"))},
		{"SetCredentials(no account)", s.SetCredentials(ctx, "nobody@example.org", newCreds)},
		{"DeleteAccount(no account)", s.DeleteAccount(ctx, "nobody@example.org")},
	} {
		checkErr(t, tc.name, tc.err, storage.ErrNotFound)
	}
}

// Populate creates user's account and stores one of every kind of data
// kept for a user, for tests of what DeleteAccount and restarts keep.
func Populate(t testing.TB, s storage.Store, user string) {
	t.Helper()
	ctx := t.Context()
	must(t, s.CreateAccount(ctx, user, creds(user)))
	_, err := s.PutRosterItem(ctx, user, storage.RosterItem{JID: "x@example.net", Subscription: "both", Groups: []string{"g1", "g2"}})
	must(t, err)
	must(t, s.PutPendingSubscription(ctx, user, "y@example.net", []byte("<presence/>")))
	must(t, s.StoreOffline(ctx, user, []byte("<message/>"), time.Now()))
	must(t, s.PutDocument(ctx, user, "vcard", "", []byte("<vCard/>")))
	must(t, s.SetLastActivity(ctx, user, time.Now(), "bye"))
	must(t, s.AppendArchive(ctx, []storage.ArchivedMessage{
		{Archive: user, ID: "populated", With: "x@example.net/r", Stanza: []byte("<message/>"), Stamp: time.Now()},
	}))
	must(t, s.PutFastToken(ctx, storage.FastToken{User: user, Client: "populated", Mechanism: "HT-SHA-256-NONE",
		Digest: []byte("populated"), Expiry: time.Now().Add(time.Hour)}))
	must(t, s.AddUsage(ctx, []storage.UsageRecord{{Day: time.Now(), User: user, UsageCounts: storage.UsageCounts{Logins: 1}, LastSeen: time.Now()}}))
	must(t, s.CreatePubSubNode(ctx, storage.PubSubNode{Owner: user, Node: "urn:xmpp:avatar:metadata", Config: []byte("{}"), Created: time.Now()}))
	_, err = s.PublishPubSubItem(ctx, &storage.PubSubItem{Owner: user, Node: "urn:xmpp:avatar:metadata", ID: "populated", Payload: []byte("<metadata xmlns='urn:xmpp:avatar:metadata'/>"), Publisher: user, Stamp: time.Now()}, 1)
	must(t, err)
}

// holdings reports, for each kind of data Populate stores, whether user
// has any.
func holdings(t testing.TB, s storage.Store, user string) map[string]bool {
	t.Helper()
	ctx := t.Context()
	has := make(map[string]bool)
	var err error
	has["account"], err = s.AccountExists(ctx, user)
	must(t, err)
	has["credential"] = present(t, second(s.Credential(ctx, user, "SHA-256")))
	items, ver, err := s.Roster(ctx, user)
	must(t, err)
	has["roster"], has["roster version"] = len(items) > 0, ver > 0
	has["roster item"] = present(t, second(s.RosterItem(ctx, user, "x@example.net")))
	subs, err := s.PendingSubscriptions(ctx, user)
	must(t, err)
	has["pending subscriptions"] = len(subs) > 0
	msgs, err := s.OfflineMessages(ctx, user)
	must(t, err)
	has["offline messages"] = len(msgs) > 0
	n, err := s.CountOffline(ctx, user)
	must(t, err)
	has["offline count"] = n > 0
	has["document"] = present(t, second(s.Document(ctx, user, "vcard", "")))
	has["last activity"] = present(t, third(s.LastActivity(ctx, user)))
	n, err = s.CountArchive(ctx, user, storage.ArchiveQuery{})
	must(t, err)
	has["archive"] = n > 0
	page, _, err := s.QueryArchive(ctx, user, storage.ArchiveQuery{Max: 10})
	must(t, err)
	has["archived messages"] = len(page) > 0
	has["pubsub node"] = present(t, second(s.PubSubNode(ctx, user, "urn:xmpp:avatar:metadata")))
	psItems, err2 := s.PubSubItems(ctx, user, "urn:xmpp:avatar:metadata", nil, 0)
	must(t, err2)
	has["pubsub items"] = len(psItems) > 0
	_, domain, _ := strings.Cut(user, "@")
	usage, err := s.UsageRecords(ctx, domain, time.Now().Add(-24*time.Hour), time.Now().Add(24*time.Hour))
	must(t, err)
	has["usage"] = slices.ContainsFunc(usage, func(r storage.UsageRecord) bool { return r.User == user })
	return has
}

// present turns the error of a single-record getter into whether the
// record exists.
func present(t testing.TB, err error) bool {
	t.Helper()
	if err != nil && !checkErr(t, "getter", err, storage.ErrNotFound) {
		return false
	}
	return err == nil
}

func testDeleteAccount(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const alice, bob = "alice@example.org", "bob@example.org"
	Populate(t, s, alice)
	Populate(t, s, bob)
	for what, ok := range holdings(t, s, alice) {
		if !ok {
			t.Fatalf("Populate stored no %s", what)
		}
	}

	must(t, s.DeleteAccount(ctx, alice))
	for what, ok := range holdings(t, s, alice) {
		if ok {
			t.Errorf("after DeleteAccount, alice still has a %s", what)
		}
	}
	for what, ok := range holdings(t, s, bob) {
		if !ok {
			t.Errorf("DeleteAccount(alice) deleted bob's %s", what)
		}
	}
	checkErr(t, "second DeleteAccount", s.DeleteAccount(ctx, alice), storage.ErrNotFound)

	// The account can be created again, empty; the roster version
	// restarts.
	must(t, s.CreateAccount(ctx, alice, nil))
	if items, ver, err := s.Roster(ctx, alice); err != nil || len(items) != 0 || ver != 0 {
		t.Errorf("recreated account has roster %v, version %d, error %v", items, ver, err)
	}
	if v, err := s.PutRosterItem(ctx, alice, storage.RosterItem{JID: bob}); err != nil || v != 1 {
		t.Errorf("recreated account's first roster version = %d, %v; want 1", v, err)
	}
}
