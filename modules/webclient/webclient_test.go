package webclient_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley/internal/testutil"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

func TestWebClient(t *testing.T) {
	dist := t.TempDir()
	os.WriteFile(filepath.Join(dist, "converse.min.js"), []byte("/* converse */"), 0o644)
	srv := testutil.Start(t, testutil.Options{Extra: "[http]\nlisten = \"127.0.0.1:0\"\nweb_client = \"" + dist + "\"\n"})
	base := "http://" + srv.Server.Addr("http")
	code, body, h := get(t, base+"/web/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %v", code, h)
	}
	for _, want := range []string{`"websocket_url":"ws://` + srv.Server.Addr("http") + `/xmpp-websocket"`, `"bosh_service_url":"` + base + `/http-bind"`, `"default_domain":"` + srv.Domain + `"`, `src="dist/converse.min.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s:\n%s", want, body)
		}
	}
	if code, body, _ := get(t, base+"/web/dist/converse.min.js"); code != 200 || body != "/* converse */" {
		t.Fatalf("script: %d %q", code, body)
	}
	for _, path := range []string{"/web/other", "/web/dist/nothing.js", "/web/dist/..%2f..%2fconfig.toml"} {
		if code, _, _ := get(t, base+path); code != 404 {
			t.Errorf("%s: %d", path, code)
		}
	}
}
