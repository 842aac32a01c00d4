package usage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/modules/usage"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

const (
	domain    = "example.test"
	mucDomain = "muc.example.test"
	alice     = "alice@" + domain
	bob       = "bob@" + domain
)

// fakeStore keeps what AddUsage is given; it fails while fail is set.
type fakeStore struct {
	mu    sync.Mutex
	recs  []storage.UsageRecord
	taken int // records take returned already
	fail  bool
}

func (s *fakeStore) AddUsage(_ context.Context, recs []storage.UsageRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.recs = append(s.recs, recs...)
	return nil
}

func (s *fakeStore) UsageRecords(context.Context, string, time.Time, time.Time) ([]storage.UsageRecord, error) {
	return nil, errors.New("not implemented")
}

// take returns the records added since the last take, summed per user.
func (s *fakeStore) take() map[string]storage.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := sum(s.recs[s.taken:])
	s.taken = len(s.recs)
	return out
}

// all returns every record added, summed per user.
func (s *fakeStore) all() map[string]storage.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sum(s.recs)
}

func sum(recs []storage.UsageRecord) map[string]storage.UsageRecord {
	out := make(map[string]storage.UsageRecord)
	for _, r := range recs {
		sum := out[r.User]
		sum.User, sum.Day = r.User, r.Day
		sum.UsageCounts.Add(r.UsageCounts)
		if r.LastSeen.After(sum.LastSeen) {
			sum.LastSeen = r.LastSeen
		}
		out[r.User] = sum
	}
	return out
}

type accounts map[string]bool

func (a accounts) AccountExists(_ context.Context, user string) (bool, error) { return a[user], nil }

// discard is a session that takes every stanza and keeps none.
type discard struct{}

func (discard) Send(*stanza.Element) bool { return true }
func (discard) Close(string, string)      {}

// setup is a router for example.test with the usage module, a group-chat
// service and federation that take every stanza, and the accounts alice
// and bob with the given resources bound and available.
type setup struct {
	r     *router.Router
	m     *usage.Module
	store *fakeStore
	res   map[string]*router.Resource
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newSetup(t testing.TB, fulls ...string) *setup {
	t.Helper()
	s := &setup{store: &fakeStore{}, res: make(map[string]*router.Resource), clock: &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}}
	s.r = router.New([]string{domain}, accounts{alice: true, bob: true}, zerolog.Nop())
	s.r.RegisterComponent(mucDomain, func(context.Context, *stanza.Element) {})
	s.r.SetRemote(func(context.Context, *stanza.Element) {})
	s.m = usage.New(s.store, usage.Options{MUCDomain: mucDomain, Log: zerolog.Nop(), Now: s.clock.now})
	s.m.Register(s.r)
	for _, f := range fulls {
		res := s.r.Bind(context.Background(), jid.MustParse(f), discard{})
		res.SetPresence(stanza.New("", "presence"))
		s.res[f] = res
	}
	return s
}

// flush flushes the module and returns the counts stored, per user.
func (s *setup) flush(t testing.TB) map[string]storage.UsageRecord {
	t.Helper()
	if err := s.m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.store.take()
}

func parse(t testing.TB, raw string) *stanza.Element {
	t.Helper()
	el, err := stanza.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return el
}

