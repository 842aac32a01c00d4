package roster_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/roster"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/storage/sqlite"
)

// world is the roster module on a real router and SQLite store, with
// recording sessions instead of network streams: every step runs
// synchronously, so the order of what a session receives is exact.
type world struct {
	tb    testing.TB
	ctx   context.Context
	r     *router.Router
	store *sqlite.Store
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "parley.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	r := router.New([]string{"parley.test"}, store, zerolog.Nop())
	roster.Register(r, store, zerolog.Nop())
	return &world{tb: tb, ctx: ctx, r: r, store: store}
}

func (w *world) account(local string) {
	w.tb.Helper()
	if err := w.store.CreateAccount(w.ctx, bareOf(local), nil); err != nil {
		w.tb.Fatal(err)
	}
}

func (w *world) bind(local, resource string) (*router.Resource, *testutil.RecordingSession) {
	w.tb.Helper()
	s := &testutil.RecordingSession{}
	return w.r.Bind(w.ctx, jid.MustParse(bareOf(local)+"/"+resource), s), s
}

// send routes raw XML from res as c2s would: parsed, with from stamped.
func (w *world) send(res *router.Resource, raw string) {
	w.tb.Helper()
	el, err := stanza.Parse(raw)
	if err != nil {
		w.tb.Fatal(err)
	}
	el.SetAttr("from", res.JID.String())
	w.r.Route(w.ctx, res, el)
}

// TestResourceAvailableHook checks that initial presence runs the
// router's available hooks once, after the presence was broadcast, the
// other resources' presence shown and pending requests re-delivered, and
// that later presence does not run them again.
func TestResourceAvailableHook(t *testing.T) {
	w := newWorld(t)
	w.account("alice")
	w.account("bob")
	calls := 0
	w.r.OnAvailable(func(ctx context.Context, res *router.Resource) {
		calls++
		if !res.Available() {
			t.Error("hook ran before the resource was available")
		}
		w.r.Send(w.ctx, res, stanza.New("", "message", "id", "hook"))
	})

	bob, _ := w.bind("bob", "r")
	w.send(bob, "<presence to='alice@parley.test' type='subscribe'/>")
	other, _ := w.bind("alice", "other")
	w.send(other, "<presence/>")
	calls = 0

	alice, s := w.bind("alice", "r")
	s.Sent()
	w.send(alice, "<presence/>")
	got := s.Sent()
	var order []string
	for _, el := range got {
		order = append(order, el.Local+"/"+el.Type()+"/"+el.From())
	}
	want := []string{
		"presence//alice@parley.test/r",     // own echo
		"presence//alice@parley.test/other", // the other resource
		"presence/subscribe/bob@parley.test",
		"message//",
	}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("received %v, want %v", order, want)
	}
	if calls != 1 {
		t.Fatalf("hook ran %d times, want 1", calls)
	}
	w.send(alice, "<presence><show>away</show></presence>")
	w.send(alice, "<presence type='unavailable'/>")
	if calls != 1 {
		t.Fatalf("hook ran again for non-initial presence: %d calls", calls)
	}
	w.send(alice, "<presence/>")
	if calls != 2 {
		t.Fatalf("available after unavailable is initial again: %d calls", calls)
	}
}

