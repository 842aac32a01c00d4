package c2s_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/internal/testutil"
	"parley/stanza"
)

// boshServer starts a server with plain HTTP and HTTPS listeners and
// returns it with its http:// and https:// BOSH endpoints; extra starts
// inside the [http] section.
func boshServer(t *testing.T, extra string) (srv *testutil.Server, bosh, boshs string) {
	t.Helper()
	srv, ws, wss := wsServer(t, extra)
	return srv, "http" + strings.TrimSuffix(strings.TrimPrefix(ws, "ws"), "/xmpp-websocket") + "/http-bind",
		"https" + strings.TrimSuffix(strings.TrimPrefix(wss, "wss"), "/xmpp-websocket") + "/http-bind"
}

func TestBOSHChat(t *testing.T) {
	srv, bosh, boshs := boshServer(t, "")
	for _, url := range []string{bosh, boshs} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			s := testutil.DialBOSH(t, url, srv.Domain, 5)
			if s.Features.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") != nil {
				t.Fatalf("STARTTLS offered over BOSH: %s", s.Features)
			}
			mechs := s.Features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms")
			if mechs == nil || !strings.Contains(mechs.String(), "SCRAM-SHA-256") || strings.Contains(mechs.String(), "-PLUS") {
				t.Fatalf("features: %s", s.Features)
			}
			if el := s.Authenticate(msasl.ScramSha256, "alice", "alice-pw"); el.Local != "success" {
				t.Fatalf("SASL over BOSH: %s", el)
			}
			s.Open(srv.Domain)
			a := s.Bind("web")
			ac := s.Client(a)

			b := testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
			b.Sendf("<message to='%s' type='chat' id='m1'><body>over there</body></message>", a)
			if got := ac.Expect(testutil.IsKind("message")); got.ChildText("", "body") != "over there" || got.From() != b.JID {
				t.Fatalf("BOSH client got %s", got)
			}
			ac.Sendf("<message xmlns='jabber:client' to='%s' type='chat'><body>and back</body></message>", b.JID)
			if got := b.Expect(testutil.IsKind("message")); got.ChildText("", "body") != "and back" || got.From() != a {
				t.Fatalf("TCP client got %s", got)
			}
			// Stanzas without a namespace of their own are jabber:client.
			ac.Send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
			if r := ac.Expect(testutil.IsKind("iq")); r.Type() != "result" || r.ID() != "p1" {
				t.Fatalf("ping: %s", r)
			}
			// Terminating the session ends the resource.
			ac.Close()
			waitFor(t, "alice is offline", func() bool { return len(srv.Server.Router().Resources("alice@"+srv.Domain)) == 0 })
		})
	}
}

// TestBOSHSessionCreation checks the attributes of the session creation
// response (XEP-0124 §7.1, XEP-0206 §4).
func TestBOSHSessionCreation(t *testing.T) {
	srv, bosh, _ := boshServer(t, "bosh_max_wait = \"20s\"\n")
	status, body := testutil.BOSHPost(t, bosh, "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='500' to='"+srv.Domain+"' wait='60' hold='1' ver='1.6' xml:lang='en' xmpp:version='1.0'/>")
	if status != http.StatusOK || body == nil {
		t.Fatalf("status %d body %v", status, body)
	}
	for attr, want := range map[string]string{"wait": "20", "hold": "1", "requests": "2", "inactivity": "60", "polling": "2", "ver": "1.11", "from": srv.Domain, "secure": "true"} {
		if got := body.Attr(attr); got != want {
			t.Errorf("%s=%q, want %q", attr, got, want)
		}
	}
	if body.Attr("sid") == "" || body.Attr("authid") == "" || body.Attr("type") != "" {
		t.Errorf("creation response: %s", body)
	}
	if f := body.Child(stanza.NSStream, "features"); f == nil || f.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms") == nil {
		t.Errorf("no stream features in the creation response: %s", body)
	}
	// A stream error ends the session with remote-stream-error.
	_, body = testutil.BOSHPost(t, bosh, "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='7' to='elsewhere.example' wait='5' hold='1' xmpp:version='1.0'/>")
	if body == nil || body.Attr("type") != "terminate" || body.Attr("condition") != "remote-stream-error" ||
		body.Child(stanza.NSStream, "error").Child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown") == nil {
		t.Fatalf("stream error: %v", body)
	}
	// host-meta names the endpoint.
	resp, err := http.Get(strings.TrimSuffix(bosh, "/http-bind") + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(data), "urn:xmpp:alt-connections:xbosh") || !strings.Contains(string(data), bosh) {
		t.Fatalf("host-meta.json: %s", data)
	}
}

