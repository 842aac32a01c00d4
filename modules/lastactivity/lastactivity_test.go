package lastactivity_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/modules/lastactivity"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/storage/sqlite"
)

const ns = lastactivity.NS

func seconds(t *testing.T, el *stanza.Element) int {
	t.Helper()
	q := el.Child(ns, "query")
	if el.Type() != "result" || q == nil {
		t.Fatalf("want a last activity result, got %s", el)
	}
	n, err := strconv.Atoi(q.Attr("seconds"))
	if err != nil || n < 0 {
		t.Fatalf("bad seconds in %s", el)
	}
	return n
}

// waitRecorded waits until a logout of user is stored.
func waitRecorded(t *testing.T, srv *testutil.Server, user string) time.Time {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for {
		at, _, err := srv.Store().LastActivity(context.Background(), user)
		if err == nil {
			return at
		}
		if !errors.Is(err, storage.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("logout of %s not recorded: %v", user, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLastActivity(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	dave := srv.AddUser("dave", "pw")
	erin := srv.AddUser("erin", "pw")
	for _, u := range []string{bob, dave, erin} {
		srv.SetSubscription(u, alice, "both")
	}
	srv.SetSubscription(carol, alice, "to") // alice does not see carol's presence
	ctx := context.Background()
	if err := srv.Store().SetLastActivity(ctx, erin, time.Now().Add(-100*time.Second), "Heading Home"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		testutil.Login(t, srv.Addr, u, "pw", "phone").Close()
		waitRecorded(t, srv, u+"@"+srv.Domain)
	}
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	query := func(to string) string { return "<iq type='get' to='" + to + "'><query xmlns='" + ns + "'/></iq>" }

	cases := []struct {
		name, iq, want string // want: error condition, "" for a result
		min, max       int
		status         string
	}{
		{name: "server uptime", iq: query(srv.Domain), min: 0, max: 60},
		{name: "contact logged out just now", iq: query(bob), min: 0, max: 30},
		{name: "contact logged out with status", iq: query(erin), min: 100, max: 130, status: "Heading Home"},
		{name: "contact never logged in", iq: query(dave), want: "item-not-found"},
		{name: "no subscription", iq: query(carol), want: "forbidden"},
		{name: "missing account", iq: query("nobody@" + srv.Domain), want: "service-unavailable"},
		{name: "set", iq: "<iq type='set' to='" + bob + "'><query xmlns='" + ns + "'/></iq>", want: "bad-request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.IQ(c.iq)
			if c.want != "" {
				if cond := testutil.ErrorCondition(got); cond != c.want {
					t.Fatalf("got %s, want %s", got, c.want)
				}
				return
			}
			if n := seconds(t, got); n < c.min || n > c.max {
				t.Errorf("seconds %d, want %d..%d", n, c.min, c.max)
			}
			if s := got.Child(ns, "query").Text(); s != c.status {
				t.Errorf("status %q, want %q", s, c.status)
			}
		})
	}
}

func TestRecordedWhenLastResourceGoes(t *testing.T) {
	srv := testutil.StartServer(t, "")
	bob := srv.AddUser("bob", "pw")
	phone := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	laptop := testutil.Login(t, srv.Addr, "bob", "pw", "laptop")
	phone.Close()
	deadline := time.Now().Add(testutil.Timeout)
	for len(srv.Router().Resources(bob)) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("phone never unbound")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if _, _, err := srv.Store().LastActivity(context.Background(), bob); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("logout recorded while laptop is still online (err %v)", err)
	}
	before := time.Now()
	laptop.Close()
	if at := waitRecorded(t, srv, bob); at.Before(before.Add(-time.Second)) {
		t.Fatalf("recorded %v, before the last resource left at %v", at, before)
	}
}

func TestSurvivesRestart(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(bob, alice, "from")
	testutil.Login(t, srv.Addr, "bob", "pw", "phone") // still online: shutdown records it
	srv.Stop()
	srv = testutil.StartServerIn(t, srv.Dir, "")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	got := a.IQ("<iq type='get' to='" + bob + "'><query xmlns='" + ns + "'/></iq>")
	if n := seconds(t, got); n > 30 {
		t.Fatalf("seconds %d after a restart", n)
	}
}

// TestAvailableIsZero drives a router directly, giving a resource
// available presence itself.
func TestAvailableIsZero(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := router.New([]string{"example.test"}, store, zerolog.Nop())
	lastactivity.Register(r, store, zerolog.Nop())
	if err := store.SetLastActivity(ctx, "alice@example.test", time.Now().Add(-time.Hour), "gone"); err != nil {
		t.Fatal(err)
	}
	var sess testutil.RecordingSession
	res := r.Bind(ctx, jid.MustParse("alice@example.test/desk"), &sess)
	ask := func() *stanza.Element {
		el, _ := stanza.Parse("<iq type='get' id='1'><query xmlns='" + ns + "'/></iq>")
		el.SetAttr("from", res.JID.String())
		r.Route(ctx, res, el)
		sent := sess.Sent()
		if len(sent) != 1 {
			t.Fatalf("want one response, got %v", sent)
		}
		return sent[0]
	}
	if n := seconds(t, ask()); n < 3600 {
		t.Fatalf("bound but unavailable: seconds %d, want the recorded logout", n)
	}
	res.SetPresence(stanza.New("", "presence"))
	got := ask()
	if n := seconds(t, got); n != 0 || got.Child(ns, "query").Text() != "" {
		t.Fatalf("available: got %s, want seconds 0 and no status", got)
	}
}

func TestAvailableIsZeroE2E(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(bob, alice, "from")
	if err := srv.Store().SetLastActivity(context.Background(), bob, time.Now().Add(-time.Hour), "away"); err != nil {
		t.Fatal(err)
	}
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Send("<presence/>")
	b.Expect(testutil.IsFrom("presence", b.JID)) // own presence echoed: available
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	got := a.IQ("<iq type='get' to='" + bob + "'><query xmlns='" + ns + "'/></iq>")
	if n := seconds(t, got); n != 0 || got.Child(ns, "query").Text() != "" {
		t.Fatalf("got %s, want seconds 0 while bob is available", got)
	}
}

func TestLogoutStatusRecorded(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	srv.SetSubscription(bob, alice, "from")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Send("<presence/>")
	b.Expect(testutil.IsFrom("presence", b.JID))
	b.Send("<presence type='unavailable'><status>Gone fishing</status></presence>")
	b.Close()
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	for i := 0; ; i++ {
		got := a.IQ("<iq type='get' to='" + bob + "'><query xmlns='" + ns + "'/></iq>")
		if got.Type() == "result" {
			if s := got.Child(ns, "query").Text(); s != "Gone fishing" {
				t.Fatalf("status %q, want the unavailable presence's status", s)
			}
			return
		}
		if i > 50 {
			t.Fatalf("no last activity recorded: %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
