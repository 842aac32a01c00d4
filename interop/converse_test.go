package interop_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/stanza"
)

// converseDir is where interop/web's npm packages are installed.
func converseDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "converse.js", "dist", "converse.min.js")); err != nil {
		testutil.Missing(t, "Converse.js is not installed (cd interop/web && PUPPETEER_SKIP_DOWNLOAD=1 npm ci)")
	}
	return dir
}

// conversePage serves a page that starts Converse.js with settings, and
// Converse's files under /dist/; it returns the page's URL.
func conversePage(t *testing.T, dir string, settings map[string]any) string {
	t.Helper()
	js, _ := json.Marshal(settings)
	page := `<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/dist/converse.min.css">
<script type="module" src="/dist/converse.min.js"></script></head>
<body class="converse-fullscreen"><script type="module">converse.initialize(` + string(js) + `);</script></body></html>`
	mux := http.NewServeMux()
	mux.Handle("/dist/", http.StripPrefix("/dist/", http.FileServer(http.Dir(filepath.Join(dir, "node_modules", "converse.js", "dist")))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// runConverse runs interop/web/converse.mjs with args and returns the
// steps it reported.
func runConverse(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	node := testutil.RequireTool(t, "node", "nodejs")
	chromium := testutil.RequireTool(t, "chromium", "chromium")
	shots := filepath.Join(os.TempDir(), "parley-converse-"+filepath.Base(t.TempDir()))
	os.MkdirAll(shots, 0o755)
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "converse.mjs"), "--chromium", chromium, "--shots", shots}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// The steps the script reached, in order; what the page reported on
	// the way (console errors, failed requests) is logged.
	var steps []string
	main := map[string]bool{"roster": true, "sent": true, "received": true, "reloaded": true, "history": true, "done": true}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s struct {
			Step, Error, Text string
		}
		if json.Unmarshal(sc.Bytes(), &s) != nil {
			continue
		}
		if main[s.Step] {
			steps = append(steps, s.Step)
		} else {
			t.Logf("converse: %s %s%s", s.Step, s.Error, s.Text)
		}
	}
	t.Logf("screenshots in %s", shots)
	if err != nil {
		t.Fatalf("converse.mjs: %v; steps %v\n%s", err, steps, stderr.String())
	}
	return steps
}

// TestConverse: Converse.js 14 in headless Chromium logs in over
// WebSocket and over BOSH, shows the roster, chats both ways with a
// contact on a TCP client, and after a page reload shows the conversation
// again from the archive.
func TestConverse(t *testing.T) {
	dir := converseDir(t)
	for _, transport := range []string{"websocket", "bosh"} {
		t.Run(transport, func(t *testing.T) { converseChat(t, dir, transport) })
	}
}

func converseChat(t *testing.T, dir, transport string) {
	srv := testutil.Start(t, testutil.Options{Extra: "[http]\nlisten = \"127.0.0.1:0\"\norigins = [\"http://127.0.0.1:*\"]\n[mam]\nenabled = true\n"})
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	b := testutil.Login(t, srv.Addr, bob, "bob-pw", "pc")
	b.Send("<presence/>")

	settings := map[string]any{
		"discover_connection_methods": false,
		"auto_login":                  true,
		"jid":                         alice,
		"password":                    "alice-pw",
		"view_mode":                   "fullscreen",
		"loglevel":                    "warn",
		"persistent_store":            "localStorage",
	}
	if transport == "bosh" {
		settings["bosh_service_url"] = "http://" + srv.Server.Addr("http") + "/http-bind"
	} else {
		settings["websocket_url"] = "ws://" + srv.Server.Addr("http") + "/xmpp-websocket"
	}
	page := conversePage(t, dir, settings)
	// bob answers the first message from alice's browser.
	answered := make(chan string, 1)
	go func() {
		el, err := expectWithin(b, 60*time.Second, func(el *stanza.Element) bool {
			return el.Local == "message" && strings.HasPrefix(el.From(), alice+"/") && el.ChildText("", "body") != ""
		})
		if err != nil {
			answered <- err.Error()
			return
		}
		b.Sendf("<message to='%s' type='chat'><body>Hello from a TCP client</body></message>", el.From())
		answered <- el.ChildText("", "body")
	}()
	steps := runConverse(t, dir, "--page", page, "--peer", bob,
		"--send", "Hello from the browser", "--expect", "Hello from a TCP client",
		"--reload-expect", "Hello from a TCP client", "--timeout", "30000")
	if got := <-answered; got != "Hello from the browser" {
		t.Fatalf("bob got %q", got)
	}
	if want := "roster sent received reloaded history done"; strings.Join(steps, " ") != want {
		t.Fatalf("steps %v, want %s", steps, want)
	}
}

// expectWithin waits up to d for a stanza matching match.
func expectWithin(c *testutil.Client, d time.Duration, match func(*stanza.Element) bool) (*stanza.Element, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if els := c.Take(match); len(els) > 0 {
			return els[0], nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("nothing arrived in %s", d)
}
