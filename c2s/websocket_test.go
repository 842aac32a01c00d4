package c2s_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	msasl "mellium.im/sasl"

	"parley/internal/testutil"
	"parley/stanza"
)

// wsServer starts a server with plain HTTP and HTTPS listeners and
// returns it with its ws:// and wss:// endpoint addresses.
func wsServer(t *testing.T, extra string) (srv *testutil.Server, ws, wss string) {
	t.Helper()
	srv = testutil.Start(t, testutil.Options{LogLevel: "info", Extra: "[http]\nlisten = \"127.0.0.1:0\"\ntls_listen = \"127.0.0.1:0\"\norigins = [\"https://app.example.com\"]\n" + extra})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	return srv, "ws://" + srv.Server.Addr("http") + "/xmpp-websocket", "wss://" + srv.Server.Addr("https") + "/xmpp-websocket"
}

func TestWebSocketChat(t *testing.T) {
	srv, ws, wss := wsServer(t, "")
	for _, url := range []string{ws, wss} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			s := testutil.DialWebSocket(t, url, srv.Domain)
			// Secure from the start: SASL is offered, STARTTLS is not.
			if s.Features.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") != nil {
				t.Fatalf("STARTTLS offered over WebSocket: %s", s.Features)
			}
			mechs := s.Features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
			if mechs == nil || !strings.Contains(mechs.String(), "SCRAM-SHA-256") {
				t.Fatalf("features: %s", s.Features)
			}
			if strings.HasPrefix(url, "wss") != strings.Contains(mechs.String(), "-PLUS") {
				t.Fatalf("channel binding is offered exactly over HTTPS: %s", mechs)
			}
			if el := s.Authenticate(msasl.ScramSha256, "alice", "alice-pw"); el.Local != "success" {
				t.Fatalf("SASL over WebSocket: %s", el)
			}
			s.Open(srv.Domain)
			a := s.Bind("web")

			b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
			b.Sendf("<message to='%s' type='chat' id='m1'><body>over there</body></message>", a)
			got := s.Next()
			if got.Local != "message" || got.ChildText("", "body") != "over there" || got.From() != b.JID {
				t.Fatalf("WebSocket client got %s", got)
			}
			s.Write("<message xmlns='jabber:client' to='" + b.JID + "' type='chat'><body>and back</body></message>")
			if got := b.Expect(testutil.IsKind("message")); got.ChildText("", "body") != "and back" || got.From() != a {
				t.Fatalf("TCP client got %s", got)
			}
			// An iq to the server, answered over WebSocket.
			s.Write("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
			if r := s.Next(); r.Local != "iq" || r.Type() != "result" || r.ID() != "p1" {
				t.Fatalf("ping: %s", r)
			}
			// <close/> is answered with <close/>.
			s.Write("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
			if el := s.Next(); el.Local != "close" || el.Space != "urn:ietf:params:xml:ns:xmpp-framing" {
				t.Fatalf("close: %s", el)
			}
		})
	}
}

