package router

import (
	"context"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/stanza"
)

type fakeSession struct {
	mu     sync.Mutex
	got    []*stanza.Element
	closed string
}

func (f *fakeSession) Send(el *stanza.Element) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, el)
	return true
}

func (f *fakeSession) Close(cond, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = cond
}

func (f *fakeSession) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

type accounts map[string]bool

func (a accounts) AccountExists(_ context.Context, user string) (bool, error) { return a[user], nil }

func newTestRouter() *Router {
	return New([]string{"example.test"}, accounts{"alice@example.test": true, "bob@example.test": true}, zerolog.Nop())
}

func bind(t *testing.T, r *Router, full string, presence string) (*Resource, *fakeSession) {
	t.Helper()
	s := &fakeSession{}
	res := r.Bind(context.Background(), jid.MustParse(full), s)
	if presence != "" {
		p, err := stanza.Parse(presence)
		if err != nil {
			t.Fatal(err)
		}
		res.SetPresence(p)
	}
	return res, s
}

func msg(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stanza.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func TestMessageDeliveryRules(t *testing.T) {
	cases := []struct {
		name      string
		to, typ   string
		wantA     int // to alice/a (priority 5)
		wantB     int // to alice/b (priority 5)
		wantC     int // to alice/c (priority 1)
		wantN     int // to alice/n (priority -1)
		wantError bool
	}{
		{"chat to bare: highest priority resources", "alice@example.test", "chat", 1, 1, 0, 0, false},
		{"normal to bare", "alice@example.test", "", 1, 1, 0, 0, false},
		{"headline to bare: all non-negative", "alice@example.test", "headline", 1, 1, 1, 0, false},
		{"chat to full", "alice@example.test/c", "chat", 0, 0, 1, 0, false},
		{"chat to negative-priority full JID still delivered", "alice@example.test/n", "chat", 0, 0, 0, 1, false},
		{"chat to unknown full falls back to bare", "alice@example.test/gone", "chat", 1, 1, 0, 0, false},
		{"groupchat to unknown full bounces", "alice@example.test/gone", "groupchat", 0, 0, 0, 0, true},
		{"groupchat to bare bounces", "alice@example.test", "groupchat", 0, 0, 0, 0, true},
		{"error to unknown full is dropped", "alice@example.test/gone", "error", 0, 0, 0, 0, false},
		{"error to bare is dropped", "alice@example.test", "error", 0, 0, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newTestRouter()
			_, a := bind(t, r, "alice@example.test/a", "<presence><priority>5</priority></presence>")
			_, b := bind(t, r, "alice@example.test/b", "<presence><priority>5</priority></presence>")
			_, cc := bind(t, r, "alice@example.test/c", "<presence><priority>1</priority></presence>")
			_, n := bind(t, r, "alice@example.test/n", "<presence><priority>-1</priority></presence>")
			bobRes, bob := bind(t, r, "bob@example.test/x", "<presence/>")
			m := msg(t, "<message from='bob@example.test/x' to='"+c.to+"' id='1'><body>hi</body></message>")
			if c.typ != "" {
				m.SetAttr("type", c.typ)
			}
			r.Route(context.Background(), bobRes, m)
			for _, chk := range []struct {
				name string
				s    *fakeSession
				want int
			}{{"a", a, c.wantA}, {"b", b, c.wantB}, {"c", cc, c.wantC}, {"n", n, c.wantN}} {
				if got := chk.s.count(); got != chk.want {
					t.Errorf("resource %s got %d messages, want %d", chk.name, got, chk.want)
				}
			}
			gotErr := bob.count() == 1 && bob.got[0].Type() == "error"
			if gotErr != c.wantError {
				t.Errorf("sender error = %v, want %v (%d stanzas)", gotErr, c.wantError, bob.count())
			}
		})
	}
}

func TestUndeliverableForUnavailableUser(t *testing.T) {
	r := newTestRouter()
	var stored []string
	r.Hook(Undeliverable, 0, func(_ context.Context, ev *Event) Verdict {
		stored = append(stored, ev.To.String()+":"+ev.Stanza.Type())
		return Handled
	})
	bobRes, bob := bind(t, r, "bob@example.test/x", "<presence/>")
	_, connected := bind(t, r, "alice@example.test/idle", "") // bound, never available
	for _, typ := range []string{"chat", "normal", "headline", "error"} {
		r.Route(context.Background(), bobRes, msg(t, "<message from='bob@example.test/x' to='alice@example.test' type='"+typ+"'><body>x</body></message>"))
	}
	if len(stored) != 2 || stored[0] != "alice@example.test:chat" || stored[1] != "alice@example.test:normal" {
		t.Fatalf("stored %v, want chat and normal only", stored)
	}
	if connected.count() != 0 || bob.count() != 0 {
		t.Fatalf("unexpected deliveries: resource %d, sender %d", connected.count(), bob.count())
	}
}

