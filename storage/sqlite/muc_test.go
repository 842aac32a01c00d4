package sqlite

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"parley/storage"
)

func TestMUCRooms(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	rooms := []storage.MUCRoom{
		{JID: "b@conference.example.org", Config: []byte(`{"name":"B"}`), Created: created},
		{JID: "a@conference.example.org", Config: []byte(`{"name":"A"}`), Subject: "hello", SubjectBy: "alice", Created: created},
		{JID: "c@muc.other.net", Config: []byte(`{}`), Created: created},
	}
	for _, r := range rooms {
		must(t, s.PutMUCRoom(ctx, r))
	}
	got, err := s.MUCRooms(ctx, "conference.example.org")
	must(t, err)
	want := []storage.MUCRoom{rooms[1], rooms[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MUCRooms = %+v\nwant %+v", got, want)
	}

	// Replacing keeps the creation time and changes the rest.
	upd := rooms[0]
	upd.Config, upd.Subject, upd.SubjectBy = []byte(`{"name":"B2"}`), "new", "bob"
	upd.Created = created.Add(time.Hour)
	must(t, s.PutMUCRoom(ctx, upd))
	got, err = s.MUCRooms(ctx, "conference.example.org")
	must(t, err)
	upd.Created = created
	if !reflect.DeepEqual(got[1], upd) {
		t.Fatalf("after replace: %+v, want %+v", got[1], upd)
	}

	must(t, s.DeleteMUCRoom(ctx, "a@conference.example.org"))
	must(t, s.DeleteMUCRoom(ctx, "never@conference.example.org"))
	got, err = s.MUCRooms(ctx, "conference.example.org")
	must(t, err)
	if len(got) != 1 || got[0].JID != "b@conference.example.org" {
		t.Fatalf("after delete: %+v", got)
	}
	if got, _ := s.MUCRooms(ctx, "nowhere.test"); len(got) != 0 {
		t.Fatalf("rooms of an unknown service: %+v", got)
	}
}

func TestMUCAffiliations(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	room := "r@conference.example.org"
	if err := s.SetMUCAffiliation(ctx, room, storage.MUCAffiliation{JID: "a@example.org", Affiliation: "owner"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetMUCAffiliation on a missing room = %v, want ErrNotFound", err)
	}
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: room, Created: time.Now()}))
	set := []storage.MUCAffiliation{
		{JID: "owner@example.org", Affiliation: "owner"},
		{JID: "bad@example.org", Affiliation: "outcast", Reason: "spam"},
		{JID: "member@example.org", Affiliation: "member"},
		{JID: "admin@example.org", Affiliation: "admin"},
		{JID: "member@example.org", Affiliation: "admin"}, // replaces
		{JID: "owner@example.org", Affiliation: "none"},   // removes
	}
	for _, a := range set {
		must(t, s.SetMUCAffiliation(ctx, room, a))
	}
	got, err := s.MUCAffiliations(ctx, room)
	must(t, err)
	want := []storage.MUCAffiliation{
		{JID: "admin@example.org", Affiliation: "admin"},
		{JID: "bad@example.org", Affiliation: "outcast", Reason: "spam"},
		{JID: "member@example.org", Affiliation: "admin"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MUCAffiliations = %+v\nwant %+v", got, want)
	}
	if err := s.SetMUCAffiliation(ctx, room, storage.MUCAffiliation{JID: "x@example.org", Affiliation: "king"}); err == nil {
		t.Fatal("an unknown affiliation was stored")
	}
	must(t, s.DeleteMUCRoom(ctx, room))
	got, err = s.MUCAffiliations(ctx, room)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("affiliations survived the room: %+v", got)
	}
}

func TestMUCHistory(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	r1, r2 := "r1@conference.example.org", "r2@conference.example.org"
	for _, r := range []string{r1, r2} {
		must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: r, Created: time.Now()}))
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var batch []storage.MUCMessage
	for i := range 10 {
		room := r1
		if i%2 == 1 {
			room = r2
		}
		batch = append(batch, storage.MUCMessage{Room: room, StanzaID: fmt.Sprint("id", i), Stanza: []byte(fmt.Sprint("<message>", i, "</message>")), Stamp: t0.Add(time.Duration(i) * time.Second)})
	}
	// A message for a room that is not stored is skipped, not an error.
	batch = append(batch, storage.MUCMessage{Room: "gone@conference.example.org", StanzaID: "x", Stanza: []byte("<message/>"), Stamp: t0})
	must(t, s.AppendMUCHistory(ctx, batch))
	must(t, s.AppendMUCHistory(ctx, nil))

	got, err := s.MUCHistory(ctx, r1, 3)
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("MUCHistory(r1, 3) returned %d messages", len(got))
	}
	for i, m := range got {
		n := 4 + 2*i // r1 holds 0, 2, 4, 6, 8; the last three are 4, 6, 8
		if m.StanzaID != fmt.Sprint("id", n) || string(m.Stanza) != fmt.Sprint("<message>", n, "</message>") ||
			!m.Stamp.Equal(t0.Add(time.Duration(n)*time.Second)) || m.Room != r1 || m.ID == 0 {
			t.Errorf("message %d = %+v", i, m)
		}
		if i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("IDs not increasing: %d after %d", m.ID, got[i-1].ID)
		}
	}
	all, err := s.MUCHistory(ctx, r2, 100)
	must(t, err)
	if len(all) != 5 || all[0].StanzaID != "id1" || all[4].StanzaID != "id9" {
		t.Fatalf("MUCHistory(r2, 100) = %+v", all)
	}
	if none, err := s.MUCHistory(ctx, r2, 0); err != nil || len(none) != 0 {
		t.Fatalf("MUCHistory(r2, 0) = %v, %v", none, err)
	}
	var n int
	must(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM muc_history WHERE room = 'gone@conference.example.org'`).Scan(&n))
	if n != 0 {
		t.Fatalf("%d messages stored for a room that does not exist", n)
	}

	must(t, s.DeleteMUCRoom(ctx, r1))
	if left, _ := s.MUCHistory(ctx, r1, 100); len(left) != 0 {
		t.Fatalf("history survived the room: %+v", left)
	}
	if left, _ := s.MUCHistory(ctx, r2, 100); len(left) != 5 {
		t.Fatalf("deleting r1 touched r2's history: %d left", len(left))
	}
}
