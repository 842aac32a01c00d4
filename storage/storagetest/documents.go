package storagetest

import (
	"testing"
	"time"

	"parley/storage"
)

func testDocuments(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const u = "alice@example.org"

	docs := []struct{ kind, key, data string }{
		{"vcard", "", "<vCard xmlns='vcard-temp'/>"},
		{"private", "storage:bookmarks", "<storage xmlns='storage:bookmarks'/>"},
		{"private", "storage:rosternotes", "<storage xmlns='storage:rosternotes'/>"},
		{"private", "empty", ""},
	}
	for _, d := range docs {
		checkErr(t, "Document("+d.kind+", "+d.key+") before put", second(s.Document(ctx, u, d.kind, d.key)), storage.ErrNotFound)
		must(t, s.PutDocument(ctx, u, d.kind, d.key, []byte(d.data)))
	}
	docs[0].data = "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>"
	must(t, s.PutDocument(ctx, u, docs[0].kind, docs[0].key, []byte(docs[0].data)))
	for _, d := range docs {
		got, err := s.Document(ctx, u, d.kind, d.key)
		must(t, err)
		// An empty document is stored, and comes back non-nil.
		if got == nil || string(got) != d.data {
			t.Errorf("Document(%s, %q) = %q, want %q", d.kind, d.key, got, d.data)
		}
	}
	checkErr(t, "other user's document", second(s.Document(ctx, "bob@example.org", "vcard", "")), storage.ErrNotFound)
	checkErr(t, "other kind's document", second(s.Document(ctx, u, "pep", "storage:bookmarks")), storage.ErrNotFound)

	must(t, s.DeleteDocument(ctx, u, "private", "storage:bookmarks"))
	must(t, s.DeleteDocument(ctx, u, "private", "storage:bookmarks")) // absent: no error
	checkErr(t, "deleted document", second(s.Document(ctx, u, "private", "storage:bookmarks")), storage.ErrNotFound)
	if _, err := s.Document(ctx, u, "private", "storage:rosternotes"); err != nil {
		t.Errorf("sibling document: %v", err)
	}
}

func testLastActivity(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const u = "alice@example.org"

	checkErr(t, "LastActivity before set", third(s.LastActivity(ctx, u)), storage.ErrNotFound)
	for _, tc := range []struct {
		at     time.Time
		status string
	}{
		{time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC), "gone fishing"},
		{time.Now(), ""},
		{time.Time{}, "zero time"},
	} {
		must(t, s.SetLastActivity(ctx, u, tc.at, tc.status))
		at, status, err := s.LastActivity(ctx, u)
		must(t, err)
		if !at.Equal(tc.at) || status != tc.status {
			t.Errorf("LastActivity = %v, %q; want %v, %q", at, status, tc.at, tc.status)
		}
	}
	checkErr(t, "other user's LastActivity", third(s.LastActivity(ctx, "bob@example.org")), storage.ErrNotFound)
}

func testLastActivities(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const alice, bob, carol = "alice@example.org", "bob@example.org", "carol@example.org"
	must(t, s.CreateAccount(ctx, alice, nil))
	must(t, s.CreateAccount(ctx, bob, nil))

	must(t, s.SetLastActivities(ctx, nil))
	must(t, s.SetLastActivity(ctx, bob, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), "old"))
	t1 := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	t2 := t1.Add(time.Minute)
	must(t, s.SetLastActivities(ctx, []storage.Logout{
		{User: alice, At: t1, Status: "first"},
		{User: carol, At: t1, Status: "no account"},
		{User: bob, At: t1, Status: ""},
		{User: alice, At: t2, Status: "later"}, // the last of a user's wins
	}))
	for _, w := range []struct {
		user   string
		at     time.Time
		status string
	}{{alice, t2, "later"}, {bob, t1, ""}} {
		at, status, err := s.LastActivity(ctx, w.user)
		must(t, err)
		if !at.Equal(w.at) || status != w.status {
			t.Errorf("LastActivity(%s) = %v, %q; want %v, %q", w.user, at, status, w.at, w.status)
		}
	}
	checkErr(t, "LastActivity of a user without an account", third(s.LastActivity(ctx, carol)), storage.ErrNotFound)
}
