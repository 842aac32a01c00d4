package testutil

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"embed"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Peer servers: Debian's Prosody 0.12 and ejabberd 23.01, run as child
// processes of a test with a configuration of their own, for federation
// tests. See StartProsody and StartEjabberd.

//go:embed peers/*.tmpl
var peerTemplates embed.FS

// PeerStartTimeout bounds how long StartProsody and StartEjabberd wait for
// a peer to listen and have its accounts.
const PeerStartTimeout = 60 * time.Second

// The ports peers listen on at their address: the standard ones, since
// servers find each other through A records (MapHosts) on port 5269.
const (
	peerC2SPort = 5222
	peerS2SPort = 5269
)

// peerStopTimeout is how long a peer gets to exit after SIGTERM before it
// is killed.
const peerStopTimeout = 10 * time.Second

// PeerOptions describes the peer server to start.
type PeerOptions struct {
	// Domain is the XMPP domain the peer serves; MUCDomain, if not empty,
	// the domain of its group chat service (XEP-0045).
	Domain, MUCDomain string
	// IP is the loopback address (127.0.0.0/8) the peer listens on: c2s
	// on port 5222, s2s on port 5269. Map Domain (and MUCDomain) to it
	// with MapHosts so that other servers find it.
	IP string
	// CertFile and KeyFile are the peer's certificate (naming Domain and
	// MUCDomain) and key, PEM, used for c2s and s2s in both directions.
	CertFile, KeyFile string
	// CAFile, if not empty, is the only CA the peer trusts for s2s
	// certificates: peers with certificates it issued authenticate with
	// SASL EXTERNAL. Empty: no peer certificate verifies, so links are
	// authenticated with dialback.
	CAFile string
	// Users are the accounts created before the peer is used: localpart
	// -> password.
	Users map[string]string
}

// Peer is a running peer server.
type Peer struct {
	// Name is "prosody" or "ejabberd".
	Name string
	// Domain and IP are those of PeerOptions.
	Domain, IP string
	// C2SPort and S2SPort are the ports the peer listens on at IP.
	C2SPort, S2SPort int
	// LogFile is the peer's log, at debug level: it names the s2s
	// authentication method of every link (see Log) and, for ejabberd,
	// holds every XML element sent and received.
	LogFile string
	// PID is the process the test started (Prosody's Lua interpreter,
	// ejabberd's Erlang VM).
	PID int

	dir    string
	stdout string
	done   chan struct{}
	err    error // the process's exit status, once done is closed
}

// C2SAddr is the peer's client listener, host:port.
func (p *Peer) C2SAddr() string { return net.JoinHostPort(p.IP, strconv.Itoa(p.C2SPort)) }

// S2SAddr is the peer's server-to-server listener, host:port.
func (p *Peer) S2SAddr() string { return net.JoinHostPort(p.IP, strconv.Itoa(p.S2SPort)) }

// Log returns the contents of the peer's log file.
func (p *Peer) Log() string {
	data, err := os.ReadFile(p.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogFile, err)
	}
	return string(data)
}

// Output returns what the peer process wrote to stdout and stderr.
func (p *Peer) Output() string {
	data, _ := os.ReadFile(p.stdout)
	return string(data)
}

// peerConfig is what the configuration templates are rendered with.
type peerConfig struct {
	PeerOptions
	Dir, DataDir, CertDir, PidFile, LogFile string
	C2SPort, S2SPort                        int
}

var peerFuncs = template.FuncMap{
	// q quotes a string for Lua and YAML alike.
	"q": func(s string) (string, error) {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", fmt.Errorf("control character in %q", s)
		}
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, nil
	},
}