func TestBindConflictUnbindsOld(t *testing.T) {
	r := newTestRouter()
	var unbound []*Resource
	r.OnUnbind(func(_ context.Context, res *Resource) { unbound = append(unbound, res) })
	old, oldS := bind(t, r, "alice@example.test/r", "<presence/>")
	fresh, _ := bind(t, r, "alice@example.test/r", "")
	if oldS.closed != "conflict" {
		t.Fatalf("old session closed with %q", oldS.closed)
	}
	if len(unbound) != 1 || unbound[0] != old {
		t.Fatalf("unbind hooks ran for %v", unbound)
	}
	r.Unbind(context.Background(), old) // the old stream ends later: no effect
	if len(unbound) != 1 || r.Lookup(fresh.JID) != fresh {
		t.Fatal("late unbind of the replaced resource removed the new one")
	}
	r.Unbind(context.Background(), fresh)
	if r.Online() != 0 || len(unbound) != 2 {
		t.Fatalf("online %d, unbound %d", r.Online(), len(unbound))
	}
}

func TestIQDispatch(t *testing.T) {
	r := newTestRouter()
	var seen *IQ
	r.HandleIQ(TargetServer, "urn:test", func(_ context.Context, iq *IQ) (*stanza.Element, error) {
		seen = iq
		return stanza.New("urn:test", "answer"), nil
	})
	r.HandleIQ(TargetAccount, "urn:test", func(_ context.Context, iq *IQ) (*stanza.Element, error) {
		seen = iq
		return nil, stanza.Err("forbidden")
	})
	res, s := bind(t, r, "alice@example.test/r", "")
	r.Route(context.Background(), res, msg(t, "<iq from='alice@example.test/r' to='example.test' type='get' id='1'><q xmlns='urn:test'/></iq>"))
	if seen == nil || seen.To.String() != "example.test" || s.count() != 1 || s.got[0].Type() != "result" || s.got[0].Child("urn:test", "answer") == nil {
		t.Fatalf("server iq: %+v, replies %v", seen, s.got)
	}
	seen = nil
	r.Route(context.Background(), res, msg(t, "<iq from='alice@example.test/r' type='set' id='2'><q xmlns='urn:test'/></iq>"))
	if seen == nil || !seen.Own() || s.count() != 2 || s.got[1].Type() != "error" || s.got[1].From() != "" {
		t.Fatalf("account iq without to: %+v, replies %v", seen, s.got)
	}
	r.Route(context.Background(), res, msg(t, "<iq from='alice@example.test/r' to='example.test' type='result' id='3'/>"))
	if s.count() != 2 {
		t.Fatalf("an iq result to the server was answered: %v", s.got[2])
	}
}

func TestParsePriority(t *testing.T) {
	for in, want := range map[string]int{"": 0, "5": 5, "-1": -1, "+3": 3, "200": 127, "-500": -128, "x": 0, "-": 0} {
		p := stanza.New("", "presence")
		if in != "" {
			p.Append(stanza.New("", "priority").AppendText(in))
		}
		if got := ParsePriority(p); got != want {
			t.Errorf("priority %q = %d, want %d", in, got, want)
		}
	}
}

func BenchmarkRouteChat(b *testing.B) {
	r := newTestRouter()
	s := &fakeSession{}
	alice := r.Bind(context.Background(), jid.MustParse("alice@example.test/a"), s)
	p, _ := stanza.Parse("<presence/>")
	alice.SetPresence(p)
	bobS := &fakeSession{}
	bob := r.Bind(context.Background(), jid.MustParse("bob@example.test/b"), bobS)
	bob.SetPresence(p)
	m, _ := stanza.Parse("<message from='alice@example.test/a' to='bob@example.test/b' type='chat'><body>hi</body></message>")
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Route(ctx, alice, m)
		if i%1024 == 0 {
			bobS.mu.Lock()
			bobS.got = bobS.got[:0]
			bobS.mu.Unlock()
		}
	}
}

func TestJIDCache(t *testing.T) {
	c := newJIDCache(2)
	for _, s := range []string{"Alice@Example.Test/r", "alice@example.test/r", "bob@example.test", "carol@example.test"} {
		j, err := c.parse(s)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := jid.Parse(s)
		if !j.Equal(want) || j.String() != want.String() {
			t.Fatalf("%s: cached %s, want %s", s, j, want)
		}
	}
	if len(c.m) > 2 {
		t.Fatalf("cache grew to %d entries, limit 2", len(c.m))
	}
	if _, err := c.parse("a@b@c"); err == nil {
		t.Fatal("invalid JID accepted")
	}
	if _, ok := c.m["a@b@c"]; ok {
		t.Fatal("invalid JID cached")
	}
}

