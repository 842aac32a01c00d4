package testutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	msasl "mellium.im/sasl"
)

// peerLogin checks that p's c2s listener offers STARTTLS and that
// user:password logs in with SCRAM-SHA-1 after it.
func peerLogin(t *testing.T, p *Peer, user, password string) {
	t.Helper()
	s := DialStream(t, p.C2SAddr(), p.Domain)
	if s.Features.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") == nil {
		t.Fatalf("%s: no STARTTLS offered: %s", p.Name, s.Features)
	}
	s.StartTLS(p.Domain)
	if el := s.Authenticate(msasl.ScramSha1, user, password); el.Local != "success" {
		t.Fatalf("%s: login %s@%s: %s", p.Name, user, p.Domain, el)
	}
	s.Open(p.Domain)
	if j := s.Bind("harness"); !strings.HasPrefix(j, user+"@"+p.Domain+"/") {
		t.Fatalf("%s: bound %q", p.Name, j)
	}
}

func TestPeersStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody and ejabberd")
	}
	ca := NewCA(t)
	peers := []struct {
		name   string
		start  func(testing.TB, PeerOptions) *Peer
		domain string
		ip     string
	}{
		{"prosody", StartProsody, "prosody.harness.test", "127.0.0.61"},
		{"ejabberd", StartEjabberd, "ejabberd.harness.test", "127.0.0.62"},
	}
	for _, pc := range peers {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			muc := "conference." + pc.domain
			cert, key := ca.Issue(t, pc.domain, muc)
			p := pc.start(t, PeerOptions{
				Domain: pc.domain, MUCDomain: muc, IP: pc.ip,
				CertFile: cert, KeyFile: key, CAFile: ca.File,
				Users: map[string]string{"alice": "alice-pw", "bob": "b\"o\\b pw"},
			})
			if p.PID <= 0 || p.Log() == "" {
				t.Errorf("%s: pid %d, log %q", p.Name, p.PID, p.Log())
			}
			peerLogin(t, p, "alice", "alice-pw")
			peerLogin(t, p, "bob", "b\"o\\b pw")
		})
	}
}

// hostsLines returns the lines of /etc/hosts that contain s.
func hostsLines(t *testing.T, s string) []string {
	t.Helper()
	data, err := os.ReadFile(HostsFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

func TestMapHosts(t *testing.T) {
	name := fmt.Sprintf("maphosts-%d.harness.test", os.Getpid())
	stale := fmt.Sprintf("stale-%d.harness.test", os.Getpid())
	t.Run("map", func(t *testing.T) {
		// A line left by a test process that is gone (pid beyond any
		// pid_max) is dropped by the next MapHosts.
		f, err := os.OpenFile(HostsFile, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			Missing(t, "cannot write "+HostsFile+": "+err.Error())
		}
		_, err = f.WriteString("127.0.0.66 " + stale + " # parley-test 2000000000\n")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		MapHosts(t, map[string]string{name: "127.0.0.65", "conference." + name: "127.0.0.65"})
		want := []string{
			"127.0.0.65 conference." + name + " " + hostsTag(),
			"127.0.0.65 " + name + " " + hostsTag(),
		}
		if got := hostsLines(t, name); !slices.Equal(got, want) {
			t.Errorf("mapped lines %q, want %q", got, want)
		}
		if got := hostsLines(t, stale); len(got) != 0 {
			t.Errorf("stale line kept: %q", got)
		}
		addrs, err := net.DefaultResolver.LookupHost(context.Background(), "conference."+name)
		if err != nil || !slices.Equal(addrs, []string{"127.0.0.65"}) {
			t.Errorf("lookup: %v %v", addrs, err)
		}
	})
	if got := hostsLines(t, name); len(got) != 0 {
		t.Errorf("lines left after the test: %q", got)
	}
}

// TestMapHostsInPlace checks that while another running test process has
// a line in HostsFile, removing this process's lines only overwrites them
// in place: the file keeps its length and the other line its offset, so a
// resolver reading the file meanwhile never sees a live mapping vanish.
// Once no running test process has lines left, the retired ones go.
func TestMapHostsInPlace(t *testing.T) {
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Skipf("start a stand-in test process: %v", err)
	}
	defer other.Wait()
	defer other.Process.Kill()

	foreign := fmt.Sprintf("127.0.0.67 other-%d.harness.test # parley-test %d\n", os.Getpid(), other.Process.Pid)
	f, err := os.OpenFile(HostsFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		Missing(t, "cannot write "+HostsFile+": "+err.Error())
	}
	_, err = f.WriteString(foreign)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	foreignAt := func() (offset, size int) {
		data, err := os.ReadFile(HostsFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Index(string(data), foreign), len(data)
	}
	name := fmt.Sprintf("inplace-%d.harness.test", os.Getpid())
	var mappedAt, mappedSize int
	t.Run("map", func(t *testing.T) {
		MapHosts(t, map[string]string{name: "127.0.0.68"})
		mappedAt, mappedSize = foreignAt()
	})
	offset, size := foreignAt()
	if offset < 0 || offset != mappedAt || size != mappedSize {
		t.Errorf("with a live line of another process, unmapping moved it from %d to %d or resized the file from %d to %d", mappedAt, offset, mappedSize, size)
	}
	if got := hostsLines(t, name); len(got) != 0 {
		t.Errorf("lines left after unmapping: %q", got)
	}

	other.Process.Kill()
	other.Wait()
	t.Run("map again", func(t *testing.T) {
		MapHosts(t, map[string]string{name: "127.0.0.68"})
	})
	if offset, _ := foreignAt(); offset >= 0 {
		t.Error("the line of a process that ended is still there")
	}
	if got := hostsLines(t, retiredLine); len(got) != 0 && !hasLiveLines(readHosts(t)) {
		t.Errorf("retired lines kept with no live test process: %q", got)
	}
}

func readHosts(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(HostsFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