// BenchmarkRosterGet measures answering a roster get for 100 items.
func BenchmarkRosterGet(b *testing.B) {
	w := newWorld(b)
	w.account("alice")
	for i := range 100 {
		it := storage.RosterItem{JID: fmt.Sprintf("contact%d@example.net", i), Name: fmt.Sprintf("Contact %d", i), Subscription: "both", Groups: []string{"Friends", "Work"}}
		if _, err := w.store.PutRosterItem(w.ctx, bareOf("alice"), it); err != nil {
			b.Fatal(err)
		}
	}
	res, s := w.bind("alice", "r")
	iq := "<iq type='get' id='g'><query xmlns='jabber:iq:roster'/></iq>"
	w.send(res, iq)
	if got := s.Sent(); len(got) != 1 || len(rosterItems(b, got[0])) != 100 {
		b.Fatalf("roster get answered %v", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.send(res, iq)
		s.Sent()
	}
}

// counter is a session that only counts what it is sent.
type counter struct{ n atomic.Int64 }

func (c *counter) Send(*stanza.Element) bool { c.n.Add(1); return true }
func (c *counter) Close(string, string)      {}

// BenchmarkPresenceBroadcast measures broadcasting one presence change
// to 50 available subscribers.
func BenchmarkPresenceBroadcast(b *testing.B) {
	const contacts = 50
	w := newWorld(b)
	w.account("alice")
	var sessions []*counter
	for i := range contacts {
		local := fmt.Sprintf("contact%d", i)
		w.account(local)
		if _, err := w.store.PutRosterItem(w.ctx, bareOf("alice"), storage.RosterItem{JID: bareOf(local), Subscription: "both"}); err != nil {
			b.Fatal(err)
		}
		if _, err := w.store.PutRosterItem(w.ctx, bareOf(local), storage.RosterItem{JID: bareOf("alice"), Subscription: "both"}); err != nil {
			b.Fatal(err)
		}
		s := &counter{}
		res := w.r.Bind(w.ctx, jid.MustParse(bareOf(local)+"/r"), s)
		res.SetPresence(stanza.New("", "presence", "from", res.JID.String()))
		sessions = append(sessions, s)
	}
	alice, _ := w.bind("alice", "r")
	w.send(alice, "<presence/>")
	b.ReportAllocs()
	b.ResetTimer()
	n := int64(0)
	for b.Loop() {
		w.send(alice, "<presence><show>away</show><status>busy</status></presence>")
		n++
	}
	b.StopTimer()
	for _, s := range sessions {
		if got := s.n.Load(); got != n+1 {
			b.Fatalf("a contact got %d presences, want %d", got, n+1)
		}
	}
}

// itemCounter counts single roster item reads.
type itemCounter struct {
	*sqlite.Store
	items atomic.Int32
}

func (c *itemCounter) RosterItem(ctx context.Context, user, contact string) (storage.RosterItem, error) {
	c.items.Add(1)
	return c.Store.RosterItem(ctx, user, contact)
}

// TestLocalProbeOfUnavailableUserSkipsStorage: a probe from a local user
// to one with no available resource has nothing to answer, and must not
// read the contact's roster.
func TestLocalProbeOfUnavailableUserSkipsStorage(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counter := &itemCounter{Store: store}
	r := router.New([]string{"parley.test"}, store, zerolog.Nop())
	roster.Register(r, counter, zerolog.Nop())
	w := &world{tb: t, ctx: ctx, r: r, store: store}
	w.account("alice")
	w.account("bob")
	store.PutRosterItem(ctx, bareOf("alice"), storage.RosterItem{JID: bareOf("bob"), Subscription: "both"})
	store.PutRosterItem(ctx, bareOf("bob"), storage.RosterItem{JID: bareOf("alice"), Subscription: "both"})
	w.bind("bob", "idle") // connected, never available
	alice, _ := w.bind("alice", "desk")
	w.send(alice, "<presence/>")
	if n := counter.items.Load(); n != 0 {
		t.Fatalf("%d roster item reads for a probe nobody can answer", n)
	}
}

// TestRemoteProbeOfOfflineUser: a subscribed remote prober is told that a
// user with no available resource is unavailable, from the bare JID
// (RFC 6121 §4.3.2); once the user is available it gets his presence.
func TestRemoteProbeOfOfflineUser(t *testing.T) {
	w := newWorld(t)
	w.account("alice")
	var remote []*stanza.Element
	w.r.SetRemote(func(_ context.Context, el *stanza.Element) { remote = append(remote, el) })
	const carol = "carol@remote.example"
	if _, err := w.store.PutRosterItem(w.ctx, bareOf("alice"), storage.RosterItem{JID: carol, Subscription: "from"}); err != nil {
		t.Fatal(err)
	}
	probe := func() {
		p := stanza.New("", "presence", "type", "probe", "from", carol, "to", bareOf("alice"))
		w.r.Deliver(w.ctx, p)
	}

	probe()
	if len(remote) != 1 || remote[0].Type() != "unavailable" || remote[0].From() != bareOf("alice") || remote[0].To() != carol {
		t.Fatalf("answer to a probe of an offline user: %v", remote)
	}

	alice, _ := w.bind("alice", "desk")
	w.send(alice, "<presence><status>here</status></presence>")
	remote = nil
	probe()
	if len(remote) != 1 || remote[0].Type() != "" || remote[0].From() != alice.JID.String() || remote[0].ChildText("", "status") != "here" {
		t.Fatalf("answer to a probe of an available user: %v", remote)
	}
}
