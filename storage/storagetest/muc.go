package storagetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"parley/storage"
)

func testMUC(t *testing.T, open Opener) {
	t.Run("Rooms", func(t *testing.T) { testMUCRooms(t, newStore(t, open)) })
	t.Run("Affiliations", func(t *testing.T) { testMUCAffiliations(t, newStore(t, open)) })
	t.Run("History", func(t *testing.T) { testMUCHistory(t, newStore(t, open)) })
	t.Run("DeleteRoom", func(t *testing.T) { testDeleteMUCRoom(t, newStore(t, open)) })
}

func testMUCRooms(t *testing.T, s storage.Store) {
	ctx := t.Context()
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	rooms := []storage.MUCRoom{
		{JID: "b@conference.example.org", Config: []byte(`{"name":"B"}`), Created: created},
		{JID: "a@conference.example.org", Config: []byte(`{"name":"A"}`), Subject: "hello", SubjectBy: "alice", Created: created},
		{JID: "c@muc.other.net", Config: []byte(`{}`), Created: created},
	}
	for _, r := range rooms {
		must(t, s.PutMUCRoom(ctx, r))
	}
	for _, tc := range []struct {
		service string
		want    []storage.MUCRoom
	}{
		{"conference.example.org", []storage.MUCRoom{rooms[1], rooms[0]}},
		{"muc.other.net", []storage.MUCRoom{rooms[2]}},
		{"nowhere.test", nil},
		{"example.org", nil},
	} {
		got, err := s.MUCRooms(ctx, tc.service)
		must(t, err)
		if (len(got) != 0 || len(tc.want) != 0) && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MUCRooms(%s) = %+v\nwant %+v", tc.service, got, tc.want)
		}
	}

	// Replacing keeps the creation time and changes the rest.
	upd := rooms[0]
	upd.Config, upd.Subject, upd.SubjectBy = []byte(`{"name":"B2"}`), "new", "bob"
	upd.Created = created.Add(time.Hour)
	must(t, s.PutMUCRoom(ctx, upd))
	got, err := s.MUCRooms(ctx, "conference.example.org")
	must(t, err)
	upd.Created = created
	if len(got) != 2 || !reflect.DeepEqual(got[1], upd) {
		t.Fatalf("after replace: %+v, want [1] = %+v", got, upd)
	}

	must(t, s.DeleteMUCRoom(ctx, "a@conference.example.org"))
	must(t, s.DeleteMUCRoom(ctx, "never@conference.example.org")) // absent: no error
	got, err = s.MUCRooms(ctx, "conference.example.org")
	must(t, err)
	if len(got) != 1 || got[0].JID != "b@conference.example.org" {
		t.Fatalf("after delete: %+v", got)
	}
}

func testMUCAffiliations(t *testing.T, s storage.Store) {
	ctx := t.Context()
	room := "r@conference.example.org"
	checkErr(t, "SetMUCAffiliation on a missing room",
		s.SetMUCAffiliation(ctx, room, storage.MUCAffiliation{JID: "a@example.org", Affiliation: "owner"}), storage.ErrNotFound)
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: room, Created: time.Now()}))
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: "other@conference.example.org", Created: time.Now()}))
	must(t, s.SetMUCAffiliation(ctx, "other@conference.example.org", storage.MUCAffiliation{JID: "x@example.org", Affiliation: "owner"}))
	for _, a := range []storage.MUCAffiliation{
		{JID: "owner@example.org", Affiliation: "owner"},
		{JID: "bad@example.org", Affiliation: "outcast", Reason: "spam"},
		{JID: "member@example.org", Affiliation: "member"},
		{JID: "admin@example.org", Affiliation: "admin"},
		{JID: "member@example.org", Affiliation: "admin"}, // replaces
		{JID: "owner@example.org", Affiliation: "none"},   // removes
		{JID: "never@example.org", Affiliation: "none"},   // absent: nothing to remove
	} {
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
	checkErr(t, "an unknown affiliation",
		s.SetMUCAffiliation(ctx, room, storage.MUCAffiliation{JID: "x@example.org", Affiliation: "king"}), errAny)
	// Replacing the room keeps its affiliations.
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: room, Subject: "new", Created: time.Now()}))
	if got, _ := s.MUCAffiliations(ctx, room); !reflect.DeepEqual(got, want) {
		t.Fatalf("after PutMUCRoom: %+v\nwant %+v", got, want)
	}
	if got, _ := s.MUCAffiliations(ctx, "none@conference.example.org"); len(got) != 0 {
		t.Fatalf("affiliations of a missing room: %+v", got)
	}
}