func renderPeerConfig(t testing.TB, name, out string, c peerConfig) {
	t.Helper()
	tmpl, err := template.New(name).Funcs(peerFuncs).ParseFS(peerTemplates, "peers/"+name)
	if err != nil {
		t.Fatalf("peer template %s: %v", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, c); err != nil {
		t.Fatalf("peer template %s: %v", name, err)
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPeerOptions fails the test on options no peer can start with, or
// when something already listens on the peer's ports.
func checkPeerOptions(t testing.TB, name string, o PeerOptions) {
	t.Helper()
	if o.Domain == "" || o.CertFile == "" || o.KeyFile == "" {
		t.Fatalf("start %s: Domain, CertFile and KeyFile are required", name)
	}
	ip := net.ParseIP(o.IP)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		t.Fatalf("start %s: IP %q is not an address in 127.0.0.0/8", name, o.IP)
	}
	for _, port := range []int{peerC2SPort, peerS2SPort} {
		addr := net.JoinHostPort(o.IP, strconv.Itoa(port))
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("start %s: %s is already in use", name, addr)
		}
	}
}

func newPeer(t testing.TB, name string, o PeerOptions) (*Peer, peerConfig) {
	t.Helper()
	dir := t.TempDir()
	p := &Peer{
		Name: name, Domain: o.Domain, IP: o.IP, C2SPort: peerC2SPort, S2SPort: peerS2SPort,
		dir: dir, stdout: filepath.Join(dir, "stdout"), done: make(chan struct{}),
	}
	c := peerConfig{
		PeerOptions: o, Dir: dir,
		DataDir: filepath.Join(dir, "data"), CertDir: filepath.Join(dir, "certs"),
		PidFile: filepath.Join(dir, name+".pid"),
		C2SPort: p.C2SPort, S2SPort: p.S2SPort,
	}
	for _, d := range []string{c.DataDir, c.CertDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return p, c
}

// start runs cmd as the peer's process, with its output in p.stdout, and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func (p *Peer) start(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	out, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Should the test binary die without cleaning up, the peer dies too
	// instead of keeping the addresses busy.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start %s: %v", p.Name, err)
	}
	p.PID = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			t.Logf("%s (pid %d) had exited by itself: %v", p.Name, p.PID, p.err)
			return
		default:
		}
		t0 := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(peerStopTimeout):
			t.Logf("%s (pid %d) did not stop within %v of SIGTERM: killing it", p.Name, p.PID, peerStopTimeout)
			cmd.Process.Kill()
			<-p.done
		}
		t.Logf("%s (pid %d) stopped in %v", p.Name, p.PID, time.Since(t0).Round(time.Millisecond))
	})
}