type countingAccounts struct {
	accounts
	calls int
}

func (c *countingAccounts) AccountExists(ctx context.Context, user string) (bool, error) {
	c.calls++
	return c.accounts.AccountExists(ctx, user)
}

// TestAvailabilityToOfflineUserSkipsStorage: broadcast presence to a
// contact with no session is dropped without a storage lookup, while a
// subscription request still checks the account.
func TestAvailabilityToOfflineUserSkipsStorage(t *testing.T) {
	acc := &countingAccounts{accounts: accounts{"alice@example.test": true, "bob@example.test": true}}
	r := New([]string{"example.test"}, acc, zerolog.Nop())
	var inbound []string
	r.SetPresenceHandler(presenceRecorder{in: &inbound})
	ctx := context.Background()
	bob := jid.MustParse("bob@example.test")
	for _, typ := range []string{"", "unavailable"} {
		p := stanza.New("", "presence", "from", "alice@example.test/a", "to", "bob@example.test")
		p.SetAttr("type", typ)
		r.DeliverPresence(ctx, bob, p)
	}
	if acc.calls != 0 || len(inbound) != 0 {
		t.Fatalf("storage asked %d times, %d presences handled", acc.calls, len(inbound))
	}
	r.DeliverPresence(ctx, bob, stanza.New("", "presence", "from", "alice@example.test", "to", "bob@example.test", "type", "probe"))
	if acc.calls != 0 || len(inbound) != 0 {
		t.Fatalf("local probe: storage asked %d times, %d presences handled", acc.calls, len(inbound))
	}
	r.DeliverPresence(ctx, bob, stanza.New("", "presence", "from", "carol@remote.example", "to", "bob@example.test", "type", "probe"))
	if acc.calls != 1 || len(inbound) != 1 {
		t.Fatalf("remote probe: storage asked %d times, %d presences handled", acc.calls, len(inbound))
	}
	r.DeliverPresence(ctx, bob, stanza.New("", "presence", "from", "alice@example.test", "to", "bob@example.test", "type", "subscribe"))
	if acc.calls != 2 || len(inbound) != 2 {
		t.Fatalf("subscribe: storage asked %d times, %d presences handled", acc.calls, len(inbound))
	}
}

type presenceRecorder struct{ in *[]string }

func (p presenceRecorder) OutboundPresence(context.Context, *Resource, *stanza.Element) {}
func (p presenceRecorder) InboundPresence(_ context.Context, to jid.JID, el *stanza.Element) {
	*p.in = append(*p.in, to.String()+":"+el.Type())
}

// TestProbeToNoSuchUser: a remote probe to an account that does not exist
// is answered with unsubscribed from the bare JID (RFC 6121 §4.3.2);
// other presence to it is dropped without an answer (§8.5.1).
func TestProbeToNoSuchUser(t *testing.T) {
	r := newTestRouter()
	var remote []*stanza.Element
	r.SetRemote(func(_ context.Context, el *stanza.Element) { remote = append(remote, el) })
	var inbound []string
	r.SetPresenceHandler(presenceRecorder{in: &inbound})
	ctx := context.Background()
	ghost := jid.MustParse("ghost@example.test")
	for _, typ := range []string{"", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "error"} {
		p := stanza.New("", "presence", "from", "carol@remote.example/c", "to", "ghost@example.test")
		p.SetAttr("type", typ)
		r.DeliverPresence(ctx, ghost, p)
	}
	if len(remote) != 0 || len(inbound) != 0 {
		t.Fatalf("presence to no such user: %d answers, %d handled", len(remote), len(inbound))
	}
	r.DeliverPresence(ctx, ghost, stanza.New("", "presence", "from", "carol@remote.example", "to", "ghost@example.test/x", "type", "probe"))
	if len(remote) != 1 || len(inbound) != 0 {
		t.Fatalf("probe to no such user: %d answers, %d handled", len(remote), len(inbound))
	}
	if a := remote[0]; a.Type() != "unsubscribed" || a.From() != "ghost@example.test" || a.To() != "carol@remote.example" {
		t.Fatalf("answer %s", a)
	}
}

func TestResourceValues(t *testing.T) {
	r := newTestRouter()
	res, _ := bind(t, r, "alice@example.test/a", "")
	type key struct{}
	if res.Value(key{}) != nil {
		t.Fatal("value before any was set")
	}
	res.SetValue(key{}, true)
	if res.Value(key{}) != true {
		t.Fatal("value not kept")
	}
	res.SetValue(key{}, nil)
	if res.Value(key{}) != nil {
		t.Fatal("value not removed")
	}
}
