package router

import (
	"context"
	"fmt"
	"testing"

	"parley/stanza"
)

// recorder registers a hook at every point that notes what it saw as
// "point:name" and returns the verdict set for that point.
type recorder struct {
	seen     []string
	verdicts map[Point]Verdict
}

func (rec *recorder) hookAll(r *Router, name string, priority int) {
	for p := Point(0); p < numPoints; p++ {
		r.Hook(p, priority, func(_ context.Context, ev *Event) Verdict {
			if ev.Point != p {
				panic(fmt.Sprintf("hook of %s ran for %s", p, ev.Point))
			}
			entry := p.String() + ":" + name
			if ev.Resource != nil {
				entry += ":" + ev.Resource.JID.Resourcepart()
			}
			if p == Chosen {
				entry += fmt.Sprintf(":%d", len(ev.Targets))
			}
			rec.seen = append(rec.seen, entry)
			if name == "first" {
				return rec.verdicts[p]
			}
			return Continue
		})
	}
}

func TestHookPointsAndOrder(t *testing.T) {
	cases := []struct {
		name     string
		verdicts map[Point]Verdict
		to       string
		want     []string
		delivers int // messages alice's resource receives
		bounced  bool
	}{
		{
			name: "delivered to the bare JID",
			to:   "alice@example.test",
			want: []string{"from-session:first", "from-session:second", "to-account:first", "to-account:second",
				"chosen:first:1", "chosen:second:1", "deliver:first:a", "deliver:second:a"},
			delivers: 1,
		},
		{
			name:     "dropped from the session",
			verdicts: map[Point]Verdict{FromSession: Drop},
			to:       "alice@example.test",
			want:     []string{"from-session:first"},
		},
		{
			name:     "handled before a resource is chosen",
			verdicts: map[Point]Verdict{ToAccount: Handled},
			to:       "alice@example.test",
			want:     []string{"from-session:first", "from-session:second", "to-account:first"},
		},
		{
			name:     "kept from one delivery",
			verdicts: map[Point]Verdict{Deliver: Drop},
			to:       "alice@example.test/a",
			want: []string{"from-session:first", "from-session:second", "to-account:first", "to-account:second",
				"chosen:first:1", "chosen:second:1", "deliver:first:a"},
		},
		{
			name: "undeliverable and bounced",
			to:   "bob@example.test",
			want: []string{"from-session:first", "from-session:second", "to-account:first", "to-account:second",
				"chosen:first:0", "chosen:second:0", "undeliverable:first", "undeliverable:second",
				// the bounce, an error to the sender's full JID
				"to-account:first", "to-account:second", "chosen:first:1", "chosen:second:1",
				"deliver:first:x", "deliver:second:x"},
			bounced: true,
		},
		{
			name:     "undeliverable and handled",
			verdicts: map[Point]Verdict{Undeliverable: Handled},
			to:       "bob@example.test",
			want: []string{"from-session:first", "from-session:second", "to-account:first", "to-account:second",
				"chosen:first:0", "chosen:second:0", "undeliverable:first"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newTestRouter()
			rec := &recorder{verdicts: c.verdicts}
			// Registered out of order: priority decides.
			rec.hookAll(r, "second", 1)
			rec.hookAll(r, "first", 10)
			_, alice := bind(t, r, "alice@example.test/a", "<presence/>")
			// The sender is bound but not available: its errors arrive,
			// messages to its bare JID find no target.
			senderRes, sender := bind(t, r, "bob@example.test/x", "")
			r.Route(context.Background(), senderRes, msg(t, "<message from='bob@example.test/x' to='"+c.to+"' type='chat'><body>hi</body></message>"))
			if fmt.Sprint(rec.seen) != fmt.Sprint(c.want) {
				t.Errorf("hooks saw\n%v\nwant\n%v", rec.seen, c.want)
			}
			if alice.count() != c.delivers {
				t.Errorf("alice received %d stanzas, want %d", alice.count(), c.delivers)
			}
			if got := sender.count() == 1 && sender.got[0].Type() == "error"; got != c.bounced {
				t.Errorf("bounced = %v, want %v (%d stanzas to the sender)", got, c.bounced, sender.count())
			}
		})
	}
}

func TestHookMayChangeStanza(t *testing.T) {
	r := newTestRouter()
	r.Hook(ToAccount, 0, func(_ context.Context, ev *Event) Verdict {
		ev.Stanza.Append(stanza.New("urn:xmpp:sid:0", "stanza-id", "id", "s1", "by", ev.To.Bare().String()))
		return Continue
	})
	_, alice := bind(t, r, "alice@example.test/a", "<presence/>")
	r.Deliver(context.Background(), msg(t, "<message from='carol@remote.test/x' to='alice@example.test' type='chat'><body>hi</body></message>"))
	if alice.count() != 1 || alice.got[0].Child("urn:xmpp:sid:0", "stanza-id") == nil {
		t.Fatalf("alice got %v", alice.got)
	}
}

func TestRemoteAndPresenceHooks(t *testing.T) {
	r := newTestRouter()
	var seen []string
	for _, p := range []Point{ToRemote, FromRemote, PresenceObserved} {
		r.Hook(p, 0, func(_ context.Context, ev *Event) Verdict {
			seen = append(seen, p.String()+":"+ev.Stanza.Kind()+":"+ev.To.String())
			if p == FromRemote && ev.Stanza.ID() == "blocked" {
				return Drop
			}
			return Continue
		})
	}
	var remote []*stanza.Element
	r.SetRemote(func(_ context.Context, el *stanza.Element) { remote = append(remote, el) })
	aliceRes, alice := bind(t, r, "alice@example.test/a", "<presence/>")
	r.Route(context.Background(), aliceRes, msg(t, "<message from='alice@example.test/a' to='carol@remote.test' type='chat'><body>out</body></message>"))
	r.Inbound(context.Background(), msg(t, "<message from='carol@remote.test/x' to='alice@example.test/a' type='chat' id='ok'><body>in</body></message>"))
	r.Inbound(context.Background(), msg(t, "<message from='carol@remote.test/x' to='alice@example.test/a' type='chat' id='blocked'><body>in</body></message>"))
	r.Route(context.Background(), aliceRes, msg(t, "<presence from='alice@example.test/a'/>"))
	want := []string{"to-remote:message:carol@remote.test", "from-remote:message:alice@example.test/a", "from-remote:message:alice@example.test/a", "presence-observed:presence:"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("hooks saw\n%v\nwant\n%v", seen, want)
	}
	if len(remote) != 1 || alice.count() != 1 || alice.got[0].ID() != "ok" {
		t.Errorf("remote got %d, alice got %v", len(remote), alice.got)
	}
}

func TestHooksPassNotes(t *testing.T) {
	r := newTestRouter()
	type key struct{}
	var seen any
	r.Hook(FromSession, 10, func(_ context.Context, ev *Event) Verdict { ev.Note(key{}, "id-1"); return Continue })
	r.Hook(FromSession, 5, func(_ context.Context, ev *Event) Verdict { seen = ev.Noted(key{}); return Continue })
	res, _ := bind(t, r, "alice@example.test/a", "<presence/>")
	r.Route(context.Background(), res, msg(t, "<message from='alice@example.test/a' to='bob@example.test' type='chat'><body>x</body></message>"))
	if seen != "id-1" {
		t.Fatalf("the later hook saw %v", seen)
	}
}
