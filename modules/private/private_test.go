package private_test

import (
	"testing"

	"parley/internal/testutil"
	"parley/modules/private"
	"parley/stanza"
)

func TestPrivate(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	clients := map[string]*testutil.Client{"alice": a, "bob": b}
	q := func(typ, to, inner string) string {
		if to != "" {
			to = " to='" + to + "'"
		}
		return "<iq type='" + typ + "'" + to + "><query xmlns='jabber:iq:private'>" + inner + "</query></iq>"
	}
	const (
		bookmarks = "<storage xmlns='storage:bookmarks'><conference jid='tea@muc.example' name='Tea'/></storage>"
		notes     = "<storage xmlns='storage:rosternotes'><note jid='bob@example'>friend</note></storage>"
		prefs1    = "<pref xmlns='urn:example:prefs' k='a'/>"
		prefs2    = "<pref xmlns='urn:example:prefs' k='b'/>"
	)
	// The steps run in order: each may depend on what earlier ones stored.
	steps := []struct {
		name, who, iq string
		want          string // error condition, "result" for an empty result, else the expected <query/>
	}{
		{"unknown namespace", "alice", q("get", "", "<storage xmlns='storage:bookmarks'/>"),
			"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>"},
		{"store", "alice", q("set", "", bookmarks), "result"},
		{"retrieve", "alice", q("get", "", "<storage xmlns='storage:bookmarks'/>"),
			"<query xmlns='jabber:iq:private'>" + bookmarks + "</query>"},
		{"retrieve by bare JID", "alice", q("get", alice, "<storage xmlns='storage:bookmarks'/>"),
			"<query xmlns='jabber:iq:private'>" + bookmarks + "</query>"},
		{"store two namespaces", "alice", q("set", "", notes+prefs1+prefs2), "result"},
		{"first namespace", "alice", q("get", "", "<storage xmlns='storage:rosternotes'/>"),
			"<query xmlns='jabber:iq:private'>" + notes + "</query>"},
		{"several elements of a namespace", "alice", q("get", "", "<pref xmlns='urn:example:prefs'/>"),
			"<query xmlns='jabber:iq:private'>" + prefs1 + prefs2 + "</query>"},
		{"earlier namespace kept", "alice", q("get", "", "<storage xmlns='storage:bookmarks'/>"),
			"<query xmlns='jabber:iq:private'>" + bookmarks + "</query>"},
		{"replace", "alice", q("set", "", "<storage xmlns='storage:bookmarks'/>"), "result"},
		{"replaced", "alice", q("get", "", "<storage xmlns='storage:bookmarks'/>"),
			"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>"},
		{"other's get", "bob", q("get", alice, "<storage xmlns='storage:rosternotes'/>"), "forbidden"},
		{"other's set", "bob", q("set", alice, bookmarks), "forbidden"},
		{"reserved vcard-temp", "alice", q("set", "", "<vCard xmlns='vcard-temp'><FN>x</FN></vCard>"), "not-acceptable"},
		{"reserved jabber:", "alice", q("set", "", "<query xmlns='jabber:iq:roster'/>"), "not-acceptable"},
		{"reserved http://jabber.org/", "alice", q("get", "", "<x xmlns='http://jabber.org/protocol/muc'/>"), "not-acceptable"},
		{"reserved content namespace", "alice", q("set", "", "<body xmlns='jabber:client'>x</body>"), "not-acceptable"},
		{"reserved among others", "alice", q("set", "", notes+"<x xmlns='jabber:x:data'/>"), "not-acceptable"},
		{"set without child", "alice", q("set", "", ""), "not-acceptable"},
		{"get without child", "alice", q("get", "", ""), "bad-request"},
		{"get of two namespaces", "alice", q("get", "", "<a xmlns='urn:a'/><b xmlns='urn:b'/>"), "bad-request"},
		{"unknown element", "alice", "<iq type='get'><storage xmlns='jabber:iq:private'/></iq>", "feature-not-implemented"},
		{"not on the server", "alice", q("get", srv.Domain, "<storage xmlns='storage:bookmarks'/>"), "service-unavailable"},
		{"refused set left data alone", "alice", q("get", "", "<storage xmlns='storage:rosternotes'/>"),
			"<query xmlns='jabber:iq:private'>" + notes + "</query>"},
	}
	for _, s := range steps {
		got := clients[s.who].IQ(s.iq)
		switch {
		case s.want == "result":
			if got.Type() != "result" || len(got.Elements()) != 0 {
				t.Errorf("%s: got %s, want an empty result", s.name, got)
			}
		case s.want[0] == '<':
			want, err := stanza.Parse(s.want)
			if err != nil {
				t.Fatal(err)
			}
			if c := got.Child(private.NS, "query"); got.Type() != "result" || c == nil || c.String() != want.String() {
				t.Errorf("%s: got %s, want %s", s.name, got, want)
			}
		default:
			if cond := testutil.ErrorCondition(got); cond != s.want {
				t.Errorf("%s: got %s, want %s", s.name, got, s.want)
			}
		}
	}
}
