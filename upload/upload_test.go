package upload_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/upload"
)

const uploadDomain = "upload.parley.test"

// start runs a server with the upload service and logs alice and bob in.
func start(t *testing.T, extra string) (srv *testutil.Server, alice, bob *testutil.Client) {
	t.Helper()
	srv = testutil.Start(t, testutil.Options{LogLevel: "info", Extra: "[http]\nlisten = \"127.0.0.1:0\"\norigins = [\"https://app.example.com\"]\n[upload]\ndomain = \"" + uploadDomain + "\"\n" + extra})
	srv.AddUser("alice", "alice-pw")
	srv.AddUser("bob", "bob-pw")
	alice = testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "pc")
	bob = testutil.Login(t, srv.Addr, "bob@"+srv.Domain, "bob-pw", "pc")
	return srv, alice, bob
}

// requestSlot asks for a slot and returns the response.
func requestSlot(c *testutil.Client, name string, size int, ctype string) *stanza.Element {
	c.T.Helper()
	attrs := fmt.Sprintf(" filename='%s' size='%d'", name, size)
	if ctype != "" {
		attrs += " content-type='" + ctype + "'"
	}
	return c.IQ("<iq type='get' to='" + uploadDomain + "'><request xmlns='urn:xmpp:http:upload:0'" + attrs + "/></iq>")
}

// slot asks for a slot and returns its PUT and GET URLs.
func slot(t *testing.T, c *testutil.Client, name string, size int, ctype string) (put, get string) {
	t.Helper()
	r := requestSlot(c, name, size, ctype)
	s := r.Child(upload.NS, "slot")
	if r.Type() != "result" || s == nil {
		t.Fatalf("slot request: %s", r)
	}
	return s.Child(upload.NS, "put").Attr("url"), s.Child(upload.NS, "get").Attr("url")
}

func do(t *testing.T, method, u string, body io.Reader, size int64, header http.Header) (*http.Response, string) {
	t.Helper()
	return testutil.HTTPDo(t, method, u, body, size, header)
}

