package storagetest

import (
	"reflect"
	"testing"

	"parley/storage"
)

func testRosters(t *testing.T, open Opener) {
	t.Run("Versions", func(t *testing.T) { testRosterVersions(t, newStore(t, open)) })
	t.Run("Items", func(t *testing.T) { testRosterItems(t, newStore(t, open)) })
}

// testRosterVersions runs puts and deletes, checking each one's outcome
// and that versions rise by one per change and not on failures.
func testRosterVersions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const u = "alice@example.org"

	items, ver, err := s.Roster(ctx, u)
	must(t, err)
	if len(items) != 0 || ver != 0 {
		t.Fatalf("empty Roster = %v, %d; want none, 0", items, ver)
	}
	if v, err := s.RosterVersion(ctx, u); err != nil || v != 0 {
		t.Fatalf("RosterVersion of an empty roster = %d, %v; want 0", v, err)
	}

	steps := []struct {
		name    string
		put     *storage.RosterItem
		del     string
		wantErr error
		wantVer int64
	}{
		{name: "add bob", wantVer: 1, put: &storage.RosterItem{
			JID: "bob@example.org", Name: "Bob", Subscription: "both",
			Groups: []string{"Work", "Friends", "Work"}}},
		{name: "add carol", wantVer: 2, put: &storage.RosterItem{
			JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true, PreApproved: true}},
		{name: "replace bob", wantVer: 3, put: &storage.RosterItem{
			JID: "bob@example.org", Name: "Robert", Subscription: "to", Groups: []string{"Family"}}},
		{name: "add dave with empty subscription", wantVer: 4, put: &storage.RosterItem{JID: "dave@other.net"}},
		{name: "invalid subscription", wantVer: 4, put: &storage.RosterItem{JID: "erin@example.org", Subscription: "maybe"}, wantErr: errAny},
		{name: "empty JID", wantVer: 4, put: &storage.RosterItem{Subscription: "none"}, wantErr: errAny},
		{name: "delete dave", wantVer: 5, del: "dave@other.net"},
		{name: "delete dave again", wantVer: 5, del: "dave@other.net", wantErr: storage.ErrNotFound},
	}
	for _, st := range steps {
		var v int64
		if st.put != nil {
			v, err = s.PutRosterItem(ctx, u, *st.put)
		} else {
			v, err = s.DeleteRosterItem(ctx, u, st.del)
		}
		if !checkErr(t, st.name, err, st.wantErr) {
			t.FailNow()
		}
		if err == nil && v != st.wantVer {
			t.Fatalf("%s: version %d, want %d", st.name, v, st.wantVer)
		}
		cur, err := s.RosterVersion(ctx, u)
		must(t, err)
		if cur != st.wantVer {
			t.Fatalf("%s: RosterVersion = %d, want %d", st.name, cur, st.wantVer)
		}
	}

	want := []storage.RosterItem{
		{JID: "bob@example.org", Name: "Robert", Subscription: "to", Groups: []string{"Family"}},
		{JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true, PreApproved: true},
	}
	items, ver, err = s.Roster(ctx, u)
	must(t, err)
	if ver != 5 || !reflect.DeepEqual(items, want) {
		t.Errorf("Roster = %+v, %d; want %+v, 5", items, ver, want)
	}

	// Versions are per user.
	v, err := s.PutRosterItem(ctx, "bob@example.org", storage.RosterItem{JID: u, Subscription: "both"})
	must(t, err)
	if v != 1 {
		t.Errorf("bob's first version = %d, want 1", v)
	}
	if v, _ := s.RosterVersion(ctx, u); v != 5 {
		t.Errorf("bob's change moved alice's version to %d", v)
	}
}

func testRosterItems(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const u = "alice@example.org"
	put := []storage.RosterItem{
		{JID: "dave@other.net", Subscription: "from", Groups: []string{"b", "a", "c", "a"}},
		{JID: "bob@example.org", Name: "Bob", Subscription: "both", PreApproved: true},
		{JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true},
		{JID: "erin@example.org"},
	}
	for _, it := range put {
		_, err := s.PutRosterItem(ctx, u, it)
		must(t, err)
	}
	// Items come back sorted by JID, groups sorted and deduplicated, an
	// empty subscription as "none".
	want := []storage.RosterItem{
		{JID: "bob@example.org", Name: "Bob", Subscription: "both", PreApproved: true},
		{JID: "carol@example.org", Subscription: "none", Ask: true, PendingIn: true},
		{JID: "dave@other.net", Subscription: "from", Groups: []string{"a", "b", "c"}},
		{JID: "erin@example.org", Subscription: "none"},
	}
	items, _, err := s.Roster(ctx, u)
	must(t, err)
	if !reflect.DeepEqual(items, want) {
		t.Errorf("Roster = %+v\nwant %+v", items, want)
	}
	for _, w := range want {
		got, err := s.RosterItem(ctx, u, w.JID)
		must(t, err)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("RosterItem(%s) = %+v, want %+v", w.JID, got, w)
		}
	}

	// Replacing an item replaces its groups.
	_, err = s.PutRosterItem(ctx, u, storage.RosterItem{JID: "dave@other.net", Subscription: "from", Groups: []string{"z"}})
	must(t, err)
	if got, _ := s.RosterItem(ctx, u, "dave@other.net"); !reflect.DeepEqual(got.Groups, []string{"z"}) {
		t.Errorf("groups after replace = %q, want [z]", got.Groups)
	}

	_, err = s.DeleteRosterItem(ctx, u, "erin@example.org")
	must(t, err)
	for _, tc := range []struct{ user, contact string }{
		{u, "erin@example.org"},
		{u, "nobody@example.org"},
		{"bob@example.org", u},
	} {
		checkErr(t, "RosterItem("+tc.user+", "+tc.contact+")", second(s.RosterItem(ctx, tc.user, tc.contact)), storage.ErrNotFound)
	}
}
