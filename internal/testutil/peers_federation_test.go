package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// federationUsers are the accounts on both peers.
var federationUsers = map[string]string{"alice": "alice-pw", "bob": "bob-pw"}

// runFederation runs interop/slixmpp/federation.py scenario between alice
// on a and bob on b and returns its output; a failed scenario fails t.
func runFederation(t *testing.T, a, b *Peer, scenario string) string {
	t.Helper()
	py := RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(root, "interop", "slixmpp", "federation.py"),
		"--a-host", a.IP, "--a-domain", a.Domain, "--a-user", "alice", "--a-password", "alice-pw",
		"--b-host", b.IP, "--b-domain", b.Domain, "--b-user", "bob", "--b-password", "bob-pw",
		scenario}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("federation.py %s (%s -> %s):\n%s", scenario, a.Name, b.Name, out.String())
	if err != nil {
		t.Errorf("federation.py %s: %v\n--- %s log:\n%s\n--- %s log:\n%s", scenario, err,
			a.Name, tail(a.Log(), 20000), b.Name, tail(b.Log(), 20000))
	}
	return out.String()
}

// logLines returns the lines of log matching re.
func logLines(log string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// authLines are log lines that show how the s2s links were authenticated:
// Prosody's (debug) SASL EXTERNAL and dialback lines, ejabberd's (info)
// per-link summaries.
var authLines = regexp.MustCompile(`SASL EXTERNAL|dialback key|asking \S+ if key|Accepted (inbound|outbound) s2s|Failed (inbound|outbound) s2s|Retrying with s2s dialback`)

// requireLog fails t unless p's log has a line matching each of res, and
// none matching not (if not nil).
func requireLog(t *testing.T, p *Peer, not *regexp.Regexp, res ...string) {
	t.Helper()
	log := p.Log()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("%s log: no line matches %q", p.Name, re)
		}
	}
	if not != nil {
		if l := logLines(log, not); len(l) > 0 {
			t.Errorf("%s log: unexpected %s", p.Name, strings.Join(l, "\n"))
		}
	}
}

// TestPeersFederate federates Prosody and ejabberd (no parley involved)
// with slixmpp clients, with certificates from a test CA both peers trust
// (the links must use SASL EXTERNAL) and with self-signed ones (dialback).
func TestPeersFederate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody and ejabberd and runs slixmpp federation scenarios")
	}
	RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	const (
		prDomain, prIP = "pr.harness.test", "127.0.0.63"
		ejDomain, ejIP = "ej.harness.test", "127.0.0.64"
	)
	prMUC, ejMUC := "conference."+prDomain, "conference."+ejDomain
	MapHosts(t, map[string]string{prDomain: prIP, prMUC: prIP, ejDomain: ejIP, ejMUC: ejIP})
	for _, mode := range []string{"ca", "self-signed"} {
		t.Run(mode, func(t *testing.T) {
			var prCert, prKey, ejCert, ejKey, caFile string
			if mode == "ca" {
				ca := NewCA(t)
				caFile = ca.File
				prCert, prKey = ca.Issue(t, prDomain, prMUC)
				ejCert, ejKey = ca.Issue(t, ejDomain, ejMUC)
			} else {
				prCert, prKey = SelfSigned(t, prDomain, prMUC)
				ejCert, ejKey = SelfSigned(t, ejDomain, ejMUC)
			}
			pr := StartProsody(t, PeerOptions{Domain: prDomain, MUCDomain: prMUC, IP: prIP,
				CertFile: prCert, KeyFile: prKey, CAFile: caFile, Users: federationUsers})
			ej := StartEjabberd(t, PeerOptions{Domain: ejDomain, MUCDomain: ejMUC, IP: ejIP,
				CertFile: ejCert, KeyFile: ejKey, CAFile: caFile, Users: federationUsers})
			runFederation(t, pr, ej, "all")

			t.Logf("s2s authentication in prosody's log:\n%s", strings.Join(logLines(pr.Log(), authLines), "\n"))
			t.Logf("s2s authentication in ejabberd's log:\n%s", strings.Join(logLines(ej.Log(), authLines), "\n"))
			q := regexp.QuoteMeta
			if mode == "ca" {
				requireLog(t, pr, regexp.MustCompile(`dialback key`),
					`SASL EXTERNAL with `+q(ejDomain)+` succeeded`,
					`Accepting SASL EXTERNAL identity from `+q(ejDomain))
				requireLog(t, ej, regexp.MustCompile(`Accepted (inbound|outbound) s2s dialback`),
					`Accepted inbound s2s EXTERNAL authentication `+q(prDomain+" -> "+ejDomain),
					`Accepted outbound s2s EXTERNAL authentication `+q(ejDomain+" -> "+prDomain))
			} else {
				requireLog(t, pr, regexp.MustCompile(`Accepting SASL EXTERNAL|SASL EXTERNAL with \S+ succeeded`),
					`verified dialback key\.\.\. it is valid`,
					`asking `+q(ejDomain)+` if key \S+ belongs to them`)
				requireLog(t, ej, regexp.MustCompile(`Accepted (inbound|outbound) s2s EXTERNAL`),
					`Accepted inbound s2s dialback authentication `+q(prDomain+" -> "+ejDomain),
					`Accepted outbound s2s dialback authentication `+q(ejDomain+" -> "+prDomain))
			}
		})
	}
}
