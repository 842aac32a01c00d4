package audit

import (
	"testing"
	"time"
)

func TestRecordAndRead(t *testing.T) {
	dir := t.TempDir()
	server, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := Open(dir) // a command, while the server runs
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	events := []struct {
		l  *Log
		ev Event
	}{
		{server, Event{Time: t1, Actor: "server", Action: FederationEstablished, Target: "b.test", Detail: "outbound, certificate"}},
		{cli, Event{Time: t1.Add(time.Hour), Actor: "cli:root", Action: AccountCreated, Target: "alice@a.test"}},
		{server, Event{Time: t1.Add(2 * time.Hour), Actor: "server", Action: AuthFailures, Target: "192.0.2.7", Detail: "12 failed logins"}},
	}
	for _, e := range events {
		if err := e.l.Record(e.ev); err != nil {
			t.Fatal(err)
		}
	}
	cli.Close()
	var got []Entry
	if err := Read(dir, t1.Add(30*time.Minute), func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != AccountCreated || got[0].Seq != 2 || got[1].Target != "192.0.2.7" || got[1].Seq != 3 {
		t.Fatalf("read %+v", got)
	}
	if s, err := Verify(dir); err != nil || s.Records != 3 {
		t.Fatalf("Verify = %+v, %v", s, err)
	}
	var none []Entry
	if err := Read(t.TempDir()+"/missing", time.Time{}, func(e Entry) error { none = append(none, e); return nil }); err != nil || len(none) != 0 {
		t.Fatalf("a log never written: %v, %v", none, err)
	}
}
