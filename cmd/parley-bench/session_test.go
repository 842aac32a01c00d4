package main

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestAnswersServerRequests checks that a session's read loop answers
// what servers send to keep or update a session, and passes the rest on.
func TestAnswersServerRequests(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	s := &session{nc: client, sc: newScanner(client, 64, 4096), jid: "u@d/r"}
	s.sc.inStream = true
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.readLoop(func(_ *session, name, raw []byte) { got <- string(name) })
	}()
	replies := bufio.NewReader(server)
	for _, tc := range []struct {
		name, request, reply string
	}{
		{"ping", `<iq type='get' id='p1' from='d'><ping xmlns='urn:xmpp:ping'/></iq>`,
			`<iq type='result' id='p1' to='d'/>`},
		{"roster push", `<iq type="set" id="r&amp;1"><query xmlns='jabber:iq:roster'><item jid='c@d'/></query></iq>`,
			`<iq type='result' id='r&amp;1'/>`},
		{"unknown request", `<iq type='get' id='v1' from='d'><query xmlns='jabber:iq:version'/></iq>`,
			`<iq type='error' id='v1' to='d'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			go server.Write([]byte(tc.request))
			server.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, len(tc.reply))
			if _, err := io.ReadFull(replies, buf); err != nil || string(buf) != tc.reply {
				t.Fatalf("reply %q (%v), want %q", buf, err, tc.reply)
			}
			if name := <-got; name != "iq" {
				t.Errorf("handler got %q after the answer", name)
			}
		})
	}
	go server.Write([]byte(`<message from='x'><body>hi</body></message><stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`))
	if name := <-got; name != "message" {
		t.Errorf("handler got %q, want message", name)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("read loop ended with %v, want the stream error", err)
	}
}
