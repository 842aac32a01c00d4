package streamfeature

import (
	"testing"

	"parley/stanza"
)

func TestRegistryKeepsStagesAndOrder(t *testing.T) {
	var r Registry
	r.Add(Authenticated, stanza.New("urn:xmpp:sm:3", "sm"))
	r.Add(Unauthenticated, stanza.New("http://jabber.org/protocol/caps", "c"))
	r.Add(Authenticated, stanza.New("urn:xmpp:csi:0", "csi"))
	got := r.Elements(Authenticated)
	if len(got) != 2 || got[0].Local != "sm" || got[1].Local != "csi" {
		t.Fatalf("authenticated features %v", got)
	}
	if !r.Has(Unauthenticated, "http://jabber.org/protocol/caps", "c") || r.Has(Unauthenticated, "urn:xmpp:sm:3", "sm") {
		t.Fatal("Has does not keep stages apart")
	}
}

func TestBindInlines(t *testing.T) {
	var r Registry
	if len(r.BindInlines()) != 0 {
		t.Fatal("inline features in an empty registry")
	}
	r.AddBindInline(BindInline{Var: "urn:xmpp:carbons:2"})
	r.AddBindInline(BindInline{Var: "urn:example:other"})
	got := r.BindInlines()
	if len(got) != 2 || got[0].Var != "urn:xmpp:carbons:2" || got[1].Var != "urn:example:other" {
		t.Fatalf("inline features %v", got)
	}
}
