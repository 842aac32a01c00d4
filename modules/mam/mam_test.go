package mam_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/modules/mam"
	"parley/stanza"
	"parley/storage"
)

const mamOn = "[mam]\nenabled = true\nmax_page = 20\n"

// page is one query's outcome.
type page struct {
	ids, bodies []string
	fin         *stanza.Element
	err         string // error condition of the iq, if any
}

func (p page) complete() bool { return p.fin != nil && p.fin.Attr("complete") == "true" }

// query sends an archive query with form fields (var, value pairs; a var
// may repeat) and raw RSM/flip elements, and collects the results.
func query(t *testing.T, c *testutil.Client, to string, extra string, fields ...string) page {
	t.Helper()
	qid := c.NewID()
	var form strings.Builder
	if len(fields) > 0 {
		form.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>")
		// A var given more than once is one field with several values.
		var order []string
		values := map[string][]string{}
		for i := 0; i+1 < len(fields); i += 2 {
			if _, seen := values[fields[i]]; !seen {
				order = append(order, fields[i])
			}
			values[fields[i]] = append(values[fields[i]], fields[i+1])
		}
		for _, v := range order {
			fmt.Fprintf(&form, "<field var='%s'>", v)
			for _, val := range values[v] {
				fmt.Fprintf(&form, "<value>%s</value>", val)
			}
			form.WriteString("</field>")
		}
		form.WriteString("</x>")
	}
	toAttr := ""
	if to != "" {
		toAttr = " to='" + to + "'"
	}
	r := c.IQ("<iq type='set'" + toAttr + "><query xmlns='urn:xmpp:mam:2' queryid='" + qid + "'>" + form.String() + extra + "</query></iq>")
	var p page
	if r.Type() == "error" {
		p.err = testutil.ErrorCondition(r)
		return p
	}
	p.fin = r.Child(mam.NS, "fin")
	if p.fin == nil {
		t.Fatalf("query result without fin: %s", r)
	}
	// The results arrived before the iq result: they are all here.
	for _, m := range c.Take(func(el *stanza.Element) bool {
		res := el.Child(mam.NS, "result")
		return el.Local == "message" && res != nil && res.Attr("queryid") == qid
	}) {
		res := m.Child(mam.NS, "result")
		fwd := res.Child(mam.NSForward, "forwarded")
		if fwd == nil || fwd.Child(stanza.NSDelay, "delay") == nil {
			t.Fatalf("result without forwarded message and delay: %s", m)
		}
		p.ids = append(p.ids, res.Attr("id"))
		p.bodies = append(p.bodies, fwd.Child("", "message").ChildText("", "body"))
	}
	return p
}

func rsm(max int, inner string) string {
	return fmt.Sprintf("<set xmlns='http://jabber.org/protocol/rsm'><max>%d</max>%s</set>", max, inner)
}

func sendN(t *testing.T, from *testutil.Client, to string, n int, prefix string) {
	t.Helper()
	for i := range n {
		from.Sendf("<message to='%s' type='chat'><body>%s%d</body></message>", to, prefix, i)
	}
}

func TestArchiveBothParties(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "pc")
	b.Send("<presence/>")
	sendN(t, a, bob+"/pc", 3, "hi ")
	var delivered []string
	for range 3 {
		m := b.Expect(testutil.IsKind("message"))
		sid := m.Child(mam.NSStanzaID, "stanza-id")
		if sid == nil || sid.Attr("by") != bob || sid.Attr("id") == "" {
			t.Fatalf("delivered without bob's stanza-id: %s", m)
		}
		delivered = append(delivered, sid.Attr("id"))
	}
	pb := query(t, b, "", "")
	if !slices.Equal(pb.ids, delivered) || !slices.Equal(pb.bodies, []string{"hi 0", "hi 1", "hi 2"}) || !pb.complete() {
		t.Fatalf("bob's archive: ids %v (delivered %v), bodies %v, fin %s", pb.ids, delivered, pb.bodies, pb.fin)
	}
	pa := query(t, a, alice, "", "with", bob)
	if len(pa.ids) != 3 || pa.bodies[2] != "hi 2" {
		t.Fatalf("alice's archive: %v", pa.bodies)
	}
	if p := query(t, a, bob, ""); p.err != "forbidden" {
		t.Fatalf("alice querying bob's archive: %+v", p)
	}
}

