package offline_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/modules/offline"
	"parley/router"
	"parley/stanza"
	"parley/storage/sqlite"
)

const alice = "alice@example.test"

// rig is a router with the offline module and no network: resources are
// bound to recording sessions and made available by the test itself, as
// the presence module would.
type rig struct {
	t     *testing.T
	ctx   context.Context
	r     *router.Router
	store *sqlite.Store
	m     *offline.Module
}

func newRig(t *testing.T, cfg offline.Config) *rig {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.CreateAccount(ctx, alice, nil); err != nil {
		t.Fatal(err)
	}
	r := router.New([]string{"example.test"}, store, zerolog.Nop())
	return &rig{t: t, ctx: ctx, r: r, store: store, m: offline.Register(r, store, zerolog.Nop(), cfg)}
}

func (g *rig) count() int {
	g.t.Helper()
	n, err := g.store.CountOffline(g.ctx, alice)
	if err != nil {
		g.t.Fatal(err)
	}
	return n
}

// bind binds a resource of alice; with a priority it also becomes
// available and runs the available hooks.
func (g *rig) bind(resource string, priority *int) (*router.Resource, *testutil.RecordingSession) {
	sess := &testutil.RecordingSession{}
	res := g.r.Bind(g.ctx, jid.MustParse(alice+"/"+resource), sess)
	if priority != nil {
		g.available(res, *priority)
	}
	return res, sess
}

func (g *rig) available(res *router.Resource, priority int) {
	p := stanza.New("", "presence").Append(stanza.New("", "priority").AppendText(strconv.Itoa(priority)))
	if res.SetPresence(p) {
		g.r.ResourceAvailable(g.ctx, res)
	}
}

func msg(raw string) *stanza.Element {
	el, err := stanza.Parse(raw)
	if err != nil {
		panic(err)
	}
	return el
}

func prio(n int) *int { return &n }

