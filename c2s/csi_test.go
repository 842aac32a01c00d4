package c2s

import (
	"fmt"
	"slices"
	"testing"

	"parley/stanza"
)

func parse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stanza.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func TestCSIBuffer(t *testing.T) {
	type step struct {
		in     string // a stanza, or "inactive" / "active"
		wantID []string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"active passes everything", []step{
			{"<presence id='p1' from='a@x/r'/>", []string{"p1"}},
			{"<message id='c1' from='a@x/r'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", []string{"c1"}},
		}},
		{"inactive holds presence and chat states, latest per sender", []step{
			{"inactive", nil},
			{"<presence id='p1' from='a@x/r'/>", nil},
			{"<presence id='p2' from='b@x/r'><show>away</show></presence>", nil},
			{"<presence id='p3' from='a@x/r'><show>dnd</show></presence>", nil},
			{"<message id='c1' from='a@x/r' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", nil},
			{"<message id='c2' from='a@x/r' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread></message>", nil},
			{"active", []string{"p2", "p3", "c2"}},
		}},
		{"a message with a body flushes first, then goes", []step{
			{"inactive", nil},
			{"<presence id='p1' from='a@x/r'/>", nil},
			{"<message id='m1' from='a@x/r' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", []string{"p1", "m1"}},
			{"<presence id='p2' from='a@x/r' type='unavailable'/>", nil},
			{"<iq id='i1' from='x' type='get'><ping xmlns='urn:xmpp:ping'/></iq>", []string{"p2", "i1"}},
		}},
		{"what needs the user is not held", []step{
			{"inactive", nil},
			{"<presence id='s1' from='a@x' type='subscribe'/>", []string{"s1"}},
			{"<message id='r1' from='a@x/r'><received xmlns='urn:xmpp:receipts' id='m'/></message>", []string{"r1"}},
			{"<message id='e1' from='a@x/r' type='error'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", []string{"e1"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b csiBuffer
			for i, st := range c.steps {
				var got []string
				send := func(el *stanza.Element) bool { got = append(got, el.ID()); return true }
				switch st.in {
				case "inactive", "active":
					b.setInactive(st.in == "inactive", send)
				default:
					b.pass(parse(t, st.in), send)
				}
				if !slices.Equal(got, st.wantID) {
					t.Fatalf("step %d (%s): sent %v, want %v", i, st.in, got, st.wantID)
				}
			}
		})
	}
}

func TestCSIBufferIsBounded(t *testing.T) {
	var b csiBuffer
	sent := 0
	send := func(*stanza.Element) bool { sent++; return true }
	b.setInactive(true, send)
	for i := range maxHeld + 1 {
		b.pass(parse(t, fmt.Sprintf("<presence from='u%d@x/r'/>", i)), send)
	}
	if sent != maxHeld+1 || len(b.held) != 0 {
		t.Fatalf("sent %d and held %d after %d senders' presence", sent, len(b.held), maxHeld+1)
	}
}
