package vcard_test

import (
	"strings"
	"testing"

	"parley/internal/testutil"
	"parley/modules/vcard"
)

func TestVCard(t *testing.T) {
	srv := testutil.StartServer(t, "")
	alice := srv.AddUser("alice", "pw")
	carol := srv.AddUser("carol", "pw")
	srv.AddUser("bob", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	b := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	clients := map[string]*testutil.Client{"alice": a, "bob": b}

	const card = "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN></N></vCard>"
	iq := func(typ, to, payload string) string {
		if to != "" {
			to = " to='" + to + "'"
		}
		return "<iq type='" + typ + "'" + to + ">" + payload + "</iq>"
	}
	get := "<vCard xmlns='vcard-temp'/>"
	huge := "<vCard xmlns='vcard-temp'><DESC>" + strings.Repeat("x", vcard.MaxSize) + "</DESC></vCard>"
	// The steps run in order: each may depend on what earlier ones stored.
	steps := []struct {
		name, who, iq string
		want          string // error condition, "result", or the FN of the returned vCard ("-" for an empty one)
	}{
		{"own, none stored", "alice", iq("get", "", get), "-"},
		{"other's, none stored", "bob", iq("get", alice, get), "item-not-found"},
		{"set own", "alice", iq("set", "", card), "result"},
		{"get own", "alice", iq("get", "", get), "Alice Liddell"},
		{"get own by bare JID", "alice", iq("get", alice, get), "Alice Liddell"},
		{"get other's", "bob", iq("get", alice, get), "Alice Liddell"},
		{"set other's", "bob", iq("set", alice, card), "forbidden"},
		{"other's unchanged", "bob", iq("get", alice, get), "Alice Liddell"},
		{"too large", "alice", iq("set", "", huge), "policy-violation"},
		{"unchanged after refusal", "alice", iq("get", "", get), "Alice Liddell"},
		{"unknown element", "alice", iq("get", "", "<card xmlns='vcard-temp'/>"), "feature-not-implemented"},
		{"never set", "alice", iq("get", carol, get), "item-not-found"},
		{"server has none", "alice", iq("get", srv.Domain, get), "service-unavailable"},
		{"clear own", "alice", iq("set", "", get), "result"},
		{"own after clearing", "alice", iq("get", "", get), "-"},
		{"other's after clearing", "bob", iq("get", alice, get), "item-not-found"},
	}
	for _, s := range steps {
		got := clients[s.who].IQ(s.iq)
		switch s.want {
		case "result":
			if got.Type() != "result" || len(got.Elements()) != 0 {
				t.Errorf("%s: got %s, want an empty result", s.name, got)
			}
		case "-":
			c := got.Child(vcard.NS, "vCard")
			if got.Type() != "result" || c == nil || len(c.Elements()) != 0 {
				t.Errorf("%s: got %s, want an empty vCard", s.name, got)
			}
		default:
			if c := got.Child(vcard.NS, "vCard"); got.Type() == "result" && c != nil {
				if fn := c.ChildText(vcard.NS, "FN"); fn != s.want {
					t.Errorf("%s: FN %q, want %q", s.name, fn, s.want)
				}
				if given := c.Child(vcard.NS, "N").ChildText(vcard.NS, "GIVEN"); given != "Alice" {
					t.Errorf("%s: structure lost: %s", s.name, got)
				}
				continue
			}
			if cond := testutil.ErrorCondition(got); cond != s.want {
				t.Errorf("%s: got %s, want %s", s.name, got, s.want)
			}
		}
	}
}