func TestPagingReturnsEveryMessageOnce(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	const total = 47
	sendN(t, a, bob, total, "m")
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("m%d", i))
	}
	// Forward, by RSM after.
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		inner := ""
		if after != "" {
			inner = "<after>" + after + "</after>"
		}
		p := query(t, a, "", rsm(10, inner))
		got = append(got, p.bodies...)
		if p.complete() {
			break
		}
		if len(p.ids) == 0 || pages > 10 {
			t.Fatalf("paging forward stalled after %d messages", len(got))
		}
		after = p.ids[len(p.ids)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forward paging returned %d messages %v", len(got), got)
	}
	// Backward, from the last page by RSM before.
	got = nil
	before := ""
	for pages := 0; ; pages++ {
		p := query(t, a, "", rsm(10, "<before>"+before+"</before>"))
		got = append(p.bodies, got...)
		if p.complete() {
			break
		}
		if len(p.ids) == 0 || pages > 10 {
			t.Fatalf("paging backward stalled after %d messages", len(got))
		}
		before = p.ids[0]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("backward paging returned %d messages %v", len(got), got)
	}
	// A flipped page holds the same messages in reverse.
	last := query(t, a, "", rsm(5, "<before/>"))
	flipped := query(t, a, "", rsm(5, "<before/>")+"<flip-page/>")
	rev := slices.Clone(last.bodies)
	slices.Reverse(rev)
	if !slices.Equal(flipped.bodies, rev) || !slices.Equal(last.bodies, want[total-5:]) {
		t.Fatalf("last page %v, flipped %v", last.bodies, flipped.bodies)
	}
	// Asking for more than max_page gets a capped page.
	if p := query(t, a, "", rsm(1000, "")); len(p.ids) != 20 || p.complete() {
		t.Fatalf("oversized page: %d messages, complete %v", len(p.ids), p.complete())
	}
	// A count alone.
	if p := query(t, a, "", rsm(0, "")); len(p.ids) != 0 || p.fin.Child(mam.NSRSM, "set").ChildText(mam.NSRSM, "count") != fmt.Sprint(total) {
		t.Fatalf("count query: %d results, fin %s", len(p.ids), p.fin)
	}
}

