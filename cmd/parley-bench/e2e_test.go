package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
)

// TestMain lets the test binary act as an idle child process when the
// idle scenario re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv(idleChildEnv) != "" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

func noEnv(string) string { return "" }

// transports are the client transports every end-to-end scenario test
// runs over.
var transports = []string{transportTCP, transportWebSocket}

// benchServer starts parley in-process with accounts user1..userN
// (password bench-pw) and returns the common flags for it over
// transport: over WebSocket the server also listens for HTTP, and the
// flags point the generator at its WebSocket endpoint.
func benchServer(t *testing.T, transport string, users int) []string {
	t.Helper()
	extra := ""
	if transport == transportWebSocket {
		extra = "[http]\nlisten = \"127.0.0.1:0\"\n"
	}
	srv := testutil.StartServer(t, extra)
	for i := 1; i <= users; i++ {
		srv.AddUser(fmt.Sprintf("user%d", i), "bench-pw")
	}
	flags := []string{"-addr", srv.Addr, "-domain", srv.Domain, "-server", "parley",
		"-pid", strconv.Itoa(os.Getpid()), "-procs", "2", "-timeout", "2m"}
	if transport == transportWebSocket {
		flags = append(flags, "-transport", transportWebSocket,
			"-ws-url", "ws://"+srv.Server.Addr("http")+"/xmpp-websocket")
	}
	return flags
}

// eachTransport runs test as a subtest per transport, against a server
// with users accounts.
func eachTransport(t *testing.T, users int, test func(t *testing.T, common []string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			test(t, benchServer(t, tr, users))
		})
	}
}

// runBench runs the generator and returns its one JSON line, decoded,
// and what it wrote to stderr.
func runBench(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, noEnv)
	if code != 0 {
		t.Fatalf("parley-bench %v: exit %d\n%s", args, code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one output line, got %d: %q", len(lines), stdout.String())
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &out); err != nil {
		t.Fatalf("output %q: %v", lines[0], err)
	}
	t.Logf("%s", lines[0])
	return out, stderr.String()
}

// checkFields asserts the fields every run has, errors == 0, and the
// scenario's own fields.
func checkFields(t *testing.T, out map[string]any, scenario string, fields ...string) {
	t.Helper()
	if out["scenario"] != scenario {
		t.Errorf("scenario %v, want %s", out["scenario"], scenario)
	}
	if _, ok := out["params"].(map[string]any); !ok {
		t.Errorf("params missing or not an object: %v", out["params"])
	}
	common := []string{"server", "duration_s", "server_cpu_s", "client_cpu_s", "server_rss_kib", "errors"}
	for _, f := range append(common, fields...) {
		if _, ok := out[f]; !ok {
			t.Errorf("field %q missing", f)
		}
	}
	if num(t, out, "errors") != 0 {
		t.Errorf("errors = %v", out["errors"])
	}
	if _, ok := out["timed_out"]; ok {
		t.Error("run timed out")
	}
}

func num(t *testing.T, out map[string]any, key string) float64 {
	t.Helper()
	f, ok := out[key].(float64)
	if !ok {
		t.Fatalf("%s = %v, not a number", key, out[key])
	}
	return f
}

func TestLogin(t *testing.T) {
	eachTransport(t, 10, func(t *testing.T, common []string) {
		for _, mech := range []string{"SCRAM-SHA-1", "PLAIN"} {
			t.Run(mech, func(t *testing.T) {
				out, _ := runBench(t, append(common, "-mech", mech, "-logins", "20", "-users", "10", "-clients", "4", "login")...)
				checkFields(t, out, "login", "logins", "logins_per_s", "logins_per_cpu_s", "p50_ms", "p99_ms")
				checkTransport(t, out, common)
				if n := num(t, out, "logins"); n != 20 {
					t.Errorf("logins = %v, want 20", n)
				}
				if num(t, out, "logins_per_s") <= 0 || num(t, out, "p50_ms") <= 0 || num(t, out, "p99_ms") < num(t, out, "p50_ms") {
					t.Errorf("implausible rates or latencies: %v", out)
				}
				if num(t, out, "server_rss_kib") <= 0 || num(t, out, "client_cpu_s") <= 0 {
					t.Errorf("no process figures: %v", out)
				}
			})
		}
	})
}

// checkTransport asserts the run used the transport its flags name.
func checkTransport(t *testing.T, out map[string]any, common []string) {
	t.Helper()
	want := transportTCP
	if slices.Contains(common, transportWebSocket) {
		want = transportWebSocket
	}
	if got := out["params"].(map[string]any)["transport"]; got != want {
		t.Errorf("params.transport = %v, want %s", got, want)
	}
}