// TestWebSocketFraming checks each message of the server on its own: one
// element per message, qualified as a document of its own.
func TestWebSocketFraming(t *testing.T) {
	srv, ws, _ := wsServer(t, "")
	c := testutil.DialWebSocketRaw(t, ws, nil)
	if c.Subprotocol() != "xmpp" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	testutil.WriteMessage(t, c, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='"+srv.Domain+"' version='1.0'/>")
	for _, want := range []string{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' ", "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"} {
		msg, err := testutil.ReadMessage(t, c)
		if err != nil || !strings.HasPrefix(msg, want) {
			t.Fatalf("got %q (%v), want a message starting %q", msg, err, want)
		}
		if _, err := stanza.Parse(msg); err != nil {
			t.Fatalf("message %q is not a document of its own: %v", msg, err)
		}
	}
	// A stanza before authentication ends the stream with a stream error
	// (its own message, the prefix declared), then <close/>.
	testutil.WriteMessage(t, c, "<message to='bob@"+srv.Domain+"'><body>x</body></message>")
	msg, _ := testutil.ReadMessage(t, c)
	if !strings.HasPrefix(msg, "<stream:error xmlns:stream=") || !strings.Contains(msg, "not-authorized") {
		t.Fatalf("stream error: %q", msg)
	}
	if msg, _ := testutil.ReadMessage(t, c); !strings.HasPrefix(msg, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'") {
		t.Fatalf("after the stream error: %q", msg)
	}
}

func TestWebSocketBadInput(t *testing.T) {
	srv, ws, _ := wsServer(t, "[c2s]\nmax_stanza_size = 10000\n")
	httpURL := "http" + strings.TrimPrefix(ws, "ws")
	handshake := func(t *testing.T, header http.Header) int {
		t.Helper()
		req, _ := http.NewRequest("GET", httpURL, nil)
		req.Header = header
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Run("no xmpp subprotocol", func(t *testing.T) {
		if code := handshake(t, http.Header{"Sec-Websocket-Protocol": {"chat"}}); code != http.StatusBadRequest {
			t.Fatalf("status %d", code)
		}
	})
	t.Run("origin not allowed", func(t *testing.T) {
		if code := handshake(t, http.Header{"Sec-Websocket-Protocol": {"xmpp"}, "Origin": {"https://evil.example.net"}}); code != http.StatusForbidden {
			t.Fatalf("status %d", code)
		}
		if code := handshake(t, http.Header{"Sec-Websocket-Protocol": {"xmpp"}, "Origin": {"https://app.example.com"}}); code != http.StatusSwitchingProtocols {
			t.Fatalf("an allowed origin: status %d", code)
		}
	})
	t.Run("element split across messages", func(t *testing.T) {
		c := testutil.DialWebSocketRaw(t, ws, nil)
		testutil.WriteMessage(t, c, "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='"+srv.Domain+"' version='1.0'/>")
		testutil.ReadMessage(t, c)
		testutil.ReadMessage(t, c)
		testutil.WriteMessage(t, c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>")
		testutil.WriteMessage(t, c, "AGFsaWNlAGFsaWNlLXB3</auth>")
		if msg, _ := testutil.ReadMessage(t, c); !strings.Contains(msg, "bad-format") {
			t.Fatalf("got %q", msg)
		}
	})
	t.Run("wrong opening", func(t *testing.T) {
		c := testutil.DialWebSocketRaw(t, ws, nil)
		testutil.WriteMessage(t, c, "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='"+srv.Domain+"' version='1.0'>")
		msg, _ := testutil.ReadMessage(t, c)
		if msg, _ = testutil.ReadMessage(t, c); !strings.Contains(msg, "<stream:error") {
			t.Fatalf("got %q", msg)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		a := testutil.LoginWebSocket(t, ws, "alice@"+srv.Domain, "alice-pw", "big")
		b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
		a.Sendf("<message to='%s'><body>%s</body></message>", b.JID, strings.Repeat("x", 20000))
		if err := a.WaitClosed(); err == nil {
			t.Fatal("no error")
		}
		// Others are unharmed.
		b.Send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
		if r := b.Expect(testutil.IsKind("iq")); r.Type() != "result" {
			t.Fatalf("ping after: %s", r)
		}
	})
	t.Run("binary message", func(t *testing.T) {
		c := testutil.DialWebSocketRaw(t, ws, nil)
		ctx, cancel := testutil.Context(t)
		defer cancel()
		c.Write(ctx, websocket.MessageBinary, []byte("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='"+srv.Domain+"' version='1.0'/>"))
		testutil.ReadMessage(t, c)
		if msg, _ := testutil.ReadMessage(t, c); !strings.Contains(msg, "bad-format") {
			t.Fatalf("got %q", msg)
		}
	})
}

// TestWebSocketResume: a browser tab whose connection broke resumes its
// session on a new WebSocket, getting what it missed.
func TestWebSocketResume(t *testing.T) {
	srv, ws, _ := wsServer(t, "")
	alice := "alice@" + srv.Domain
	login := func() *testutil.Stream {
		s := testutil.DialWebSocket(t, ws, srv.Domain)
		if el := s.Authenticate(msasl.ScramSha256, "alice", "alice-pw"); el.Local != "success" {
			t.Fatalf("auth: %s", el)
		}
		s.Open(srv.Domain)
		return s
	}
	s := login()
	id := enableSM(t, s, "tab")
	b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	b.Sendf("<message to='%s/tab' type='chat'><body>m0</body></message>", alice)
	bodies(t, s, 1)
	s.Write("<a xmlns='urn:xmpp:sm:3' h='1'/>")
	s.Conn.Close() // the tab's connection broke
	srv.WaitLog(5*time.Second, "client session waits for resumption")
	b.Sendf("<message to='%s/tab' type='chat'><body>m1</body></message>", alice)

	r := login()
	r.Write("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='1'/>")
	if el := r.Next(); el.Local != "resumed" {
		t.Fatalf("resume: %s", el)
	}
	if got, _ := bodies(t, r, 1); got[0] != "m1" {
		t.Fatalf("after resuming: %v", got)
	}
}

// TestWebSocketIdleStreamsPark checks that idle WebSocket streams over
// plain HTTP give up their goroutine as TCP streams do, and still
// receive, send, answer keepalive pings (parking again after each) and
// end when their client goes; streams over HTTPS keep their goroutine
// and work alike.
func TestWebSocketIdleStreamsPark(t *testing.T) {
	// Pings come after 6s of silence; streams park after 2s, so each
	// stream is parked 4s of every 6 and the streams' parked spans
	// overlap even after one of them woke for a message.
	srv, ws, wss := wsServer(t, "websocket_ping = \"6s\"\n")
	const n = 6
	var pings atomic.Int64
	var clients []*testutil.Client
	for i := range n {
		name := fmt.Sprintf("tab%d", i)
		srv.AddUser(name, "pw")
		raw := testutil.DialWebSocketRaw(t, ws, &websocket.DialOptions{
			Subprotocols:   []string{"xmpp"},
			OnPingReceived: func(context.Context, []byte) bool { pings.Add(1); return true },
		})
		s := testutil.WebSocketStream(t, raw, srv.Domain)
		if el := s.Authenticate(msasl.ScramSha256, name, "pw"); el.Local != "success" {
			t.Fatalf("auth: %s", el)
		}
		s.Open(srv.Domain)
		clients = append(clients, s.Client(s.Bind("web")))
	}
	secure := testutil.LoginWebSocket(t, wss, "alice@"+srv.Domain, "alice-pw", "secure")
	waitFor(t, "every idle plain stream parked", func() bool { return srv.ParkedStreams() == n })

	// Keepalive pings wake each parked stream with the client's pong;
	// it parks again and stays connected.
	waitForWithin(t, 3*testutil.Timeout, "two rounds of pings", func() bool { return pings.Load() >= 2*n })
	waitFor(t, "streams parked after the pings", func() bool { return srv.ParkedStreams() == n })
	if online := srv.Router().Online(); online != n+1 {
		t.Fatalf("%d sessions online after the pings, want %d", online, n+1)
	}

	secure.Sendf("<message to='%s' type='chat'><body>wake up</body></message>", clients[0].JID)
	if got := clients[0].Expect(testutil.IsKind("message")); got.ChildText("", "body") != "wake up" {
		t.Fatalf("parked stream got %s", got)
	}
	clients[0].Sendf("<message to='%s' type='chat'><body>awake</body></message>", secure.JID)
	if got := secure.Expect(testutil.IsKind("message")); got.ChildText("", "body") != "awake" {
		t.Fatalf("HTTPS stream got %s", got)
	}
	waitFor(t, "streams parked again", func() bool { return srv.ParkedStreams() == n })

	for _, c := range clients[:n/2] {
		c.Conn.Close()
	}
	waitFor(t, "closed streams unbound", func() bool { return srv.Router().Online() == n/2+1 })
	if p := srv.ParkedStreams(); p != n/2 {
		t.Fatalf("%d streams parked, want %d", p, n/2)
	}
}
