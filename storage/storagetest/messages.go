package storagetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"parley/storage"
)

func testSubscriptions(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const u = "alice@example.org"

	subs, err := s.PendingSubscriptions(ctx, u)
	must(t, err)
	if len(subs) != 0 {
		t.Fatalf("initial = %v", subs)
	}
	must(t, s.PutPendingSubscription(ctx, u, "bob@example.org", []byte("<presence from='bob' type='subscribe'/>")))
	must(t, s.PutPendingSubscription(ctx, u, "carol@example.org", []byte("<presence from='carol'/>")))
	must(t, s.PutPendingSubscription(ctx, u, "dave@example.org", []byte("<presence from='dave'/>")))
	must(t, s.PutPendingSubscription(ctx, "zed@example.org", "bob@example.org", []byte("<other/>")))
	// Replacing keeps the original position and updates the stanza.
	must(t, s.PutPendingSubscription(ctx, u, "bob@example.org", []byte("<presence from='bob' again/>")))
	must(t, s.DeletePendingSubscription(ctx, u, "carol@example.org"))
	must(t, s.DeletePendingSubscription(ctx, u, "carol@example.org")) // absent: no error
	must(t, s.DeletePendingSubscription(ctx, u, "nobody@example.org"))

	subs, err = s.PendingSubscriptions(ctx, u)
	must(t, err)
	want := []storage.PendingSubscription{
		{From: "bob@example.org", Stanza: []byte("<presence from='bob' again/>")},
		{From: "dave@example.org", Stanza: []byte("<presence from='dave'/>")},
	}
	if !reflect.DeepEqual(subs, want) {
		t.Errorf("PendingSubscriptions = %q, want %q", subs, want)
	}
	subs, err = s.PendingSubscriptions(ctx, "zed@example.org")
	must(t, err)
	if want := []storage.PendingSubscription{{From: "bob@example.org", Stanza: []byte("<other/>")}}; !reflect.DeepEqual(subs, want) {
		t.Errorf("zed's PendingSubscriptions = %q, want %q", subs, want)
	}
}

func testOffline(t *testing.T, open Opener) {
	s := newStore(t, open)
	ctx := t.Context()
	const u = "alice@example.org"

	stamps := []time.Time{
		time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		time.Date(2024, 1, 2, 8, 4, 6, 0, time.FixedZone("X", 5*3600)), // not UTC: comes back as UTC
		time.Now(), // has a monotonic reading
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC),
	}
	for i, st := range stamps {
		must(t, s.StoreOffline(ctx, u, fmt.Appendf(nil, "<message id='%d'/>", i), st))
		must(t, s.StoreOffline(ctx, "bob@example.org", []byte("<message/>"), st))
	}
	msgs, err := s.OfflineMessages(ctx, u)
	must(t, err)
	if len(msgs) != len(stamps) {
		t.Fatalf("got %d messages, want %d", len(msgs), len(stamps))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("<message id='%d'/>", i); string(m.Stanza) != want {
			t.Errorf("message %d = %s, want %s", i, m.Stanza, want)
		}
		if !m.Stamp.Equal(stamps[i]) || m.Stamp.Location() != time.UTC {
			t.Errorf("message %d stamp = %v, want %v in UTC", i, m.Stamp, stamps[i])
		}
		if i > 0 && m.ID <= msgs[i-1].ID {
			t.Errorf("IDs not increasing: %d after %d", m.ID, msgs[i-1].ID)
		}
	}

	for _, tc := range []struct {
		upTo      int64
		wantCount int
	}{
		{0, 4},
		{msgs[0].ID - 1, 4},
		{msgs[1].ID, 2},
		{msgs[1].ID, 2},
		{msgs[3].ID, 0},
	} {
		must(t, s.DeleteOffline(ctx, u, tc.upTo))
		n, err := s.CountOffline(ctx, u)
		must(t, err)
		if n != tc.wantCount {
			t.Errorf("after DeleteOffline(%d): count %d, want %d", tc.upTo, n, tc.wantCount)
		}
		left, err := s.OfflineMessages(ctx, u)
		must(t, err)
		if len(left) != tc.wantCount || len(left) > 0 && left[len(left)-1].ID != msgs[3].ID {
			t.Errorf("after DeleteOffline(%d): %d messages left, want the last %d", tc.upTo, len(left), tc.wantCount)
		}
	}
	if n, err := s.CountOffline(ctx, "bob@example.org"); err != nil || n != 4 {
		t.Errorf("bob's count = %d, %v; want 4", n, err)
	}

	// IDs are never reused, so a stale DeleteOffline cannot hit new messages.
	must(t, s.StoreOffline(ctx, u, []byte("<late/>"), time.Now()))
	must(t, s.DeleteOffline(ctx, u, msgs[3].ID))
	if n, _ := s.CountOffline(ctx, u); n != 1 {
		t.Errorf("stale DeleteOffline removed a new message")
	}
}