// boshLogin logs alice in over BOSH, stops the client's own requests and
// returns the session id and the next request id, for raw requests.
func boshLogin(t *testing.T, srv *testutil.Server, url string) (sid string, rid uint64, post func(rid uint64, attrs, payload string) (int, *stanza.Element)) {
	t.Helper()
	s := testutil.DialBOSH(t, url, srv.Domain, 2)
	if el := s.Authenticate(msasl.ScramSha256, "alice", "alice-pw"); el.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	s.Open(srv.Domain)
	s.Bind("raw")
	sid, rid = s.BOSH.Abandon()
	post = func(rid uint64, attrs, payload string) (int, *stanza.Element) {
		return testutil.BOSHPost(t, url, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'%s>%s</body>", rid, sid, attrs, payload))
	}
	return sid, rid, post
}

func ping(id string) string {
	return "<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>"
}

// TestBOSHRequestIDs: requests are taken in rid order, a repeated request
// gets the same response again, and a rid out of the window ends the
// session.
func TestBOSHRequestIDs(t *testing.T) {
	srv, bosh, _ := boshServer(t, "")
	_, rid, post := boshLogin(t, srv, bosh)

	// The later request overtakes the earlier one: it waits for it.
	var wg sync.WaitGroup
	var second *stanza.Element
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, second = post(rid+1, "", ping("second"))
	}()
	time.Sleep(200 * time.Millisecond)
	_, first := post(rid, "", ping("first"))
	wg.Wait()
	// Answers come in request order; what no held request took waits
	// for the next one.
	var ids []string
	collect := func(r *stanza.Element) {
		for _, el := range r.Elements() {
			ids = append(ids, el.ID())
		}
	}
	collect(first)
	collect(second)
	next := rid + 2
	for _, payload := range []string{ping("third"), "", ""} {
		_, r := post(next, "", payload)
		next++
		collect(r)
		if len(ids) == 3 {
			break
		}
	}
	if strings.Join(ids, ",") != "first,second,third" {
		t.Fatalf("answers in the order %v", ids)
	}
	// A repeated rid gets the same response.
	_, again := post(rid+1, "", ping("ignored"))
	if again.String() != second.String() {
		t.Fatalf("repeated request: %s, first time %s", again, second)
	}
	rid = next - 1
	_, r := post(rid+10, "", "")
	if r.Attr("type") != "terminate" || r.Attr("condition") != "item-not-found" {
		t.Fatalf("rid out of window: %s", r)
	}
	if _, r := post(rid+3, "", ping("late")); r.Attr("type") != "terminate" {
		t.Fatalf("after the session ended: %s", r)
	}
	waitFor(t, "alice is offline", func() bool { return len(srv.Server.Router().Resources("alice@"+srv.Domain)) == 0 })
}