func TestQueryFilters(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	b.Send("<presence/>")
	c := testutil.Login(t, srv.Addr, "carol", "pw", "pc")
	// One sender after the other, each done before the next (a ping
	// answered after the messages), so the archive's order is known.
	ping := func(cl *testutil.Client) {
		t.Helper()
		if r := cl.IQ("<iq type='get' to='" + srv.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Type() != "result" {
			t.Fatalf("ping: %s", r)
		}
	}
	sendN(t, a, bob, 2, "to-bob")
	sendN(t, a, carol, 2, "to-carol")
	ping(a)
	b.Sendf("<message to='%s' type='chat'><body>from-bob-phone</body></message>", "alice@"+srv.Domain)
	ping(b)
	c.Sendf("<message to='%s' type='chat'><body>from-carol</body></message>", "alice@"+srv.Domain)
	ping(c)
	all := query(t, a, "", "")
	want := []string{"to-bob0", "to-bob1", "to-carol0", "to-carol1", "from-bob-phone", "from-carol"}
	if !slices.Equal(all.bodies, want) {
		t.Fatalf("alice's archive: %v, want %v", all.bodies, want)
	}
	cases := []struct {
		name   string
		extra  string
		fields []string
		want   []string // bodies
		err    string
	}{
		{name: "with bare", fields: []string{"with", bob}, want: []string{"to-bob0", "to-bob1", "from-bob-phone"}},
		{name: "with full", fields: []string{"with", bob + "/phone"}, want: []string{"from-bob-phone"}},
		{name: "with other full", fields: []string{"with", bob + "/desk"}, want: nil},
		{name: "after-id", fields: []string{"after-id", all.ids[3]}, want: []string{"from-bob-phone", "from-carol"}},
		{name: "before-id", fields: []string{"before-id", all.ids[1]}, want: []string{"to-bob0"}},
		{name: "between ids", fields: []string{"after-id", all.ids[0], "before-id", all.ids[3]}, want: []string{"to-bob1", "to-carol0"}},
		{name: "ids", fields: []string{"ids", all.ids[4], "ids", all.ids[1]}, want: []string{"to-bob1", "from-bob-phone"}},
		{name: "start in the future", fields: []string{"start", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, want: nil},
		{name: "end in the past", fields: []string{"end", "2001-01-01T00:00:00Z"}, want: nil},
		{name: "start and end around now", fields: []string{"start", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "end", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, want: all.bodies},
		{name: "unknown after-id", fields: []string{"after-id", "no-such-id"}, err: "item-not-found"},
		{name: "unknown RSM after", extra: rsm(5, "<after>no-such-id</after>"), err: "item-not-found"},
		{name: "unknown field", fields: []string{"free-text", "x"}, err: "feature-not-implemented"},
		{name: "malformed with", fields: []string{"with", "a@b@c"}, err: "jid-malformed"},
		{name: "malformed start", fields: []string{"start", "yesterday"}, err: "bad-request"},
		{name: "negative max", extra: "<set xmlns='http://jabber.org/protocol/rsm'><max>-3</max></set>", err: "bad-request"},
		{name: "index paging", extra: "<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>", err: "feature-not-implemented"},
		{name: "node", extra: "", err: ""},
	}
	for _, tc := range cases {
		if tc.name == "node" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			p := query(t, a, "", tc.extra, tc.fields...)
			if p.err != tc.err {
				t.Fatalf("error %q, want %q", p.err, tc.err)
			}
			if tc.err == "" && !slices.Equal(p.bodies, tc.want) {
				t.Fatalf("got %v, want %v", p.bodies, tc.want)
			}
		})
	}
	// An end echoed from a delay stamp, which has milliseconds only,
	// still covers the message it came from.
	if p := query(t, a, "", "", "end", stampOf(t, a, all.ids[0])); len(p.bodies) == 0 || p.bodies[0] != "to-bob0" || !slices.Equal(p.bodies, all.bodies[:len(p.bodies)]) {
		t.Fatalf("end from the first message's stamp: %v", p.bodies)
	}
	r := a.IQ("<iq type='set'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:example:other</value></field></x></query></iq>")
	if testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("wrong FORM_TYPE: %s", r)
	}
	form := a.IQ("<iq type='get'><query xmlns='urn:xmpp:mam:2'/></iq>")
	if form.Type() != "result" || !strings.Contains(form.String(), "var='before-id'") {
		t.Fatalf("query form: %s", form)
	}
	md := a.IQ("<iq type='get'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
	if md.Child(mam.NS, "metadata").Child(mam.NS, "start").Attr("id") != all.ids[0] ||
		md.Child(mam.NS, "metadata").Child(mam.NS, "end").Attr("id") != all.ids[5] {
		t.Fatalf("metadata: %s", md)
	}
}

func TestWhatIsArchived(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "pc")
	b.Send("<presence/>")
	for _, m := range []string{
		"<message to='%s' type='chat'><body>kept</body></message>",
		"<message to='%s'><body>normal kept</body></message>",
		"<message to='%s' type='headline'><body>headline</body></message>",
		"<message to='%s' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
		"<message to='%s' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>",
		"<message to='%s' type='chat'><body>not permanent</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>",
		"<message to='%s' type='chat'><received xmlns='urn:xmpp:receipts' id='x'/><store xmlns='urn:xmpp:hints'/></message>",
		"<message to='%s' type='chat'><body>spoofed id</body><stanza-id xmlns='urn:xmpp:sid:0' by='" + bob + "' id='forged'/></message>",
	} {
		a.Sendf(m, bob+"/pc")
	}
	var last *stanza.Element
	for range 8 {
		last = b.Expect(testutil.IsKind("message"))
	}
	for _, sid := range last.ChildrenNamed(mam.NSStanzaID, "stanza-id") {
		if sid.Attr("id") == "forged" {
			t.Fatalf("a forged stanza-id by bob reached bob: %s", last)
		}
	}
	p := query(t, b, "", "")
	want := []string{"kept", "normal kept", "", "spoofed id"}
	if !slices.Equal(p.bodies, want) {
		t.Fatalf("archived %q, want %q", p.bodies, want)
	}
}