func TestStoreDecision(t *testing.T) {
	cases := []struct {
		name   string
		msg    string
		ok     bool // what the handler reports
		stored bool
	}{
		{"chat", "<message type='chat'><body>hi</body></message>", true, true},
		{"normal", "<message type='normal'><body>hi</body></message>", true, true},
		{"no type", "<message><body>hi</body></message>", true, true},
		{"no body but other payload", "<message type='chat'><received xmlns='urn:xmpp:receipts' id='1'/></message>", true, true},
		{"chat state and body", "<message type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", true, true},
		{"standalone chat state", "<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", true, false},
		{"standalone chat state with thread", "<message type='chat'><thread>t1</thread><paused xmlns='http://jabber.org/protocol/chatstates'/></message>", true, false},
		{"standalone chat state, store hint", "<message type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>", true, true},
		{"no-store hint", "<message type='chat'><body>hi</body><no-store xmlns='urn:xmpp:hints'/></message>", false, false},
		{"headline", "<message type='headline'><body>news</body></message>", false, false},
		{"groupchat", "<message type='groupchat'><body>hi</body></message>", false, false},
		{"error", "<message type='error'><body>hi</body></message>", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newRig(t, offline.Config{})
			if ok := g.m.Store(g.ctx, jid.MustParse(alice), msg(c.msg)); ok != c.ok {
				t.Errorf("Store reported %v, want %v", ok, c.ok)
			}
			if n := g.count(); (n == 1) != c.stored {
				t.Errorf("%d stored, want stored=%v", n, c.stored)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	g := newRig(t, offline.Config{Limit: 2})
	for i, want := range []bool{true, true, false} {
		if ok := g.m.Store(g.ctx, jid.MustParse(alice), msg("<message><body>m</body></message>")); ok != want {
			t.Fatalf("message %d: stored %v, want %v", i, ok, want)
		}
	}
	if n := g.count(); n != 2 {
		t.Fatalf("%d stored, want 2", n)
	}
}

// TestRouterBouncesWhenRefused checks the module through the router: a
// message the module refuses comes back to the sender as
// service-unavailable, a stored one does not.
func TestRouterBouncesWhenRefused(t *testing.T) {
	g := newRig(t, offline.Config{})
	if err := g.store.CreateAccount(g.ctx, "bob@example.test", nil); err != nil {
		t.Fatal(err)
	}
	sess := &testutil.RecordingSession{}
	bob := g.r.Bind(g.ctx, jid.MustParse("bob@example.test/x"), sess)
	send := func(raw string) {
		el := msg(raw)
		el.SetAttr("from", bob.JID.String())
		g.r.Route(g.ctx, bob, el)
	}
	send("<message to='" + alice + "' type='chat'><body>kept</body></message>")
	send("<message to='" + alice + "' type='chat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>")
	send("<message to='" + alice + "' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	sent := sess.Sent()
	if len(sent) != 1 || testutil.ErrorCondition(sent[0]) != "service-unavailable" || sent[0].ChildText("", "body") != "x" {
		t.Fatalf("want one service-unavailable bounce of the no-store message, got %v", sent)
	}
	if n := g.count(); n != 1 {
		t.Fatalf("%d stored, want 1", n)
	}
}

func TestDelivery(t *testing.T) {
	g := newRig(t, offline.Config{})
	before := time.Now().UTC().Truncate(time.Millisecond)
	for i := range 3 {
		g.m.Store(g.ctx, jid.MustParse(alice), msg("<message from='bob@example.test/x' to='"+alice+"' type='chat'><body>"+strconv.Itoa(i)+"</body></message>"))
	}
	after := time.Now().UTC()

	// Bound without presence, or with negative priority: nothing.
	_, idle := g.bind("idle", nil)
	_, hidden := g.bind("hidden", prio(-1))
	if got := append(idle.Sent(), hidden.Sent()...); len(got) != 0 || g.count() != 3 {
		t.Fatalf("delivered to an unavailable or negative resource: %v (%d left)", got, g.count())
	}

	// A session that refuses keeps everything stored.
	res, sess := g.bind("desk", nil)
	sess.Refuse(true)
	g.available(res, 0)
	if g.count() != 3 {
		t.Fatalf("%d left after a refused delivery, want 3", g.count())
	}

	// The first available resource gets them, in order, with a delay.
	_, phone := g.bind("phone", prio(5))
	got := phone.Sent()
	if len(got) != 3 {
		t.Fatalf("delivered %d, want 3: %v", len(got), got)
	}
	for i, el := range got {
		if el.ChildText("", "body") != strconv.Itoa(i) || el.From() != "bob@example.test/x" || el.To() != alice {
			t.Errorf("message %d: %s", i, el)
		}
		d := el.Child(stanza.NSDelay, "delay")
		if d == nil || d.Attr("from") != "example.test" || d.Text() != "Offline Storage" {
			t.Fatalf("message %d: bad delay in %s", i, el)
		}
		stamp, err := time.Parse("2006-01-02T15:04:05.000Z", d.Attr("stamp"))
		if err != nil || stamp.Before(before) || stamp.After(after) {
			t.Errorf("message %d: stamp %q not within %v..%v (%v)", i, d.Attr("stamp"), before, after, err)
		}
	}
	if g.count() != 0 {
		t.Fatalf("%d left after delivery", g.count())
	}

	// A second resource gets nothing more.
	_, tablet := g.bind("tablet", prio(5))
	if got := tablet.Sent(); len(got) != 0 {
		t.Fatalf("duplicate delivery to a second resource: %v", got)
	}

	// A message stored while a resource is available (the router checked
	// just before it became available) is handed over at once.
	g.m.Store(g.ctx, jid.MustParse(alice), msg("<message><body>late</body></message>"))
	if got := phone.Sent(); len(got) != 1 || got[0].ChildText("", "body") != "late" || g.count() != 0 {
		t.Fatalf("late message: got %v, %d left", got, g.count())
	}
}

// TestConcurrentResources makes resources available at the same time:
// every message is delivered exactly once.
func TestConcurrentResources(t *testing.T) {
	g := newRig(t, offline.Config{})
	const n = 20
	for i := range n {
		g.m.Store(g.ctx, jid.MustParse(alice), msg("<message><body>"+strconv.Itoa(i)+"</body></message>"))
	}
	var sessions []*testutil.RecordingSession
	var resources []*router.Resource
	for i := range 4 {
		res, sess := g.bind("r"+strconv.Itoa(i), nil)
		resources, sessions = append(resources, res), append(sessions, sess)
	}
	var wg sync.WaitGroup
	for _, res := range resources {
		wg.Go(func() { g.available(res, 0) })
	}
	wg.Wait()
	total := 0
	for _, s := range sessions {
		total += len(s.Sent())
	}
	if total != n || g.count() != 0 {
		t.Fatalf("delivered %d, want %d (%d left)", total, n, g.count())
	}
}
