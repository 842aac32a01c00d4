package s2s

import (
	"context"
	"net"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// TestSendLeavesAClosingBidirectionalStream: once an incoming stream that
// carried stanzas back (XEP-0288) stops accepting them, Send takes an
// outgoing link instead of retrying the dead stream until its reader
// notices.
func TestSendLeavesAClosingBidirectionalStream(t *testing.T) {
	refused := listen(t)
	refusedAddr := refused.Addr().String()
	refused.Close()
	s, r := testService(t, "a.test", &Resolver{Hosts: map[string]string{"b.test": refusedAddr}}, listen(t), false)
	alice := newInbox()
	r.Bind(context.Background(), jid.MustParse("alice@a.test/pc"), alice)

	// An incoming stream from b.test, made bidirectional, whose peer
	// stopped reading: closing it waits for its writes to drain.
	conn, stuck := net.Pipe()
	t.Cleanup(func() { stuck.Close() })
	in := newInStream(s, conn, false)
	p := pair{local: "a.test", remote: "b.test"}
	in.authed[p] = "dialback"
	in.enableBidi()
	go in.stop("idle")
	for !in.t.w.Closed() {
		time.Sleep(time.Millisecond)
	}

	msg := stanza.New("", "message", "from", "alice@a.test/pc", "to", "bob@b.test", "type", "chat", "id", "m1")
	sent := make(chan struct{})
	go func() {
		s.Send(context.Background(), msg)
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(3 * time.Second):
		t.Fatal("Send keeps retrying a stream that no longer accepts stanzas")
	}
	el := alice.wait(t, func(el *stanza.Element) bool { return el.ID() == "m1" })
	if el.Type() != "error" {
		t.Errorf("got %s, want a bounce", el)
	}
}
