package interop_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	msasl "mellium.im/sasl"

	"parley/internal/testutil"
	"parley/stanza"
	"parley/xmlstream"
)

const nsDelay = "urn:xmpp:delay"

// instance is a configuration for the parley binary in a temporary
// directory, with fixed free loopback ports.
type instance struct {
	t          *testing.T
	dir        string
	config     string // path of config.toml
	domain     string
	addr       string // STARTTLS
	directAddr string // direct TLS
}

// newInstance writes config.toml in a fresh directory; extra is appended.
func newInstance(t *testing.T, extra string) *instance {
	t.Helper()
	trackInputs(t)
	in := &instance{t: t, dir: t.TempDir(), domain: testutil.Domain, addr: testutil.FreeAddr(t), directAddr: testutil.FreeAddr(t)}
	in.config = filepath.Join(in.dir, "config.toml")
	conf := fmt.Sprintf(`[server]
domains = [%q]

[storage]
sqlite = "data/parley.db"

[c2s]
listen = %q
direct_tls_listen = %q
login_failure_delay = "10ms"
login_failure_max_delay = "50ms"

[log]
level = "debug"
%s`, in.domain, in.addr, in.directAddr, extra)
	if err := os.WriteFile(in.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return in
}

// run runs a parley subcommand on the instance's configuration.
func (in *instance) run(stdin, cmd string, args ...string) testutil.Result {
	in.t.Helper()
	r := testutil.RunParley(in.t, parleyBin, stdin, append([]string{cmd, "-config", in.config}, args...)...)
	in.t.Logf("parley %s %s: exit %d\nstdout: %s\nstderr: %s", cmd, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	return r
}

// mustRun runs a subcommand that must succeed, and returns its stdout.
func (in *instance) mustRun(stdin, cmd string, args ...string) string {
	in.t.Helper()
	r := in.run(stdin, cmd, args...)
	if r.Code != 0 {
		in.t.Fatalf("parley %s %s: exit %d: %s", cmd, strings.Join(args, " "), r.Code, r.Stderr)
	}
	return r.Stdout
}

// serve starts "parley serve" and waits until both listeners accept.
func (in *instance) serve() *testutil.Process {
	in.t.Helper()
	return testutil.StartParley(in.t, parleyBin, in.config, in.addr, in.directAddr)
}

func (in *instance) jid(local string) string { return local + "@" + in.domain }

// tryLogin authenticates local with password over STARTTLS and reports
// whether the server accepted it.
func (in *instance) tryLogin(local, password string) bool {
	in.t.Helper()
	s := testutil.DialStream(in.t, in.addr, in.domain)
	s.StartTLS(in.domain)
	el := s.Authenticate(msasl.ScramSha256, local, password)
	s.Conn.Close()
	return el.Local == "success"
}

// ping sends an iq ping to the server and waits for its answer (a result,
// or an error if ping is not supported). Stanzas from one stream are
// handled in order, so everything c sent before has been dealt with.
func ping(c *testutil.Client, domain string) {
	c.T.Helper()
	c.IQ("<iq type='get' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
}

// peerCert returns the certificate the server presented to c.
func peerCert(t *testing.T, c *testutil.Client) []byte {
	t.Helper()
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		t.Fatalf("connection is %T, not TLS", c.Conn)
	}
	return tc.ConnectionState().PeerCertificates[0].Raw
}

// TestParleyCommands runs the account commands of the parley binary, with
// the server stopped and while it runs: adduser (single and -batch),
// users, passwd and deluser.
func TestParleyCommands(t *testing.T) {
	in := newInstance(t, "")
	alice, bob, carol := in.jid("alice"), in.jid("bob"), in.jid("carol")

	if out := in.mustRun("alice-pw\n", "adduser", alice); !strings.Contains(out, alice) {
		t.Errorf("adduser output %q does not name %s", out, alice)
	}
	in.mustRun(bob+" bob-pw\n"+carol+" carol-pw\n", "adduser", "-batch")
	if got, want := in.mustRun("", "users", in.domain), alice+"\n"+bob+"\n"+carol+"\n"; got != want {
		t.Fatalf("users printed %q, want %q", got, want)
	}
	if r := in.run("again\n", "adduser", alice); r.Code == 0 || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, alice) {
		t.Errorf("adduser of an existing account: exit %d, stderr %q; want a failure naming it on one line", r.Code, r.Stderr)
	}

	p := in.serve()
	a := testutil.Login(t, in.addr, alice, "alice-pw", "laptop")
	b := testutil.Login(t, in.addr, bob, "bob-pw", "phone")
	a.Sendf("<message to='%s' type='chat' id='m1'><body>hello bob</body></message>", b.JID)
	got := b.Expect(testutil.IsKind("message"))
	if got.From() != a.JID || got.ChildText("", "body") != "hello bob" {
		t.Fatalf("bob got %s", got)
	}

	// The commands work on the database of the running server.
	in.mustRun("alice-new-pw\n", "passwd", alice)
	if in.tryLogin("alice", "alice-pw") {
		t.Errorf("the old password still works after passwd")
	}
	if !in.tryLogin("alice", "alice-new-pw") {
		t.Errorf("the new password does not work after passwd")
	}
	in.mustRun("", "deluser", carol)
	if got, want := in.mustRun("", "users", in.domain), alice+"\n"+bob+"\n"; got != want {
		t.Errorf("users after deluser printed %q, want %q", got, want)
	}
	if in.tryLogin("carol", "carol-pw") {
		t.Errorf("a deleted account can still log in")
	}
	if r := in.run("", "deluser", carol); r.Code == 0 || !strings.Contains(r.Stderr, carol) {
		t.Errorf("deluser of a missing account: exit %d, stderr %q", r.Code, r.Stderr)
	}
	a.Close()
	b.Close()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(15 * time.Second); code != 0 {
		t.Errorf("parley serve exited with %d after SIGTERM", code)
	}
}

// TestParleyOfflineMessageSurvivesKill kills the server with SIGKILL right
// after it accepted a message for an offline user; after a restart on the
// same data the user gets the message, with a delay stamp. The restarted
// server presents the certificate it generated on its first start.
func TestParleyOfflineMessageSurvivesKill(t *testing.T) {
	in := newInstance(t, "")
	alice, bob := in.jid("alice"), in.jid("bob")
	in.mustRun(alice+" alice-pw\n"+bob+" bob-pw\n", "adduser", "-batch")

	p := in.serve()
	a := testutil.Login(t, in.addr, alice, "alice-pw", "laptop")
	firstCert := peerCert(t, a)
	a.Send("<presence/>")
	a.Sendf("<message to='%s' type='chat' id='off1'><body>sent before the crash</body></message>", bob)
	ping(a, in.domain)
	// A bounce would have arrived before the ping's answer.
	a.ExpectNone(func(el *stanza.Element) bool { return el.Local == "message" && el.Type() == "error" }, 0)
	p.Kill()
	a.WaitClosed()

	in.serve()
	b := testutil.Login(t, in.addr, bob, "bob-pw", "phone")
	if !bytes.Equal(peerCert(t, b), firstCert) {
		t.Errorf("the restarted server presents a different certificate; the generated one should be kept in the data directory")
	}
	b.Send("<presence/>")
	got := b.Expect(func(el *stanza.Element) bool {
		return el.Local == "message" && el.ChildText("", "body") != ""
	})
	if !strings.HasPrefix(got.From(), alice+"/") || got.ChildText("", "body") != "sent before the crash" {
		t.Fatalf("bob got %s", got)
	}
	delay := got.Child(nsDelay, "delay")
	if delay == nil {
		t.Fatalf("the offline message has no XEP-0203 delay: %s", got)
	}
	if _, err := time.Parse(time.RFC3339, delay.Attr("stamp")); err != nil {
		t.Errorf("delay stamp %q: %v", delay.Attr("stamp"), err)
	}
	if from := delay.Attr("from"); from != "" && from != in.domain {
		t.Errorf("delay from %q, want %q", from, in.domain)
	}
}

// TestParleySIGTERM stops the server with SIGTERM: a connected client sees
// its stream closed cleanly and the process exits with status 0.
func TestParleySIGTERM(t *testing.T) {
	in := newInstance(t, "")
	in.mustRun("alice-pw\n", "adduser", in.jid("alice"))
	p := in.serve()
	a := testutil.Login(t, in.addr, in.jid("alice"), "alice-pw", "laptop")
	a.Send("<presence/>")
	ping(a, in.domain)

	p.Signal(syscall.SIGTERM)
	err := a.WaitClosed()
	if !errors.Is(err, xmlstream.ErrStreamClosed) {
		t.Errorf("client stream ended with %v, want a clean </stream:stream>", err)
	}
	a.Expect(func(el *stanza.Element) bool {
		return el.Space == stanza.NSStream && el.Local == "error" && el.FirstElement() != nil && el.FirstElement().Local == "system-shutdown"
	})
	if code := p.Wait(15 * time.Second); code != 0 {
		t.Errorf("parley serve exited with %d after SIGTERM, want 0", code)
	}
}

// TestParleyBadConfig starts the server on configurations with an unknown
// key: it exits non-zero with one line on stderr naming the file and key.
func TestParleyBadConfig(t *testing.T) {
	for _, c := range []struct {
		name, extra, key string
	}{
		{"unknown key", "\n[muc]\nmotd = \"hello\"\n", "muc.motd"},
		{"unknown section", "\n[c2s2]\nlisten = \"127.0.0.1:0\"\n", "c2s2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := newInstance(t, c.extra)
			r := testutil.RunParley(t, parleyBin, "", "serve", "-config", in.config)
			t.Logf("exit %d, stderr %q", r.Code, r.Stderr)
			if r.Code == 0 {
				t.Fatalf("parley serve accepted the configuration")
			}
			if strings.Count(r.Stderr, "\n") != 1 || !strings.HasSuffix(r.Stderr, "\n") {
				t.Errorf("stderr is not exactly one line: %q", r.Stderr)
			}
			for _, want := range []string{in.config, c.key} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr %q does not name %q", r.Stderr, want)
				}
			}
		})
	}
}

