package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// countConn counts the writes to a connection.
type countConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// fakeWebSocketServer answers the stream opening of a WebSocket client
// (RFC 7395) with <open/> and features, passes every later message to
// got, and after the third sends a message and <close/>.
func fakeWebSocketServer(t *testing.T, got chan<- string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			t.Errorf("the generator sent an Origin header: %q", r.Header.Get("Origin"))
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsSubprotocol}})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		defer ws.CloseNow()
		ctx := context.Background()
		_, open, err := ws.Read(ctx)
		if err != nil || !strings.HasPrefix(string(open), "<open xmlns='"+nsFraming+"' to='d'") {
			t.Errorf("first message %q (%v), want <open/>", open, err)
			return
		}
		for _, m := range []string{
			"<open xmlns='" + nsFraming + "' from='d' id='x' version='1.0'/>",
			"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='" + nsSASL + "'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
		} {
			ws.Write(ctx, websocket.MessageText, []byte(m))
		}
		for n := 0; ; n++ {
			_, m, err := ws.Read(ctx)
			if err != nil {
				return
			}
			got <- string(m)
			if n == 2 {
				ws.Write(ctx, websocket.MessageText, []byte("<message from='d'><body>hi</body></message>"))
				ws.Write(ctx, websocket.MessageText, []byte("<close xmlns='"+nsFraming+"'/>"))
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/xmpp-websocket"
}

// TestWebSocketSession opens a stream over WebSocket, sends several
// elements in one write, one message each, and reads the server's
// <close/> as the end of the stream.
func TestWebSocketSession(t *testing.T) {
	got := make(chan string, 10)
	url := fakeWebSocketServer(t, got)
	src, _ := parseSources("", 0)
	o := &options{domain: "d", password: "pw", mech: "PLAIN", userFormat: "u%d", transport: transportWebSocket, wsURL: url}
	c := newConnector(o, src)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, feats, err := c.secure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if len(feats.mechanisms) != 1 || feats.mechanisms[0] != "PLAIN" || feats.starttls {
		t.Errorf("features %+v, want PLAIN only", feats)
	}
	s.nc.SetDeadline(time.Time{})
	counted := &countConn{Conn: s.cork.Conn}
	s.cork.Conn = counted

	elems := []string{"<message to='a'><body>1</body></message>", "<message to='b'><body>2</body></message>", "<r xmlns='urn:xmpp:sm:3'/>"}
	var buf []byte
	var ends []int
	for _, e := range elems {
		buf = append(buf, e...)
		ends = append(ends, len(buf))
	}
	if err := s.writeElems(buf, ends); err != nil {
		t.Fatal(err)
	}
	for _, want := range elems {
		select {
		case m := <-got:
			if m != want {
				t.Errorf("message %q, want %q", m, want)
			}
		case <-ctx.Done():
			t.Fatal("messages missing")
		}
	}
	if n := counted.writes.Load(); n != 1 {
		t.Errorf("%d writes to the connection for %d messages, want 1", n, len(elems))
	}

	var names []string
	err = s.readLoop(func(_ *session, name, _ []byte) { names = append(names, string(name)) })
	if !errors.Is(err, errStreamEnded) || strings.Join(names, ",") != "message" {
		t.Errorf("read loop saw %v and ended with %v; want a message, then the end of the stream", names, err)
	}
}

func TestWebSocketURL(t *testing.T) {
	for _, tc := range []struct{ url, addr string }{
		{"ws://127.0.0.1:5280/xmpp-websocket", "127.0.0.1:5280"},
		{"ws://localhost/ws", "localhost:80"},
		{"wss://[::1]/xmpp-websocket", "[::1]:443"},
		{"http://127.0.0.1:5280/", ""},
		{"ws:///path", ""},
	} {
		addr, err := wsHostPort(tc.url)
		if addr != tc.addr || (err == nil) != (tc.addr != "") {
			t.Errorf("wsHostPort(%q) = %q, %v; want %q", tc.url, addr, err, tc.addr)
		}
	}
}

func TestScannerFramedClose(t *testing.T) {
	open := "<open xmlns='" + nsFraming + "' from='d' id='x' version='1.0'/>"
	in := open + "<message><close/></message><close xmlns='" + nsFraming + "'/>"
	sc := newScanner(strings.NewReader(in), 16, 1<<10)
	sc.framed = true
	var got []string
	for range 3 {
		tok, err := sc.next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, map[tokenKind]string{tokHeader: "H", tokStanza: "S", tokEnd: "E"}[tok.kind]+":"+string(elemName(tok.raw)))
	}
	if want := "H:open S:message E:close"; strings.Join(got, " ") != want {
		t.Errorf("tokens %v, want %s", got, want)
	}
}

func TestQualify(t *testing.T) {
	for in, want := range map[string]string{
		"<presence/>":                            "<presence xmlns='jabber:client'/>",
		"<iq type='get' id='r'><query/></iq>":    "<iq xmlns='jabber:client' type='get' id='r'><query/></iq>",
		"<message to='a@b' type='chat' id='":     "<message xmlns='jabber:client' to='a@b' type='chat' id='",
		"<iq xmlns='jabber:client' type='get'/>": "<iq xmlns='jabber:client' type='get'/>",
		"<auth xmlns='" + nsSASL + "'>=</auth>":  "<auth xmlns='" + nsSASL + "'>=</auth>",
		"<r xmlns='urn:xmpp:sm:3'/>":             "<r xmlns='urn:xmpp:sm:3'/>",
	} {
		if got := string(qualify([]byte(in))); got != want {
			t.Errorf("qualify(%q) = %q, want %q", in, got, want)
		}
	}
}
