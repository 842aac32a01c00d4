package streamfeature

import (
	"context"
	"testing"

	"parley/stanza"
)

func TestRegistryIQHandlers(t *testing.T) {
	var r Registry
	if r.IQHandler("jabber:iq:register") != nil {
		t.Fatal("a handler before any was registered")
	}
	r.HandleIQ("jabber:iq:register", func(_ context.Context, req *Request) (*stanza.Element, error) {
		req.State["seen"] = true
		return stanza.New("jabber:iq:register", "query"), nil
	})
	h := r.IQHandler("jabber:iq:register")
	if h == nil || r.IQHandler("jabber:iq:roster") != nil {
		t.Fatal("handlers are not kept by namespace")
	}
	state := make(map[any]any)
	got, err := h(context.Background(), &Request{State: state})
	if err != nil || got.Local != "query" || state["seen"] != true {
		t.Fatalf("handler: %v, %v, state %v", got, err, state)
	}
}
