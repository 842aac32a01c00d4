package storagetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parley/storage"
)

func testInvitations(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	invs := []storage.Invitation{
		{TokenHash: "aa01", Domain: "example.org", Created: now, Expires: now.Add(time.Hour)},
		{TokenHash: "bb02", Domain: "example.org", Localpart: "juliet", Created: now, Expires: now.Add(7 * 24 * time.Hour)},
		{TokenHash: "cc03", Domain: "example.net", Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)},
	}
	for _, inv := range invs {
		checkErr(t, "Invitation("+inv.TokenHash+") before create", second(s.Invitation(ctx, inv.TokenHash)), storage.ErrNotFound)
		must(t, s.CreateInvitation(ctx, inv))
	}
	dup := invs[0]
	dup.Domain = "example.net"
	checkErr(t, "CreateInvitation with a taken hash", s.CreateInvitation(ctx, dup), storage.ErrExists)

	s = reopen()
	for _, want := range invs {
		got, err := s.Invitation(ctx, want.TokenHash)
		must(t, err)
		if got.TokenHash != want.TokenHash || got.Domain != want.Domain || got.Localpart != want.Localpart ||
			!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) {
			t.Errorf("Invitation(%s) = %+v, want %+v", want.TokenHash, got, want)
		}
		if got.Expires.Location() != time.UTC || got.Created.Location() != time.UTC {
			t.Errorf("Invitation(%s): times not in UTC: %v, %v", want.TokenHash, got.Created, got.Expires)
		}
	}
	checkErr(t, "unknown hash", second(s.Invitation(ctx, "ffff")), storage.ErrNotFound)

	// Used once: of many concurrent deletions, exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := s.DeleteInvitation(ctx, "aa01")
			if err != nil {
				t.Errorf("DeleteInvitation: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d concurrent deletions reported the invitation, want 1", n)
	}
	checkErr(t, "deleted invitation", second(s.Invitation(ctx, "aa01")), storage.ErrNotFound)
	if ok, err := s.DeleteInvitation(ctx, "ffff"); err != nil || ok {
		t.Errorf("DeleteInvitation(unknown) = %v, %v; want false, nil", ok, err)
	}

	n, err := s.DeleteExpiredInvitations(ctx, now)
	must(t, err)
	if n != 1 {
		t.Errorf("DeleteExpiredInvitations removed %d, want 1", n)
	}
	checkErr(t, "expired invitation", second(s.Invitation(ctx, "cc03")), storage.ErrNotFound)
	if _, err := s.Invitation(ctx, "bb02"); err != nil {
		t.Errorf("unexpired invitation: %v", err)
	}
	// Deleting an account leaves invitations alone.
	must(t, s.CreateAccount(ctx, "juliet@example.org", nil))
	must(t, s.DeleteAccount(ctx, "juliet@example.org"))
	if _, err := s.Invitation(ctx, "bb02"); err != nil {
		t.Errorf("invitation after an account deletion: %v", err)
	}
}