// TestCounting sends each kind of message through a router and checks
// what is counted for whom.
func TestCounting(t *testing.T) {
	const body = "<body>hi</body>"
	type send struct {
		from string // a bound resource sends it; "" delivers it as the server; "remote" as from another server
		raw  string
	}
	cases := []struct {
		name  string
		sends []send
		want  map[string]storage.UsageCounts
	}{
		{"one to one", []send{{alice + "/desk", "<message to='" + bob + "' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {OneToOneSent: 1}, bob: {OneToOneReceived: 1}}},
		{"to a full JID", []send{{alice + "/desk", "<message to='" + bob + "/desk' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {OneToOneSent: 1}, bob: {OneToOneReceived: 1}}},
		{"to a bare JID of several resources", []send{{bob + "/desk", "<message to='" + alice + "' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{bob: {OneToOneSent: 1}, alice: {OneToOneReceived: 1}}},
		{"encrypted, no body", []send{{alice + "/desk", "<message to='" + bob + "' type='chat'><encrypted xmlns='eu.siacs.conversations.axolotl'/></message>"}},
			map[string]storage.UsageCounts{alice: {OneToOneSent: 1}, bob: {OneToOneReceived: 1}}},
		{"attachment link", []send{{alice + "/desk", "<message to='" + bob + "'><x xmlns='jabber:x:oob'><url>https://x/y</url></x></message>"}},
			map[string]storage.UsageCounts{alice: {OneToOneSent: 1}, bob: {OneToOneReceived: 1}}},
		{"chat state", []send{{alice + "/desk", "<message to='" + bob + "' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>"}}, nil},
		{"receipt and marker", []send{
			{alice + "/desk", "<message to='" + bob + "'><received xmlns='urn:xmpp:receipts' id='1'/></message>"},
			{alice + "/desk", "<message to='" + bob + "'><displayed xmlns='urn:xmpp:chat-markers:0' id='1'/></message>"}}, nil},
		{"error", []send{{alice + "/desk", "<message to='" + bob + "' type='error'>" + body + "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"}}, nil},
		{"to no account", []send{{alice + "/desk", "<message to='nobody@" + domain + "' type='chat'>" + body + "</message>"}}, nil},
		{"to the server", []send{{alice + "/desk", "<message to='" + domain + "'>" + body + "</message>"}}, nil},
		{"to a room", []send{{alice + "/desk", "<message to='room@" + mucDomain + "' type='groupchat' id='g1'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupSent: 1}}},
		{"subject of a room", []send{{alice + "/desk", "<message to='room@" + mucDomain + "' type='groupchat'><subject>news</subject></message>"}}, nil},
		{"private message through a room", []send{{alice + "/desk", "<message to='room@" + mucDomain + "/bob' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupSent: 1}}},
		{"to a remote room", []send{{alice + "/desk", "<message to='room@conference.other.example' type='groupchat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupSent: 1}}},
		{"to another server", []send{{alice + "/desk", "<message to='carol@other.example' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {FederatedSent: 1}}},
		{"chat state to another server", []send{{alice + "/desk", "<message to='carol@other.example' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>"}}, nil},
		{"from another server", []send{{"remote", "<message from='carol@other.example/x' to='" + alice + "' type='chat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {FederatedReceived: 1}}},
		{"from the room, to each resource of one account", []send{
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='groupchat' id='m1'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/phone' type='groupchat' id='m1'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/carol' to='" + bob + "/desk' type='groupchat' id='m1'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='groupchat' id='m2'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupReceived: 2}, bob: {GroupReceived: 1}}},
		{"from the room without ids", []send{
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='groupchat'>" + body + "<stanza-id xmlns='urn:xmpp:sid:0' by='room@" + mucDomain + "' id='s1'/></message>"},
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/phone' type='groupchat'>" + body + "<stanza-id xmlns='urn:xmpp:sid:0' by='room@" + mucDomain + "' id='s1'/></message>"},
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='groupchat'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupReceived: 2}}},
		{"the room's echo of one's own message", []send{
			{alice + "/desk", "<message to='room@" + mucDomain + "' type='groupchat' id='own'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/alice' to='" + alice + "/desk' type='groupchat' id='own'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/alice' to='" + alice + "/phone' type='groupchat' id='own'>" + body + "</message>"},
			{"", "<message from='room@" + mucDomain + "/alice' to='" + bob + "/desk' type='groupchat' id='own'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupSent: 1}, bob: {GroupReceived: 1}}},
		{"the room's echo of one's own message, told by its origin-id", []send{
			{alice + "/desk", "<message to='room@" + mucDomain + "' type='groupchat'>" + body + "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>"},
			{"", "<message from='room@" + mucDomain + "/alice' to='" + alice + "/desk' type='groupchat'>" + body + "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><stanza-id xmlns='urn:xmpp:sid:0' by='room@" + mucDomain + "' id='s9'/></message>"},
			{"", "<message from='room@" + mucDomain + "/alice' to='" + bob + "/desk' type='groupchat'>" + body + "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><stanza-id xmlns='urn:xmpp:sid:0' by='room@" + mucDomain + "' id='s9'/></message>"}},
			map[string]storage.UsageCounts{alice: {GroupSent: 1}, bob: {GroupReceived: 1}}},
		{"history on joining", []send{{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='groupchat' id='old'>" + body + "<delay xmlns='urn:xmpp:delay' stamp='2026-12-04T10:00:00Z' from='room@" + mucDomain + "'/></message>"}}, nil},
		{"private message from a room", []send{
			{"", "<message from='room@" + mucDomain + "/carol' to='" + alice + "/desk' type='chat' id='p1'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupReceived: 1}}},
		{"from a remote room", []send{{"remote", "<message from='room@conference.other.example/carol' to='" + alice + "/desk' type='groupchat' id='r1'>" + body + "</message>"}},
			map[string]storage.UsageCounts{alice: {GroupReceived: 1}}},
		{"server notice", []send{{"", "<message from='" + domain + "' to='" + alice + "'>" + body + "</message>"}}, nil},
		{"sent again after a session ended", []send{{"rerouted", "<message from='" + bob + "/desk' to='" + alice + "' type='chat'>" + body + "</message>"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSetup(t, alice+"/desk", alice+"/phone", bob+"/desk")
			s.flush(t) // the logins
			ctx := context.Background()
			for _, snd := range c.sends {
				el := parse(t, snd.raw)
				switch snd.from {
				case "":
					s.r.Deliver(ctx, el)
				case "remote":
					s.r.Inbound(ctx, el)
				case "rerouted":
					s.r.Deliver(router.Rerouting(ctx), el)
				default:
					el.SetAttr("from", snd.from)
					s.r.Route(ctx, s.res[snd.from], el)
				}
			}
			got := s.flush(t)
			for _, user := range []string{alice, bob} {
				if g, w := got[user].UsageCounts, c.want[user]; g != w {
					t.Errorf("%s: got %+v, want %+v", user, g, w)
				}
			}
		})
	}
}

// TestLoginsAndLastSeen counts bound resources, and keeps the latest
// time an account was online; an account that only received messages
// was not seen.
func TestLoginsAndLastSeen(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	t0 := s.clock.now()
	desk := s.r.Bind(ctx, jid.MustParse(alice+"/desk"), discard{})
	s.clock.set(t0.Add(time.Minute))
	phone := s.r.Bind(ctx, jid.MustParse(alice+"/phone"), discard{})
	s.clock.set(t0.Add(2 * time.Minute))
	s.r.Unbind(ctx, phone)
	s.r.Route(ctx, desk, parse(t, "<message from='"+alice+"/desk' to='"+bob+"' type='chat'><body>hi</body></message>"))
	s.clock.set(t0.Add(3 * time.Minute))
	got := s.flush(t)
	day := storage.Day(t0)
	// alice is still online: seen at the flush.
	if a := got[alice]; a.Logins != 2 || !a.LastSeen.Equal(t0.Add(3*time.Minute)) || !a.Day.Equal(day) {
		t.Errorf("alice: %+v; want 2 logins, seen at %v on %v", a, t0.Add(3*time.Minute), day)
	}
	if b := got[bob]; b.OneToOneReceived != 1 || !b.LastSeen.IsZero() {
		t.Errorf("bob: %+v; want one message received, never seen", b)
	}
	// Online, alice is seen again only every few minutes...
	s.clock.set(t0.Add(3*time.Minute + usage.FlushInterval))
	if got := s.flush(t); len(got) != 0 {
		t.Errorf("a flush soon after stored %+v", got)
	}
	s.clock.set(t0.Add(9 * time.Minute))
	if got := s.flush(t); !got[alice].LastSeen.Equal(t0.Add(9 * time.Minute)) {
		t.Errorf("minutes later: %+v, want alice seen at %v", got, t0.Add(9*time.Minute))
	}
	// ... and when she goes.
	s.clock.set(t0.Add(10 * time.Minute))
	s.r.Unbind(ctx, desk)
	s.clock.set(t0.Add(11 * time.Minute))
	if got := s.flush(t); !got[alice].LastSeen.Equal(t0.Add(10*time.Minute)) || got[alice].Logins != 0 {
		t.Errorf("after logging out: %+v, want alice seen at %v", got, t0.Add(10*time.Minute))
	}
	if got := s.flush(t); len(got) != 0 {
		t.Errorf("offline: stored %+v", got)
	}
}

// TestMidnight checks that counts go to the day they were made on, and
// that an account online across midnight is seen on the new day.
func TestMidnight(t *testing.T) {
	s := newSetup(t, alice+"/desk")
	ctx := context.Background()
	day1 := storage.Day(s.clock.now())
	day2 := day1.Add(24 * time.Hour)
	s.flush(t)
	s.clock.set(day2.Add(-time.Second))
	msg := "<message from='" + alice + "/desk' to='" + bob + "' type='chat'><body>hi</body></message>"
	s.r.Route(ctx, s.res[alice+"/desk"], parse(t, msg))
	s.clock.set(day2.Add(time.Millisecond)) // the flush at midnight
	got := s.flush(t)
	if a := got[alice]; !a.Day.Equal(day1) || a.OneToOneSent != 1 || !a.LastSeen.Equal(day2.Add(-time.Nanosecond)) {
		t.Errorf("at midnight: %+v; want the message on %v, seen at its end", a, day1)
	}
	s.r.Route(ctx, s.res[alice+"/desk"], parse(t, msg))
	s.clock.set(day2.Add(usage.FlushInterval))
	got = s.flush(t)
	if a := got[alice]; !a.Day.Equal(day2) || a.OneToOneSent != 1 || !a.LastSeen.Equal(day2.Add(usage.FlushInterval)) {
		t.Errorf("after midnight: %+v; want the message on %v, seen", a, day2)
	}
}

// TestFailedFlushKeepsCounts: counts that could not be stored are
// stored by the next flush.
func TestFailedFlushKeepsCounts(t *testing.T) {
	s := newSetup(t, alice+"/desk")
	s.flush(t)
	ctx := context.Background()
	for range 3 {
		s.r.Route(ctx, s.res[alice+"/desk"], parse(t, "<message from='"+alice+"/desk' to='carol@other.example'><body>hi</body></message>"))
	}
	s.m.Uploaded(alice, 1000)
	s.store.fail = true
	if err := s.m.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with a failing store")
	}
	s.store.fail = false
	s.r.Route(ctx, s.res[alice+"/desk"], parse(t, "<message from='"+alice+"/desk' to='carol@other.example'><body>hi</body></message>"))
	got := s.flush(t)
	if a := got[alice]; a.FederatedSent != 4 || a.Uploads != 1 || a.UploadBytes != 1000 {
		t.Errorf("after a failed flush: %+v, want 4 messages and the upload", a)
	}
}

// TestManyAccounts counts from many goroutines while flushes run, and
// forgets accounts gone idle: nothing is lost or counted twice.
func TestManyAccounts(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	const users, rounds = 200, 20
	var wg sync.WaitGroup
	done := make(chan struct{})
	var flushes sync.WaitGroup
	flushes.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				if err := s.m.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for g := range 4 {
		wg.Go(func() {
			for i := range rounds {
				for u := range users {
					if u%4 == g {
						s.m.Uploaded(fmt.Sprintf("u%d@%s", u, domain), int64(i))
					}
				}
			}
		})
	}
	wg.Wait()
	close(done)
	flushes.Wait()
	s.flush(t)
	s.flush(t) // the accounts retired by the one before
	total := s.store.all()
	for u := range users {
		user := fmt.Sprintf("u%d@%s", u, domain)
		if c := total[user]; c.Uploads != rounds || c.UploadBytes != rounds*(rounds-1)/2 {
			t.Fatalf("%s: %+v, want %d uploads of %d bytes", user, c, rounds, rounds*(rounds-1)/2)
		}
	}
}

// TestAccountDeleted: the counts of a deleted account are dropped.
func TestAccountDeleted(t *testing.T) {
	s := newSetup(t, alice+"/desk")
	s.flush(t)
	s.m.Uploaded(bob, 10)
	s.m.Uploaded(alice, 10)
	s.r.AccountDeleted(context.Background(), jid.MustParse(bob))
	got := s.flush(t)
	if _, ok := got[bob]; ok || got[alice].Uploads != 1 {
		t.Errorf("after deleting bob: %+v", got)
	}
}
