package muc

import (
	"fmt"
	"testing"
	"time"

	"parley/stanza"
)

func TestRoomHistoryRing(t *testing.T) {
	var h history
	h.setLimit(3)
	t0 := time.Now()
	for i := 1; i <= 5; i++ {
		h.add(historyEntry{msg: stanza.New("", "message", "id", fmt.Sprint(i)), stamp: t0})
	}
	ids := func() string {
		var out []string
		for _, e := range h.entries() {
			out = append(out, e.msg.ID())
		}
		return fmt.Sprint(out)
	}
	if got := ids(); got != "[3 4 5]" {
		t.Fatalf("after 5 adds to a ring of 3: %s", got)
	}
	h.setLimit(2)
	if got := ids(); got != "[4 5]" {
		t.Fatalf("after shrinking to 2: %s", got)
	}
	h.setLimit(4)
	h.add(historyEntry{msg: stanza.New("", "message", "id", "6"), stamp: t0})
	if got := ids(); got != "[4 5 6]" {
		t.Fatalf("after growing to 4 and adding: %s", got)
	}
	h.setLimit(0)
	h.add(historyEntry{msg: stanza.New("", "message", "id", "7"), stamp: t0})
	if got := ids(); got != "[]" {
		t.Fatalf("a ring of 0 holds %s", got)
	}
}

func TestRoomHistoryPick(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var entries []historyEntry
	for i := 1; i <= 5; i++ {
		// Message i was sent (6-i) minutes ago and is 100 bytes long.
		entries = append(entries, historyEntry{
			msg:   stanza.New("", "message", "id", fmt.Sprint(i)),
			stamp: now.Add(-time.Duration(6-i) * time.Minute),
			size:  100,
		})
	}
	cases := []struct {
		name string
		x    string // the join's <x/>, "" for none
		want string
	}{
		{"no x", "", "[1 2 3 4 5]"},
		{"no history element", "<x xmlns='" + NS + "'/>", "[1 2 3 4 5]"},
		{"maxstanzas", "<x xmlns='" + NS + "'><history maxstanzas='2'/></x>", "[4 5]"},
		{"maxstanzas above the count", "<x xmlns='" + NS + "'><history maxstanzas='50'/></x>", "[1 2 3 4 5]"},
		{"maxstanzas zero", "<x xmlns='" + NS + "'><history maxstanzas='0'/></x>", "[]"},
		{"maxchars", "<x xmlns='" + NS + "'><history maxchars='250'/></x>", "[4 5]"},
		{"maxchars exact", "<x xmlns='" + NS + "'><history maxchars='300'/></x>", "[3 4 5]"},
		{"maxchars zero", "<x xmlns='" + NS + "'><history maxchars='0'/></x>", "[]"},
		{"seconds", "<x xmlns='" + NS + "'><history seconds='150'/></x>", "[4 5]"},
		{"seconds inclusive", "<x xmlns='" + NS + "'><history seconds='120'/></x>", "[4 5]"},
		{"since", "<x xmlns='" + NS + "'><history since='2026-03-01T11:57:00Z'/></x>", "[3 4 5]"},
		{"since with fraction and zone", "<x xmlns='" + NS + "'><history since='2026-03-01T12:57:30.5+01:00'/></x>", "[4 5]"},
		{"the strictest limit wins", "<x xmlns='" + NS + "'><history maxstanzas='3' maxchars='150' seconds='600'/></x>", "[5]"},
		{"unparsable limits are ignored", "<x xmlns='" + NS + "'><history maxstanzas='lots' since='yesterday' seconds='-1'/></x>", "[1 2 3 4 5]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var x *stanza.Element
			if c.x != "" {
				var err error
				if x, err = stanza.Parse(c.x); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, e := range parseHistoryRequest(x).pick(entries, now) {
				got = append(got, e.msg.ID())
			}
			if fmt.Sprint(got) != c.want && !(len(got) == 0 && c.want == "[]") {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestRoomHistoryEntrySize(t *testing.T) {
	msg := stanza.New("", "message", "from", "r@s/n", "type", "groupchat").Append(stanza.New("", "body").AppendText("hi"))
	e := newHistoryEntry(msg, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "r@s")
	replayed := delayed(e, "r@s").String()
	if e.size != len(replayed) {
		t.Fatalf("size %d, replayed stanza %d bytes: %s", e.size, len(replayed), replayed)
	}
	if len(msg.Children) != 1 {
		t.Fatalf("delaying changed the stored message: %s", msg)
	}
}
