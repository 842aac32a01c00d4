package server_test

import (
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// TestMUCOnlyWhenConfigured checks the wiring of the group-chat service:
// with muc.domain set, it is the component for that domain and an item
// of the server's service discovery; without, neither.
func TestMUCOnlyWhenConfigured(t *testing.T) {
	const service = "conference." + testutil.Domain
	discoItems := "<iq type='get' to='" + testutil.Domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"
	listed := func(r *stanza.Element) bool {
		for _, it := range r.Child("http://jabber.org/protocol/disco#items", "query").ChildrenNamed("", "item") {
			if it.Attr("jid") == service {
				return true
			}
		}
		return false
	}

	srv := testutil.StartServer(t, "[muc]\ndomain = \""+service+"\"\n")
	if srv.MUC() == nil || srv.MUC().Domain() != service {
		t.Fatalf("group-chat service: %v", srv.MUC())
	}
	srv.AddUser("alice", "pw")
	alice := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	if r := alice.IQ(discoItems); !listed(r) {
		t.Fatalf("the server does not list %s: %s", service, r)
	}
	r := alice.IQ("<iq type='get' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if r.Type() != "result" {
		t.Fatalf("disco#info of the service: %s", r)
	}

	plain := testutil.StartServer(t, "")
	if plain.MUC() != nil {
		t.Fatal("a group-chat service without muc.domain")
	}
	plain.AddUser("alice", "pw")
	alice = testutil.Login(t, plain.Addr, "alice", "pw", "pc")
	if r := alice.IQ(discoItems); listed(r) {
		t.Fatalf("the server lists %s without muc.domain: %s", service, r)
	}
	r = alice.IQ("<iq type='get' to='" + service + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if r.Type() != "error" {
		t.Fatalf("disco#info to a disabled service: %s", r)
	}
}