// roomMessage is the i-th test message of a room, sent by nick.
func roomMessage(room, nick string, i int, t0 time.Time) storage.MUCMessage {
	return storage.MUCMessage{
		Room:     room,
		StanzaID: fmt.Sprint("id", i),
		Stanza:   fmt.Appendf(nil, "<message from='%s/%s' type='groupchat'><body>%d</body></message>", room, nick, i),
		Stamp:    t0.Add(time.Duration(i) * time.Second),
	}
}

func testMUCHistory(t *testing.T, s storage.Store) {
	ctx := t.Context()
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
		batch = append(batch, roomMessage(room, "nick", i, t0))
	}
	// A message for a room that is not stored is skipped, not an error.
	const gone = "gone@conference.example.org"
	batch = append(batch, roomMessage(gone, "nick", 0, t0))
	must(t, s.AppendMUCHistory(ctx, batch))
	must(t, s.AppendMUCHistory(ctx, nil))

	got, err := s.MUCHistory(ctx, r1, 3)
	must(t, err)
	// r1 holds 0, 2, 4, 6, 8; the last three are 4, 6, 8.
	want := []storage.MUCMessage{batch[4], batch[6], batch[8]}
	if len(got) != len(want) {
		t.Fatalf("MUCHistory(r1, 3) returned %d messages", len(got))
	}
	for i, m := range got {
		if m.ID <= 0 || i > 0 && m.ID <= got[i-1].ID {
			t.Errorf("IDs not positive and increasing: %d after %d", m.ID, got[max(i-1, 0)].ID)
		}
		w := want[i]
		w.ID = m.ID
		if !reflect.DeepEqual(m, w) {
			t.Errorf("message %d = %+v\nwant %+v", i, m, w)
		}
	}
	all, err := s.MUCHistory(ctx, r2, 100)
	must(t, err)
	if len(all) != 5 || all[0].StanzaID != "id1" || all[4].StanzaID != "id9" {
		t.Fatalf("MUCHistory(r2, 100) = %+v", all)
	}
	for _, limit := range []int{0, -1} {
		if none, err := s.MUCHistory(ctx, r2, limit); err != nil || len(none) != 0 {
			t.Errorf("MUCHistory(r2, %d) = %v, %v; want none", limit, none, err)
		}
	}
	// Storing the room now shows that nothing was kept for it before.
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: gone, Created: time.Now()}))
	if got, _ := s.MUCHistory(ctx, gone, 100); len(got) != 0 {
		t.Fatalf("%d messages stored for a room that did not exist", len(got))
	}
}

func testDeleteMUCRoom(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r1, r2 := "r1@conference.example.org", "r2@conference.example.org"
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []string{r1, r2} {
		must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: r, Created: time.Now()}))
		must(t, s.SetMUCAffiliation(ctx, r, storage.MUCAffiliation{JID: "owner@example.org", Affiliation: "owner"}))
		must(t, s.AppendMUCHistory(ctx, []storage.MUCMessage{roomMessage(r, "a", 1, t0), roomMessage(r, "b", 2, t0)}))
	}
	must(t, s.DeleteMUCRoom(ctx, r1))
	if rooms, _ := s.MUCRooms(ctx, "conference.example.org"); len(rooms) != 1 || rooms[0].JID != r2 {
		t.Fatalf("rooms after delete: %+v", rooms)
	}
	// Created again, the room starts empty.
	must(t, s.PutMUCRoom(ctx, storage.MUCRoom{JID: r1, Created: time.Now()}))
	if left, _ := s.MUCHistory(ctx, r1, 100); len(left) != 0 {
		t.Errorf("history survived the room: %+v", left)
	}
	if left, _ := s.MUCAffiliations(ctx, r1); len(left) != 0 {
		t.Errorf("affiliations survived the room: %+v", left)
	}
	if left, _ := s.MUCHistory(ctx, r2, 100); len(left) != 2 {
		t.Errorf("deleting r1 touched r2's history: %d left", len(left))
	}
	if left, _ := s.MUCAffiliations(ctx, r2); len(left) != 1 {
		t.Errorf("deleting r1 touched r2's affiliations: %+v", left)
	}
}
