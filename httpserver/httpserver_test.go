package httpserver_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	mstanza "mellium.im/xmpp/stanza"
	"mellium.im/xmpp/websocket"

	"parley/httpserver"
	"parley/internal/testutil"
)

var insecure = &tls.Config{InsecureSkipVerify: true}

func TestHostMeta(t *testing.T) {
	srv := testutil.Start(t, testutil.Options{Extra: "[http]\nlisten = \"127.0.0.1:0\"\n"})
	base := "http://" + srv.Server.Addr("http")
	resp, err := http.Get(base + "/.well-known/host-meta")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var xrd struct {
		Links []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"Link"`
	}
	if err := xml.Unmarshal(body, &xrd); err != nil || len(xrd.Links) != 2 {
		t.Fatalf("host-meta %s: %v", body, err)
	}
	if l := xrd.Links[0]; l.Rel != httpserver.RelWebSocket || l.Href != "ws://"+srv.Server.Addr("http")+"/xmpp-websocket" {
		t.Fatalf("link %+v", l)
	}
	if l := xrd.Links[1]; l.Rel != httpserver.RelBOSH || l.Href != base+"/http-bind" {
		t.Fatalf("link %+v", l)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xrd+xml") {
		t.Fatalf("headers %v", resp.Header)
	}
	resp, err = http.Get(base + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	var jrd struct {
		Links []struct{ Rel, Href string }
	}
	err = json.NewDecoder(resp.Body).Decode(&jrd)
	resp.Body.Close()
	if err != nil || len(jrd.Links) != 2 || jrd.Links[0].Rel != httpserver.RelWebSocket || jrd.Links[0].Href != xrd.Links[0].Href || jrd.Links[1].Href != xrd.Links[1].Href {
		t.Fatalf("host-meta.json: %+v %v", jrd, err)
	}
	resp, _ = http.Get(base + "/nothing-here")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
}

func TestAllowOrigin(t *testing.T) {
	s := httpserver.New(httpserver.Options{PublicURL: "https://chat.a.test", Origins: []string{"https://app.a.test", "*.b.test"}})
	for _, c := range []struct {
		origin string
		want   bool
	}{
		{"", true},                         // not a browser
		{"https://xmpp.a.test:5281", true}, // the request's own host
		{"https://chat.a.test", true},      // the public URL
		{"https://app.a.test", true},
		{"http://app.a.test", false}, // scheme given in the list
		{"https://x.b.test", true},
		{"http://x.b.test", true},
		{"https://b.test.evil", false},
		{"https://evil.test", false},
		{"null", false},
	} {
		r, _ := http.NewRequest("GET", "https://xmpp.a.test:5281/xmpp-websocket", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := s.AllowOrigin(r); got != c.want {
			t.Errorf("origin %q: %v, want %v", c.origin, got, c.want)
		}
	}
}

// TestDiscoverAndChatWithMellium has mellium's WebSocket client find the
// endpoint from the JID alone (XEP-0156 host-meta on the JID's domain),
// log in over wss:// and chat with a client over TCP.
func TestDiscoverAndChatWithMellium(t *testing.T) {
	const domain = "web.parley.test"
	addr := testutil.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	testutil.MapHosts(t, map[string]string{domain: "127.0.0.1"})
	srv := testutil.Start(t, testutil.Options{Domain: domain, Extra: "[http]\ntls_listen = \"" + addr + "\"\npublic_url = \"https://" + domain + ":" + port + "\"\n"})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	b := testutil.Login(t, srv.Addr, "bob@"+domain, "bob-pw", "pc")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// host-meta is fetched from https://<domain>/ (port 443); the test
	// server's HTTPS listener stands in for it.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: insecure,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, network, addr)
		},
	}}
	// mellium takes a stream to be encrypted when the Origin it gives
	// has the wss scheme.
	d := websocket.Dialer{Origin: "wss://" + domain + ":" + port, TLSConfig: insecure, Client: client}
	alice := jid.MustParse("alice@" + domain + "/web")
	conn, err := d.Dial(ctx, alice)
	if err != nil {
		t.Fatalf("discover and dial: %v", err)
	}
	sess, err := websocket.NewSession(ctx, alice, conn, xmpp.SASL("", "alice-pw", sasl.ScramSha256), xmpp.BindResource())
	if err != nil {
		t.Fatalf("session over WebSocket: %v", err)
	}
	defer sess.Close()
	got := make(chan string, 1)
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- sess.Serve(xmpp.HandlerFunc(func(r xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local != "message" {
				return nil
			}
			var m struct {
				Body string `xml:"body"`
			}
			if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), r)).Decode(&m); err != nil {
				return err
			}
			got <- m.Body
			return nil
		}))
	}()
	body := xmlstream.Wrap(xmlstream.Token(xml.CharData("hello from the web")), xml.StartElement{Name: xml.Name{Local: "body"}})
	if err := sess.Send(ctx, mstanza.Message{To: jid.MustParse(b.JID), Type: mstanza.ChatMessage}.Wrap(body)); err != nil {
		t.Fatal(err)
	}
	if m := b.Expect(testutil.IsKind("message")); m.ChildText("", "body") != "hello from the web" || !strings.HasPrefix(m.From(), "alice@"+domain+"/") {
		t.Fatalf("bob got %s", m)
	}
	b.Sendf("<message to='%s' type='chat'><body>hello browser</body></message>", sess.LocalAddr())
	select {
	case m := <-got:
		if m != "hello browser" {
			t.Fatalf("alice got %q", m)
		}
	case err := <-serveErr:
		t.Fatalf("alice's session ended: %v", err)
	case <-ctx.Done():
		t.Fatalf("alice (%s) got nothing", sess.LocalAddr())
	}
}

func TestURL(t *testing.T) {
	for _, c := range []struct {
		name   string
		o      httpserver.Options
		prefix string
	}{
		{"loopback listener", httpserver.Options{Listen: "127.0.0.1:0", Host: "a.test"}, "http://127.0.0.1:"},
		{"every address", httpserver.Options{Listen: "0.0.0.0:0", Host: "a.test"}, "http://a.test:"},
		{"public URL", httpserver.Options{Listen: "127.0.0.1:0", PublicURL: "https://chat.a.test/xmpp"}, "https://chat.a.test/xmpp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := httpserver.New(c.o)
			if c.o.PublicURL == "" && s.URL() != "" {
				t.Fatalf("URL before Start: %q", s.URL())
			}
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(t.Context())
			if got := s.URL(); !strings.HasPrefix(got, c.prefix) {
				t.Fatalf("URL %q, want %s...", got, c.prefix)
			}
		})
	}
}