func TestBOSHBadInput(t *testing.T) {
	srv, bosh, _ := boshServer(t, "[c2s]\nmax_stanza_size = 10000\n")
	b := testutil.LoginBOSH(t, bosh, "bob@"+srv.Domain, "bob-pw", "bystander")
	raw := func(method, body string, header http.Header) (int, string, http.Header) {
		t.Helper()
		resp, data := testutil.HTTPDo(t, method, bosh, strings.NewReader(body), int64(len(body)), header)
		return resp.StatusCode, data, resp.Header
	}
	cases := []struct {
		name, method, body string
		header             http.Header
		status             int
		want               string
	}{
		{"unknown sid", "POST", "<body xmlns='http://jabber.org/protocol/httpbind' rid='5' sid='nosuch'/>", nil, 404, "condition='item-not-found'"},
		{"malformed XML", "POST", "<body xmlns='http://jabber.org/protocol/httpbind' rid='5' sid='x'><message>", nil, 400, "condition='bad-request'"},
		{"not a body", "POST", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>", nil, 400, "condition='bad-request'"},
		{"no rid", "POST", "<body xmlns='http://jabber.org/protocol/httpbind' to='" + srv.Domain + "'/>", nil, 400, "rid"},
		{"no to", "POST", "<body xmlns='http://jabber.org/protocol/httpbind' rid='9'/>", nil, 400, "condition='improper-addressing'"},
		{"oversized", "POST", "<body xmlns='http://jabber.org/protocol/httpbind' rid='5' sid='x'>" + strings.Repeat("<x/>", 5000) + "</body>", nil, 413, "policy-violation"},
		{"get", "GET", "", nil, 405, "POST"},
		{"foreign origin", "POST", "<body/>", http.Header{"Origin": {"https://evil.example.net"}}, 403, "evil.example.net"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := raw(c.method, c.body, c.header)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %q, want %d with %q", status, body, c.status, c.want)
			}
		})
	}
	t.Run("CORS preflight", func(t *testing.T) {
		status, _, h := raw("OPTIONS", "", http.Header{"Origin": {"https://app.example.com"}, "Access-Control-Request-Method": {"POST"}})
		if status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
			t.Fatalf("preflight: %d %v", status, h)
		}
	})
	t.Run("pause beyond maxpause", func(t *testing.T) {
		_, rid, post := boshLogin(t, srv, bosh)
		if _, r := post(rid, " pause='100000'", ""); r.Attr("condition") != "policy-violation" {
			t.Fatalf("pause: %s", r)
		}
	})
	t.Run("polling too often", func(t *testing.T) {
		status, r := testutil.BOSHPost(t, bosh, "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='10' to='"+srv.Domain+"' wait='5' hold='0' xmpp:version='1.0'/>")
		if status != http.StatusOK || r.Attr("hold") != "0" || r.Attr("requests") != "1" {
			t.Fatalf("polling session: %d %s", status, r)
		}
		post := func(rid int) *stanza.Element {
			_, r := testutil.BOSHPost(t, bosh, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'/>", rid, r.Attr("sid")))
			return r
		}
		// Answered at once, being a polling session.
		if r := post(11); r.Attr("type") != "" {
			t.Fatalf("first poll: %s", r)
		}
		if r := post(12); r.Attr("condition") != "policy-violation" {
			t.Fatalf("second poll right after: %s", r)
		}
	})
	t.Run("session flood", func(t *testing.T) {
		refused := 0
		for i := 0; i < 70 && refused == 0; i++ {
			status, r := testutil.BOSHPost(t, bosh, "<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='"+strconv.Itoa(100+i)+"' to='"+srv.Domain+"' wait='1' hold='1' xmpp:version='1.0'/>")
			if status == http.StatusTooManyRequests && r.Attr("condition") == "policy-violation" {
				refused = i
			}
		}
		if refused == 0 {
			t.Fatal("70 new sessions from one address in a row were all accepted")
		}
	})
	// The bystander's session is unharmed by all of this.
	b.Send(ping("after"))
	if r := b.Expect(testutil.IsKind("iq")); r.Type() != "result" || r.ID() != "after" {
		t.Fatalf("ping after: %s", r)
	}
}

// TestBOSHResume: a BOSH session whose client stopped polling ends after
// the inactivity period; its stream management session waits and is
// resumed over a new BOSH session, with what arrived meanwhile. A client
// may also announce a pause.
func TestBOSHResume(t *testing.T) {
	srv, bosh, _ := boshServer(t, "bosh_inactivity = \"1s\"\n")
	alice := "alice@" + srv.Domain
	login := func() *testutil.Stream {
		s := testutil.DialBOSH(t, bosh, srv.Domain, 2)
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
	time.Sleep(100 * time.Millisecond)
	s.BOSH.Abandon() // the tab went away
	srv.WaitLog(10*time.Second, "client session waits for resumption")
	b.Sendf("<message to='%s/tab' type='chat'><body>m1</body></message>", alice)

	r := login()
	r.Write(fmt.Sprintf("<resume xmlns='urn:xmpp:sm:3' previd='%s' h='1'/>", id))
	if el := r.Next(); el.Local != "resumed" {
		t.Fatalf("resume: %s", el)
	}
	if got, _ := bodies(t, r, 1); got[0] != "m1" {
		t.Fatalf("after resumption: %v", got)
	}

	// Pause: the session outlives the inactivity period by the pause.
	_, rid := r.BOSH.Abandon()
	sid := r.BOSH.SID
	status, resp := testutil.BOSHPost(t, bosh, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s' pause='4'/>", rid, sid))
	if status != http.StatusOK || resp.Attr("type") == "terminate" {
		t.Fatalf("pause: %d %s", status, resp)
	}
	time.Sleep(2 * time.Second)
	_, resp = testutil.BOSHPost(t, bosh, fmt.Sprintf("<body xmlns='http://jabber.org/protocol/httpbind' rid='%d' sid='%s'>%s</body>", rid+1, sid, ping("back")))
	if resp.Attr("type") == "terminate" || len(resp.Elements()) == 0 || resp.Elements()[0].ID() != "back" {
		t.Fatalf("after the pause: %s", resp)
	}
}
