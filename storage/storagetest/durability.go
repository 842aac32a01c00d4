package storagetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"parley/storage"
)

// testDurability writes through every interface, reopens the store twice
// and checks that everything is still there.
func testDurability(t *testing.T, open Opener) {
	s, reopen := open(t)
	ctx := t.Context()
	const alice, room = "alice@example.org", "r@conference.example.org"
	Populate(t, s, alice)
	ver, err := s.RosterVersion(ctx, alice)
	must(t, err)
	wantRoom := storage.MUCRoom{JID: room, Config: []byte("{}"), Subject: "s", SubjectBy: "n", Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	must(t, s.PutMUCRoom(ctx, wantRoom))
	wantAffs := []storage.MUCAffiliation{{JID: alice, Affiliation: "owner", Reason: "made it"}}
	must(t, s.SetMUCAffiliation(ctx, room, wantAffs[0]))
	must(t, s.AppendMUCHistory(ctx, []storage.MUCMessage{roomMessage(room, "a", 1, wantRoom.Created)}))
	wantHistory, err := s.MUCHistory(ctx, room, 10)
	must(t, err)
	wantArchive := fillArchive(t, s)

	for i := range 2 {
		s = reopen()
		for what, ok := range holdings(t, s, alice) {
			if !ok {
				t.Errorf("reopen %d: alice's %s is lost", i, what)
			}
		}
		if c, err := s.Credential(ctx, alice, "SHA-256"); err != nil || !reflect.DeepEqual(c, creds(alice)[1]) {
			t.Errorf("reopen %d: credential = %+v, %v", i, c, err)
		}
		if v, err := s.RosterVersion(ctx, alice); err != nil || v != ver {
			t.Errorf("reopen %d: roster version = %d, %v; want %d", i, v, err, ver)
		}
		if rooms, err := s.MUCRooms(ctx, "conference.example.org"); err != nil || !reflect.DeepEqual(rooms, []storage.MUCRoom{wantRoom}) {
			t.Errorf("reopen %d: rooms = %+v, %v", i, rooms, err)
		}
		if affs, err := s.MUCAffiliations(ctx, room); err != nil || !reflect.DeepEqual(affs, wantAffs) {
			t.Errorf("reopen %d: affiliations = %+v, %v", i, affs, err)
		}
		if h, err := s.MUCHistory(ctx, room, 10); err != nil || !reflect.DeepEqual(h, wantHistory) {
			t.Errorf("reopen %d: history = %+v, %v; want %+v", i, h, err, wantHistory)
		}
		page, _, err := s.QueryArchive(ctx, archiveOwner, storage.ArchiveQuery{Max: archiveSize, AfterID: "populated"})
		must(t, err)
		checkMessages(t, fmt.Sprintf("reopen %d: archive", i), page, wantArchive)
	}
	// Seq goes on increasing after a restart.
	more := []storage.ArchivedMessage{{Archive: archiveOwner, ID: "after restart", Stamp: time.Now()}}
	must(t, s.AppendArchive(ctx, more))
	if last := wantArchive[len(wantArchive)-1].Seq; more[0].Seq <= last {
		t.Errorf("Seq after reopening = %d, not above %d", more[0].Seq, last)
	}
}