// TestParleyReloadAndUploads: SIGHUP makes the running binary present a
// renewed certificate to new connections; deluser removes the files the
// account uploaded, while the server runs.
func TestParleyReloadAndUploads(t *testing.T) {
	ca := testutil.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	httpAddr := testutil.FreeAddr(t)
	in := newInstance(t, fmt.Sprintf("[tls]\ncert = %q\nkey = %q\n[http]\nlisten = %q\n[upload]\ndomain = \"upload.%s\"\n", certFile, keyFile, httpAddr, testutil.Domain))
	alice := in.jid("alice")
	in.mustRun("alice-pw\n", "adduser", alice)
	p := in.serve()
	a := testutil.Login(t, in.addr, alice, "alice-pw", "laptop")
	before := peerCert(t, a)

	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	p.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "certificate reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := testutil.Login(t, in.addr, alice, "alice-pw", "phone")
	if bytes.Equal(peerCert(t, b), before) {
		t.Fatal("a new connection after SIGHUP got the old certificate")
	}
	ping(a, in.domain) // the established session goes on

	// An uploaded file, gone with its account.
	slot := a.IQ("<iq type='get' to='upload." + in.domain + "'><request xmlns='urn:xmpp:http:upload:0' filename='a.txt' size='5' content-type='text/plain'/></iq>")
	s := slot.Child("urn:xmpp:http:upload:0", "slot")
	if s == nil {
		t.Fatalf("slot: %s", slot)
	}
	put, get := s.Child("urn:xmpp:http:upload:0", "put").Attr("url"), s.Child("urn:xmpp:http:upload:0", "get").Attr("url")
	req, _ := http.NewRequest("PUT", put, strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	if out := in.mustRun("", "deluser", alice); !strings.Contains(out, "1 uploaded files") {
		t.Fatalf("deluser printed %q", out)
	}
	if resp, err := http.Get(get); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after deluser: %v %v", resp, err)
	}
	p.Signal(syscall.SIGTERM)
	p.Wait(15 * time.Second)
}
