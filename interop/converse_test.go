package interop_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
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
	return runWebScript(t, dir, "converse.mjs", args...)
}

// runWebScript runs the puppeteer script of interop/web with args and
// returns the steps it reported.
func runWebScript(t *testing.T, dir, script string, args ...string) []string {
	t.Helper()
	node := testutil.RequireTool(t, "node", "nodejs")
	chromium := testutil.RequireTool(t, "chromium", "chromium")
	shots := filepath.Join(os.TempDir(), "parley-converse-"+filepath.Base(t.TempDir()))
	os.MkdirAll(shots, 0o755)
	cmd := exec.Command(node, append([]string{filepath.Join(dir, script), "--chromium", chromium, "--shots", shots}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// The steps the script reached, in order; what the page reported on
	// the way (console errors, failed requests) is logged.
	var steps []string
	main := map[string]bool{"submitted": true, "roster": true, "chat": true, "reply": true, "room": true, "upload": true, "reloaded": true, "history": true, "done": true}
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
		t.Fatalf("%s: %v; steps %v\n%s", script, err, steps, stderr.String())
	}
	return steps
}

// TestConverse: Converse.js 14 in headless Chromium, in two browser
// profiles: alice and bob log in (one over WebSocket, the other over
// BOSH, then the other way round), see each other in the roster, chat
// both ways, talk in a room, share a picture through HTTP File Upload;
// alice's reloaded tab shows the conversation again, and a fresh profile
// of hers gets it from the archive.
func TestConverse(t *testing.T) {
	dir := converseDir(t)
	for _, c := range []struct{ alice, bob string }{{"websocket", "bosh"}, {"bosh", "websocket"}} {
		t.Run("alice over "+c.alice+", bob over "+c.bob, func(t *testing.T) { converseScenario(t, dir, c.alice, c.bob) })
	}
}

func converseScenario(t *testing.T, dir, aliceTransport, bobTransport string) {
	srv := testutil.Start(t, testutil.Options{Extra: "[http]\nlisten = \"127.0.0.1:0\"\norigins = [\"http://127.0.0.1:*\"]\n[mam]\nenabled = true\n[muc]\ndomain = \"conference." + testutil.Domain + "\"\n[upload]\ndomain = \"upload." + testutil.Domain + "\"\n"})
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	srv.SetSubscription(alice, bob, "both")
	srv.SetSubscription(bob, alice, "both")
	room := "lobby@" + srv.Server.MUC().Domain()

	page := func(jid, password, transport string) string {
		settings := map[string]any{
			"discover_connection_methods": false,
			"auto_login":                  true,
			"jid":                         jid,
			"password":                    password,
			"view_mode":                   "fullscreen",
			"loglevel":                    "warn",
			"persistent_store":            "localStorage",
			"auto_join_rooms":             []string{room},
			"muc_nickname_from_jid":       true,
		}
		if transport == "bosh" {
			settings["bosh_service_url"] = "http://" + srv.Server.Addr("http") + "/http-bind"
		} else {
			settings["websocket_url"] = "ws://" + srv.Server.Addr("http") + "/xmpp-websocket"
		}
		return conversePage(t, dir, settings)
	}
	picture := filepath.Join(t.TempDir(), "picture.png")
	writePNG(t, picture)
	steps := runConverse(t, dir, "--alice-page", page(alice, "alice-pw", aliceTransport), "--bob-page", page(bob, "bob-pw", bobTransport),
		"--alice", alice, "--bob", bob, "--room", room, "--file", picture, "--timeout", "30000")
	if want := "roster chat reply room upload reloaded history done"; strings.Join(steps, " ") != want {
		t.Fatalf("steps %v, want %s", steps, want)
	}
}

// TestWebClientServedByParley: the Converse.js that parley serves at
// /web/ (http.web_client) logs in from its own form, with nothing but
// the JID and password, and shows the roster.
func TestWebClientServedByParley(t *testing.T) {
	dir := converseDir(t)
	dist := filepath.Join(dir, "node_modules", "converse.js", "dist")
	srv := testutil.Start(t, testutil.Options{Extra: "[http]\nlisten = \"127.0.0.1:0\"\nweb_client = \"" + dist + "\"\n"})
	alice := srv.AddUser("alice", "alice-pw")
	bob := srv.AddUser("bob", "bob-pw")
	srv.SetSubscription(alice, bob, "both")
	steps := runWebScript(t, dir, "login.mjs", "--page", "http://"+srv.Server.Addr("http")+"/web/", "--jid", alice, "--password", "alice-pw", "--peer", bob)
	if want := "submitted roster done"; strings.Join(steps, " ") != want {
		t.Fatalf("steps %v, want %s", steps, want)
	}
}

// writePNG writes a small picture.
func writePNG(t *testing.T, file string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(4 * x), uint8(5 * y), 200, 255})
		}
	}
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
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