func TestPreferences(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	carol := srv.AddUser("carol", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	r := a.IQ("<iq type='get'><prefs xmlns='urn:xmpp:mam:2'/></iq>")
	if r.Child(mam.NS, "prefs").Attr("default") != "always" {
		t.Fatalf("default preferences: %s", r)
	}
	r = a.IQ("<iq type='set'><prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>" + carol + "</jid></always><never><jid>" + bob + "/x</jid></never></prefs></iq>")
	if r.Type() != "result" || r.Child(mam.NS, "prefs").Child(mam.NS, "never").ChildText(mam.NS, "jid") != bob {
		t.Fatalf("setting preferences: %s", r)
	}
	if r := a.IQ("<iq type='set'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>"); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("invalid preferences: %s", r)
	}
	dave := srv.AddUser("dave", "pw")
	srv.SetSubscription("alice@"+srv.Domain, dave, "both")
	a.Sendf("<message to='%s' type='chat'><body>to bob</body></message>", bob)
	a.Sendf("<message to='%s' type='chat'><body>to carol</body></message>", carol)
	a.Sendf("<message to='%s' type='chat'><body>to dave</body></message>", dave)
	a.Sendf("<message to='%s' type='chat'><body>to erin</body></message>", "erin@"+srv.Domain)
	if p := query(t, a, "", ""); !slices.Equal(p.bodies, []string{"to carol", "to dave"}) {
		t.Fatalf("archived %v with never bob, always carol, roster default", p.bodies)
	}
	// Preferences are stored.
	srv.Stop()
	srv2 := testutil.StartServerIn(t, srv.Dir, mamOn)
	a2 := testutil.Login(t, srv2.Addr, "alice", "pw", "pc")
	if r := a2.IQ("<iq type='get'><prefs xmlns='urn:xmpp:mam:2'/></iq>"); r.Child(mam.NS, "prefs").Attr("default") != "roster" {
		t.Fatalf("preferences after restart: %s", r)
	}
	if p := query(t, a2, "", ""); len(p.bodies) != 2 {
		t.Fatalf("archive after restart: %v", p.bodies)
	}
}