func TestIdle(t *testing.T) {
	eachTransport(t, 10, func(t *testing.T, common []string) {
		out, _ := runBench(t, append(common, "-conns", "50", "-users", "10", "idle")...)
		checkFields(t, out, "idle", "conns", "rss_before_kib", "rss_after_kib", "rss_per_conn_kib")
		checkTransport(t, out, common)
		if n := num(t, out, "conns"); n != 50 {
			t.Errorf("conns = %v, want 50", n)
		}
		if num(t, out, "rss_before_kib") <= 0 || num(t, out, "rss_after_kib") <= 0 {
			t.Errorf("no RSS figures: %v", out)
		}
	})
}

// TestIdleChildren lowers the per-process connection limit so the idle
// scenario spreads its connections over re-executed child processes
// (this test binary, see TestMain).
func TestIdleChildren(t *testing.T) {
	eachTransport(t, 10, testIdleChildren)
}

func testIdleChildren(t *testing.T, common []string) {
	args := append(common, "-conns", "45", "-users", "10", "idle")
	o, err := parseOptions(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := parseSources("", 0)
	var stderr bytes.Buffer
	b := newBench(o, src, &stderr, noEnv)
	b.maxConnsPerProcess = 20 // three children: 20, 20, 5
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err := b.run(ctx, args)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if n := rec.get("conns"); n != 45 {
		t.Errorf("conns = %v, want 45\n%s", n, stderr.String())
	}
	if e := rec.get("errors"); e != int64(0) {
		t.Errorf("errors = %v\n%s", e, stderr.String())
	}
}

func TestChat(t *testing.T) {
	eachTransport(t, 4, testChat)
}

func testChat(t *testing.T, common []string) {
	t.Run("closed loop", func(t *testing.T) {
		out, _ := runBench(t, append(common, "-pairs", "2", "-window", "5", "-duration", "1s", "-warmup", "300ms", "chat")...)
		checkFields(t, out, "chat", "sent", "delivered", "lost", "msgs_per_s", "msgs_per_cpu_s", "p50_ms", "p99_ms", "p999_ms")
		checkTransport(t, out, common)
		sent, got := num(t, out, "sent"), num(t, out, "delivered")
		if sent == 0 || got != sent || num(t, out, "lost") != 0 {
			t.Errorf("sent %v, delivered %v, lost %v", sent, got, out["lost"])
		}
		if num(t, out, "p999_ms") < num(t, out, "p50_ms") || num(t, out, "p50_ms") <= 0 {
			t.Errorf("implausible latencies: %v", out)
		}
	})
	t.Run("with carbons", func(t *testing.T) {
		out, _ := runBench(t, append(common, "-pairs", "1", "-window", "5", "-duration", "500ms", "-warmup", "200ms", "-carbons", "chat")...)
		checkFields(t, out, "chat", "sent", "delivered", "carbon_copies")
		sent, got, copies := num(t, out, "sent"), num(t, out, "delivered"), num(t, out, "carbon_copies")
		// Each measured message also went, as a sent and a received
		// copy, to the second sessions of its sender and receiver.
		if sent == 0 || got != sent || copies < got {
			t.Errorf("sent %v, delivered %v, carbon copies %v", sent, got, copies)
		}
	})
	t.Run("paced", func(t *testing.T) {
		out, _ := runBench(t, append(common, "-pairs", "2", "-rate", "100", "-duration", "1s", "-warmup", "200ms", "-size", "500", "chat")...)
		checkFields(t, out, "chat", "sent", "delivered", "lost")
		sent := num(t, out, "sent")
		if sent < 80 || sent > 120 || num(t, out, "delivered") != sent {
			t.Errorf("at 100/s for 1s: sent %v, delivered %v", sent, out["delivered"])
		}
	})
}

func TestPresence(t *testing.T) {
	eachTransport(t, 20, testPresence)
}

func testPresence(t *testing.T, common []string) {
	// The second run finds the rosters complete and skips their setup.
	for _, tc := range []struct{ run, setup string }{
		{"first", "20 of 20 users"},
		{"again", "0 of 20 users"},
	} {
		t.Run(tc.run, func(t *testing.T) {
			out, stderr := runBench(t, append(common, "-users", "20", "-contacts", "4", "-window", "500ms", "presence")...)
			if !strings.Contains(stderr, tc.setup) {
				t.Errorf("roster setup: want %q in stderr:\n%s", tc.setup, stderr)
			}
			checkFields(t, out, "presence", "presences", "presences_total", "presences_per_s", "presences_per_cpu_s", "complete_s", "incomplete_users")
			if n := num(t, out, "presences"); n != 20*4 || num(t, out, "presences_expected") != n {
				t.Errorf("presences = %v, expected %v, want %d", n, out["presences_expected"], 20*4)
			}
			if n := num(t, out, "presences_total"); n < 20*4 {
				t.Errorf("presences_total = %v, less than %d", n, 20*4)
			}
			if n := num(t, out, "incomplete_users"); n != 0 {
				t.Errorf("incomplete_users = %v", n)
			}
			if num(t, out, "complete_s") <= 0 {
				t.Errorf("complete_s = %v", out["complete_s"])
			}
		})
	}
}

func TestContactsOf(t *testing.T) {
	got := contactsOf(1, 10, 4)
	want := []int{2, 10, 3, 9}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("contactsOf(1, 10, 4) = %v, want %v", got, want)
	}
	// Contact relations are symmetric, so every subscription is mutual.
	for i := 1; i <= 10; i++ {
		for _, c := range contactsOf(i, 10, 4) {
			if !strings.Contains(" "+strings.Trim(fmt.Sprint(contactsOf(c, 10, 4)), "[]")+" ", " "+strconv.Itoa(i)+" ") {
				t.Errorf("%d lists %d but not the reverse", i, c)
			}
		}
	}
}

func TestExitStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no scenario", []string{}, 2, "no scenario"},
		{"unknown scenario", []string{"dance"}, 2, "unknown scenario"},
		{"extra argument", []string{"login", "more"}, 2, "unexpected arguments"},
		{"bad window", []string{"-window", "many", "chat"}, 2, "-window"},
		{"bad mech", []string{"-mech", "DIGEST-MD5", "login"}, 2, "-mech"},
		{"bad sources", []string{"-sources", "127.0.0.9-127.0.0.1", "login"}, 2, "-sources"},
		{"too many contacts", []string{"-users", "4", "-contacts", "4", "presence"}, 2, "presence needs"},
		{"unknown flag", []string{"-frobnicate", "login"}, 2, "frobnicate"},
		{"unknown transport", []string{"-transport", "carrier-pigeon", "login"}, 2, "-transport"},
		{"not a WebSocket URL", []string{"-transport", "websocket", "-ws-url", "http://127.0.0.1:5280/", "login"}, 2, "-ws-url"},
		{"connection refused", []string{"-addr", closed, "login"}, 1, "connect to"},
		{"WebSocket connection refused", []string{"-transport", "websocket", "-ws-url", "ws://" + closed + "/xmpp-websocket", "login"}, 1, "connect to " + closed},
		{"no such process", []string{"-addr", closed, "-pid", "1073741824", "login"}, 1, "server process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr, noEnv)
			if code != tc.code || !strings.Contains(stderr.String(), tc.msg) || stdout.Len() != 0 {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, stdout.String(), stderr.String(), tc.msg)
			}
		})
	}
}

func TestSources(t *testing.T) {
	src, err := parseSources("127.0.1.254-127.0.2.1", 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 5 {
		got = append(got, src.dialer().LocalAddr.(*net.TCPAddr).IP.String())
	}
	want := "[127.0.1.255 127.0.2.0 127.0.2.1 127.0.1.254 127.0.1.255]"
	if fmt.Sprint(got) != want {
		t.Errorf("round robin from offset 1: %v, want %v", got, want)
	}
	if none, _ := parseSources("", 0); none.dialer().LocalAddr != nil {
		t.Error("no -sources should leave the source address to the system")
	}
}

// TestResumeStorm cuts sessions with stream management and resumes them
// all at once.
func TestResumeStorm(t *testing.T) {
	eachTransport(t, 30, func(t *testing.T, common []string) {
		out, stderr := runBench(t, append(common, "-conns", "30", "-users", "30", "resume")...)
		checkFields(t, out, "resume", "resumes", "resumes_per_s", "resumes_per_cpu_s", "p50_ms", "p99_ms")
		checkTransport(t, out, common)
		if n := num(t, out, "resumes"); n != 30 || num(t, out, "errors") != 0 {
			t.Fatalf("resumed %v of 30, errors %v\n%s", n, out["errors"], stderr)
		}
	})
}

// TestWebSocketTLS logs in over wss://, parley's HTTPS listener.
func TestWebSocketTLS(t *testing.T) {
	srv := testutil.StartServer(t, "[http]\ntls_listen = \"127.0.0.1:0\"\n")
	for i := 1; i <= 4; i++ {
		srv.AddUser(fmt.Sprintf("user%d", i), "bench-pw")
	}
	out, _ := runBench(t, "-domain", srv.Domain, "-server", "parley", "-pid", strconv.Itoa(os.Getpid()),
		"-transport", "websocket", "-ws-url", "wss://"+srv.Server.Addr("https")+"/xmpp-websocket",
		"-logins", "8", "-users", "4", "-clients", "2", "login")
	checkFields(t, out, "login", "logins")
	if n := num(t, out, "logins"); n != 8 {
		t.Errorf("logins = %v, want 8", n)
	}
}