func TestDiscovery(t *testing.T) {
	srv, alice, _ := start(t, "max_file_size = 5000\n")
	items := alice.IQ("<iq type='get' to='" + srv.Domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if !strings.Contains(items.String(), "jid='"+uploadDomain+"'") {
		t.Fatalf("server items: %s", items)
	}
	info := alice.IQ("<iq type='get' to='" + uploadDomain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	s := info.String()
	for _, want := range []string{"category='store' type='file'", "var='urn:xmpp:http:upload:0'", "<value>urn:xmpp:http:upload:0</value>", "var='max-file-size'", "<value>5000</value>"} {
		if !strings.Contains(s, want) {
			t.Errorf("disco#info lacks %s: %s", want, s)
		}
	}
}

func TestUploadAndDownload(t *testing.T) {
	srv, alice, _ := start(t, "")
	content := strings.Repeat("0123456789", 1000)
	put, get := slot(t, alice, "report ü.txt", len(content), "text/plain")
	if !strings.HasPrefix(put, "http://"+srv.Server.Addr("http")+"/upload/") || !strings.HasPrefix(put, get+"?") {
		t.Fatalf("put %s get %s", put, get)
	}
	// Not there before the upload.
	if resp, _ := do(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET before PUT: %s", resp.Status)
	}
	if resp, body := do(t, "PUT", put, strings.NewReader(content), int64(len(content)), http.Header{"Content-Type": {"text/plain"}}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	resp, body := do(t, "GET", get, nil, 0, nil)
	if resp.StatusCode != http.StatusOK || body != content {
		t.Fatalf("GET: %s, %d bytes", resp.Status, len(body))
	}
	for h, want := range map[string]string{
		"Content-Type":            "text/plain; charset=utf-8",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"Content-Disposition":     "inline; filename*=utf-8''report%20%C3%BC.txt",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	// Range.
	resp, body = do(t, "GET", get, nil, 0, http.Header{"Range": {"bytes=10-19"}})
	if resp.StatusCode != http.StatusPartialContent || body != "0123456789" || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(content)) {
		t.Fatalf("range: %s %q %s", resp.Status, body, resp.Header.Get("Content-Range"))
	}
	// The same slot takes one upload.
	if resp, _ := do(t, "PUT", put, strings.NewReader(content), int64(len(content)), http.Header{"Content-Type": {"text/plain"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second PUT: %s", resp.Status)
	}
	// Files survive a restart.
	dir := srv.Dir
	srv.Stop()
	srv2 := testutil.Start(t, testutil.Options{Dir: dir, Extra: "[http]\nlisten = \"" + srv.Server.Addr("http") + "\"\n[upload]\ndomain = \"" + uploadDomain + "\"\n"})
	if resp, body := do(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusOK || body != content {
		t.Fatalf("GET after restart: %s", resp.Status)
	}
	// Deleting the account removes the owner's files.
	srv2.Server.Router().AccountDeleted(t.Context(), jid.MustParse("alice@"+srv2.Domain))
	if resp, _ := do(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after the account's deletion: %s", resp.Status)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "data", "uploads", "*.data"))
	if len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
}

// TestServedTypes: what a browser could run is downloaded, never shown.
func TestServedTypes(t *testing.T) {
	_, alice, _ := start(t, "")
	for _, c := range []struct{ declared, served, disposition string }{
		{"image/png", "image/png", "inline"},
		{"text/html", "application/octet-stream", "attachment"},
		{"image/svg+xml", "application/octet-stream", "attachment"},
		{"", "application/octet-stream", "attachment"},
	} {
		put, get := slot(t, alice, "f", 4, c.declared)
		h := http.Header{}
		if c.declared != "" {
			h.Set("Content-Type", c.declared)
		}
		if resp, body := do(t, "PUT", put, strings.NewReader("<a/>"), 4, h); resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: PUT %s %s", c.declared, resp.Status, body)
		}
		resp, _ := do(t, "GET", get, nil, 0, nil)
		if resp.Header.Get("Content-Type") != c.served || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), c.disposition) {
			t.Errorf("%q served as %s, %s", c.declared, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
	}
}

func TestSlotRefusals(t *testing.T) {
	_, alice, _ := start(t, "max_file_size = 1000\nquota = 1500\ncontent_types = [\"image/*\", \"text/plain\"]\n")
	cases := []struct {
		name, file, ctype string
		size              int
		condition, extra  string
	}{
		{"too large", "big.png", "image/png", 1001, "not-acceptable", "<max-file-size>1000</max-file-size>"},
		{"type not accepted", "x.exe", "application/x-msdownload", 10, "not-acceptable", "not accepted"},
		{"no filename", "", "image/png", 10, "bad-request", "filename"},
		{"no size", "a.png", "image/png", -1, "bad-request", "size"},
		{"bad type", "a.png", "image", 10, "bad-request", "content-type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := requestSlot(alice, c.file, c.size, c.ctype)
			if r.Type() != "error" || r.Child("", "error").Child(stanza.NSStanzas, c.condition) == nil || !strings.Contains(r.String(), c.extra) {
				t.Fatalf("got %s", r)
			}
		})
	}
	// The quota counts stored files.
	put, _ := slot(t, alice, "a.txt", 1000, "text/plain")
	if resp, body := do(t, "PUT", put, strings.NewReader(strings.Repeat("x", 1000)), 1000, http.Header{"Content-Type": {"text/plain"}}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	r := requestSlot(alice, "b.txt", 600, "text/plain")
	if e := r.Child("", "error"); e == nil || e.Attr("type") != "wait" || e.Child(stanza.NSStanzas, "resource-constraint") == nil {
		t.Fatalf("over quota: %s", r)
	}
}

func TestBadUploads(t *testing.T) {
	srv, alice, bob := start(t, "")
	content := "hello"
	put, get := slot(t, alice, "a.txt", len(content), "text/plain")
	u, _ := url.Parse(put)
	tamper := func(key, value string) string {
		q := u.Query()
		q.Set(key, value)
		v := *u
		v.RawQuery = q.Encode()
		return v.String()
	}
	base := "http://" + srv.Server.Addr("http")
	plain := http.Header{"Content-Type": {"text/plain"}}
	cases := []struct {
		name, method, url, body string
		size                    int64
		header                  http.Header
		status                  int
	}{
		{"forged signature", "PUT", tamper("sig", strings.Repeat("0", 64)), content, 5, plain, 403},
		{"larger size", "PUT", tamper("size", "50"), content, 5, plain, 403},
		{"other owner", "PUT", tamper("owner", bob.JID), content, 5, plain, 403},
		{"more than the slot", "PUT", put, content + "!", 6, plain, 413},
		{"less than the slot", "PUT", put, "hell", 4, plain, 400},
		{"other content type", "PUT", put, content, 5, http.Header{"Content-Type": {"text/html"}}, 400},
		{"foreign origin", "PUT", put, content, 5, http.Header{"Content-Type": {"text/plain"}, "Origin": {"https://evil.example.net"}}, 403},
		{"traversal in the id", "GET", base + "/upload/..%2f..%2fsecret/x", "", 0, nil, 404},
		{"traversal in the name", "GET", get + "%2f..%2f..%2fsecret", "", 0, nil, 404},
		{"dot segments", "GET", base + "/upload/../../config.toml", "", 0, nil, 404},
		{"unsigned id", "GET", base + "/upload/" + strings.Repeat("A", 32) + "/a.txt", "", 0, nil, 404},
		{"no name", "GET", base + "/upload/x", "", 0, nil, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.method == "PUT" {
				body = strings.NewReader(c.body)
			}
			if resp, text := do(t, c.method, c.url, body, c.size, c.header); resp.StatusCode != c.status {
				t.Fatalf("got %s %q, want %d", resp.Status, text, c.status)
			}
		})
	}
	// None of this stored anything; the slot still takes its upload.
	if resp, _ := do(t, "GET", get, nil, 0, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET: %s", resp.Status)
	}
	if resp, body := do(t, "PUT", put, strings.NewReader(content), 5, plain); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
}

// zeros is a reader of n zero bytes that allocates nothing.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestLargeUploadIsStreamed: an upload is written to disk as it arrives,
// never held in memory whole.
func TestLargeUploadIsStreamed(t *testing.T) {
	srv, alice, _ := start(t, "")
	const size = 64 << 20
	put, get := slot(t, alice, "big.bin", size, "application/octet-stream")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, body := do(t, "PUT", put, &zeros{size}, size, http.Header{"Content-Type": {"application/octet-stream"}})
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Fatalf("uploading %d bytes allocated %d bytes", size, alloc)
	}
	resp, _ = do(t, "HEAD", get, nil, 0, nil)
	if resp.ContentLength != size {
		t.Fatalf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
	}
	if srv.Server.Addr("http") == "" {
		t.Fatal("no HTTP listener")
	}
}