// stampOf returns the delay stamp an archived message is served with.
func stampOf(t *testing.T, c *testutil.Client, id string) string {
	t.Helper()
	qid := c.NewID()
	c.IQ("<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid='" + qid + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='ids'><value>" + id + "</value></field></x></query></iq>")
	res := c.Take(func(el *stanza.Element) bool {
		r := el.Child(mam.NS, "result")
		return r != nil && r.Attr("queryid") == qid
	})
	if len(res) != 1 {
		t.Fatalf("message %s: %d results", id, len(res))
	}
	return res[0].Child(mam.NS, "result").Child(mam.NSForward, "forwarded").Child(stanza.NSDelay, "delay").Attr("stamp")
}

// TestArchiveAcrossServers checks that messages with a user of another
// server are archived on this side, both ways, with the stanza ID of the
// recipient's own archive.
func TestArchiveAcrossServers(t *testing.T) {
	s := testutil.Federate(t, mamOn, "a.test", "b.test")
	a := testutil.Login(t, s[0].Addr, "alice@a.test", "alice-pw", "pc")
	a.Send("<presence/>")
	b := testutil.Login(t, s[1].Addr, "bob@b.test", "bob-pw", "pc")
	b.Send("<presence/>")
	a.Send("<message to='bob@b.test/pc' type='chat'><body>to b</body></message>")
	m := b.Expect(testutil.IsKind("message"))
	sid := m.Child(mam.NSStanzaID, "stanza-id")
	if m.ChildText("", "body") != "to b" || sid == nil || sid.Attr("by") != "bob@b.test" {
		t.Fatalf("bob got %s", m)
	}
	b.Send("<message to='alice@a.test/pc' type='chat'><body>to a</body></message>")
	if m := a.Expect(testutil.IsKind("message")); m.Child(mam.NSStanzaID, "stanza-id").Attr("by") != "alice@a.test" {
		t.Fatalf("alice got %s", m)
	}
	if p := query(t, a, "", "", "with", "bob@b.test"); !slices.Equal(p.bodies, []string{"to b", "to a"}) {
		t.Fatalf("alice's archive: %v", p.bodies)
	}
	if p := query(t, b, "", ""); !slices.Equal(p.bodies, []string{"to b", "to a"}) || p.ids[0] != sid.Attr("id") {
		t.Fatalf("bob's archive: %v %v (delivered id %s)", p.bodies, p.ids, sid.Attr("id"))
	}
}

// TestRetention checks that mam.retention removes what is older, at
// start-up and then hourly, and keeps the rest.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	srv := testutil.Start(t, testutil.Options{Dir: dir, Extra: mamOn})
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	old := storage.ArchivedMessage{Archive: alice, ID: "old-1", With: bob,
		Stanza: []byte("<message from='" + bob + "/pc' to='" + alice + "' type='chat'><body>last year</body></message>"),
		Stamp:  time.Now().Add(-365 * 24 * time.Hour).UTC()}
	if err := srv.Store().AppendArchive(context.Background(), []storage.ArchivedMessage{old}); err != nil {
		t.Fatal(err)
	}
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	a.Sendf("<message to='%s' type='chat'><body>today</body></message>", bob)
	if p := query(t, a, "", ""); !slices.Equal(p.bodies, []string{"last year", "today"}) {
		t.Fatalf("before retention: %v", p.bodies)
	}
	srv.Stop()

	srv = testutil.Start(t, testutil.Options{Dir: dir, Extra: mamOn + "retention = \"30d\"\n", LogLevel: "info"})
	srv.WaitLog(5*time.Second, "pruned archived messages past retention", `"messages":1`)
	a = testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	if p := query(t, a, "", ""); !slices.Equal(p.bodies, []string{"today"}) {
		t.Fatalf("after retention: %v", p.bodies)
	}
}

// TestSentCarbonsCarryArchiveID checks XEP-0313 §3: a sent carbon holds
// the ID the sender's archive gave the message; the recipient never sees
// the sender's ID.
func TestSentCarbonsCarryArchiveID(t *testing.T) {
	srv := testutil.StartServer(t, mamOn)
	alice := srv.AddUser("alice", "pw")
	bob := srv.AddUser("bob", "pw")
	pc := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	phone := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	if r := phone.IQ("<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>"); r.Type() != "result" {
		t.Fatalf("carbons: %s", r)
	}
	b := testutil.Login(t, srv.Addr, "bob", "pw", "pc")
	pc.Sendf("<message to='%s/pc' type='chat'><body>copied</body></message>", bob)
	got := b.Expect(testutil.IsKind("message"))
	for _, sid := range got.ChildrenNamed(mam.NSStanzaID, "stanza-id") {
		if sid.Attr("by") == alice {
			t.Fatalf("the recipient got the sender's archive ID: %s", got)
		}
	}
	c := phone.Expect(func(el *stanza.Element) bool { return el.Child("urn:xmpp:carbons:2", "sent") != nil })
	fwd := c.Child("urn:xmpp:carbons:2", "sent").Child(mam.NSForward, "forwarded").Child("", "message")
	sid := fwd.Child(mam.NSStanzaID, "stanza-id")
	p := query(t, pc, "", "")
	if sid == nil || sid.Attr("by") != alice || len(p.ids) != 1 || sid.Attr("id") != p.ids[0] {
		t.Fatalf("sent carbon %s; archive ids %v", c, p.ids)
	}
}