// exited reports whether the peer's process has ended.
func (p *Peer) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady waits until the peer accepts connections on both ports and
// ready (if not nil) reports true, failing the test with the peer's
// output and log after PeerStartTimeout or when the process ends.
func (p *Peer) waitReady(t testing.TB, t0 time.Time, ready func() (bool, error)) {
	t.Helper()
	deadline := t0.Add(PeerStartTimeout)
	listening := false
	for {
		if p.exited() {
			t.Fatalf("%s exited while starting (%v)\n%s", p.Name, p.err, p.diagnostics())
		}
		if !listening {
			listening = accepts(p.C2SAddr()) && accepts(p.S2SAddr())
		}
		ok := listening
		if ok && ready != nil {
			var err error
			if ok, err = ready(); err != nil {
				t.Fatalf("%s: %v\n%s", p.Name, err, p.diagnostics())
			}
		}
		if ok {
			t.Logf("%s (pid %d) for %s on %s ready in %v; log %s", p.Name, p.PID, p.Domain, p.IP,
				time.Since(t0).Round(time.Millisecond), p.LogFile)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v (listening on %s and %s: %v)\n%s", p.Name, PeerStartTimeout,
				p.C2SAddr(), p.S2SAddr(), listening, p.diagnostics())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// diagnostics is the end of the peer's output and log, for failures.
func (p *Peer) diagnostics() string {
	return "--- " + p.Name + " output:\n" + tail(p.Output(), 4000) +
		"\n--- " + p.Name + " log " + p.LogFile + ":\n" + tail(p.Log(), 12000)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "[...]" + s[len(s)-n:]
	}
	return s
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// StartProsody starts Prosody (prosody -F with a configuration of its
// own) for o.Domain on o.IP and returns once it accepts connections, its
// accounts written beforehand. It resolves other domains only through
// /etc/hosts, read when it starts: map them with MapHosts first. Prosody
// is stopped when the test ends. A missing prosody package skips the test
// (fails it in CI, see Missing).
func StartProsody(t testing.TB, o PeerOptions) *Peer {
	t.Helper()
	prosody := RequireTool(t, "prosody", "prosody")
	requireLunbound(t, prosody)
	checkPeerOptions(t, "prosody", o)
	p, c := newPeer(t, "prosody", o)
	p.LogFile = filepath.Join(p.dir, "prosody.log")
	c.LogFile = p.LogFile
	cfg := filepath.Join(p.dir, "prosody.cfg.lua")
	renderPeerConfig(t, "prosody.cfg.lua.tmpl", cfg, c)
	writeProsodyAccounts(t, c.DataDir, o.Domain, o.Users)

	t0 := time.Now()
	// prosody is a Lua script: the process is the Lua interpreter itself.
	cmd := exec.Command(prosody, "-F", "--config", cfg)
	cmd.Dir = p.dir
	p.start(t, cmd)
	p.waitReady(t, t0, nil)
	return p
}

// requireLunbound stops the test (see Missing) unless the Lua that runs
// prosody can load lua-unbound: without it Prosody resolves names with
// its own DNS client, which ignores /etc/hosts.
func requireLunbound(t testing.TB, prosody string) {
	t.Helper()
	lua := "lua5.4"
	if data, err := os.ReadFile(prosody); err == nil && bytes.HasPrefix(data, []byte("#!")) {
		line, _, _ := bytes.Cut(data[2:], []byte("\n"))
		if f := strings.Fields(string(line)); len(f) > 0 {
			lua = f[len(f)-1]
		}
	}
	if out, err := exec.Command(lua, "-e", `require "lunbound"`).CombinedOutput(); err != nil {
		Missing(t, fmt.Sprintf("Prosody's Lua (%s) cannot load lunbound: %v %s(sudo apt-get install lua-unbound)",
			lua, err, out))
	}
}

// prosodyEncode encodes a name as Prosody's datamanager does for file
// names: every byte but ASCII letters and digits as %xx.
func prosodyEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// writeProsodyAccounts stores users as mod_auth_internal_hashed does
// (SCRAM-SHA-1, 4096 iterations).
func writeProsodyAccounts(t testing.TB, dataDir, domain string, users map[string]string) {
	t.Helper()
	if len(users) == 0 {
		return
	}
	dir := filepath.Join(dataDir, prosodyEncode(domain), "accounts")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	const iterations = 4096
	for user, password := range users {
		salt := rand.Text()
		salted, err := pbkdf2.Key(sha1.New, password, []byte(salt), iterations, sha1.Size)
		if err != nil {
			t.Fatal(err)
		}
		clientKey := hmacSHA1(salted, "Client Key")
		storedKey := sha1.Sum(clientKey)
		serverKey := hmacSHA1(salted, "Server Key")
		data := fmt.Sprintf("return {\n\t[\"iteration_count\"] = %d;\n\t[\"stored_key\"] = %q;\n\t[\"salt\"] = %q;\n\t[\"server_key\"] = %q;\n};\n",
			iterations, hex.EncodeToString(storedKey[:]), salt, hex.EncodeToString(serverKey))
		file := filepath.Join(dir, prosodyEncode(strings.ToLower(user))+".dat")
		if err := os.WriteFile(file, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func hmacSHA1(key []byte, msg string) []byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// StartEjabberd starts ejabberd for o.Domain on o.IP (the Erlang VM with
// ejabberd's application, without ejabberdctl or Erlang distribution)
// and returns once it accepts connections and has created o.Users. It
// resolves other domains through /etc/hosts. ejabberd is stopped when
// the test ends. A missing ejabberd package skips the test (fails it in
// CI, see Missing).
func StartEjabberd(t testing.TB, o PeerOptions) *Peer {
	t.Helper()
	ctl := RequireTool(t, "ejabberdctl", "ejabberd")
	erl := RequireTool(t, "erl", "erlang-base")
	checkPeerOptions(t, "ejabberd", o)
	p, c := newPeer(t, "ejabberd", o)
	logDir := filepath.Join(p.dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p.LogFile = filepath.Join(logDir, "ejabberd.log")
	c.LogFile = p.LogFile
	cfg := filepath.Join(p.dir, "ejabberd.yml")
	renderPeerConfig(t, "ejabberd.yml.tmpl", cfg, c)
	// The Erlang resolver without name servers: ejabberd's SRV lookups
	// fail at once instead of waiting for DNS (A records come from
	// getaddrinfo, so /etc/hosts).
	inetrc := filepath.Join(p.dir, "inetrc")
	if err := os.WriteFile(inetrc, []byte("{resolv_conf, \"\"}.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(p.dir, "accounts.done")

	t0 := time.Now()
	// erl execs the VM (beam.smp): the process is the VM itself. No
	// distribution (no node name, no epmd): nothing listens but the
	// configured ports. Schedulers do not busy-wait.
	cmd := exec.Command(erl, "-noinput", "+K", "true", "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
		"-start_epmd", "false",
		"-kernel", "inetrc", erlString(inetrc),
		"-mnesia", "dir", erlString(c.DataDir),
		"-s", "ejabberd",
		"-eval", ejabberdAccountsEval(o.Domain, o.Users, done))
	cmd.Dir = c.DataDir
	cmd.Env = append(os.Environ(),
		"EJABBERD_CONFIG_PATH="+cfg,
		"EJABBERD_LOG_PATH="+p.LogFile,
		"ERL_CRASH_DUMP="+filepath.Join(logDir, "erl_crash.dump"),
		"ERL_CRASH_DUMP_BYTES=0",
	)
	if libs := ejabberdLibs(ctl); libs != "" {
		cmd.Env = append(cmd.Env, "ERL_LIBS="+libs)
	}
	p.start(t, cmd)
	p.waitReady(t, t0, func() (bool, error) {
		data, err := os.ReadFile(done)
		if err != nil || len(data) == 0 {
			return false, nil
		}
		if strings.TrimSpace(string(data)) != "ok" {
			return false, fmt.Errorf("creating accounts failed: %s", data)
		}
		return true, nil
	})
	return p
}

// ejabberdLibs returns the ERL_LIBS directory ejabberdctl sets (where the
// Debian package installs ejabberd's Erlang applications).
func ejabberdLibs(ctl string) string {
	data, err := os.ReadFile(ctl)
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`(?m)^ERL_LIBS=['"]?([^'"\n]+)['"]?\s*$`).FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// erlString is s as an Erlang string literal.
func erlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// erlBinary is s as an Erlang binary literal (UTF-8).
func erlBinary(s string) string { return "<<" + erlString(s) + "/utf8>>" }

// ejabberdAccountsEval is Erlang code, run in the VM as it starts, that
// waits for ejabberd to serve domain, registers users and writes the
// outcome ("ok" or the error) to done.
func ejabberdAccountsEval(domain string, users map[string]string, done string) string {
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	var list []string
	for _, u := range names {
		list = append(list, "{"+erlBinary(u)+", "+erlBinary(users[u])+"}")
	}
	return fmt.Sprintf(`spawn(fun() ->
  H = %s,
  Users = [%s],
  Wait = fun W(0) -> timeout;
             W(K) -> case catch ejabberd_router:is_my_host(H) of
                       true -> ok;
                       _ -> timer:sleep(100), W(K - 1)
                     end
         end,
  R = (catch begin
    ok = Wait(%d),
    lists:foreach(fun({U, P}) -> ok = ejabberd_auth:try_register(U, H, P) end, Users),
    ok
  end),
  file:write_file(%s, io_lib:format("~p~n", [R]))
end).`, erlBinary(domain), strings.Join(list, ", "), int(PeerStartTimeout/(100*time.Millisecond)), erlString(done))
}
