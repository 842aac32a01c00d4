package interop_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
)

// Federation test addresses: each server on its own loopback address, so
// that all of them use the standard s2s port 5269 and find each other
// through /etc/hosts.
const (
	parleyFedIP   = "127.0.0.31"
	prosodyFedIP  = "127.0.0.32"
	ejabberdFedIP = "127.0.0.33"
)

// federationTimeout bounds one run of federation.py (all scenarios).
const federationTimeout = 6 * time.Minute

// TestFederationWithProsodyAndEjabberd federates parley with Debian's
// Prosody and ejabberd and runs the slixmpp federation scenarios between
// a user on parley and a user on each peer: subscriptions, presence,
// messages, iq, offline delivery, errors and group chat (a room on each
// side with a guest from the other), in both directions. With
// certificates from a CA every server trusts, the links must authenticate
// with SASL EXTERNAL; with self-signed certificates, with dialback.
func TestFederationWithProsodyAndEjabberd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody and ejabberd")
	}
	py := testutil.RequirePythonModule(t, "slixmpp", "python3-slixmpp")
	testutil.RequireTool(t, "prosody", "prosody")
	testutil.RequireTool(t, "ejabberdctl", "ejabberd")
	trackInputs(t)
	testutil.MapHosts(t, map[string]string{
		"pa.test":            parleyFedIP,
		"conference.pa.test": parleyFedIP,
		"pr.test":            prosodyFedIP,
		"conference.pr.test": prosodyFedIP,
		"ej.test":            ejabberdFedIP,
		"conference.ej.test": ejabberdFedIP,
	})
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	modes := []struct {
		name string
		ca   bool
		auth string // the method parley must log for every link
	}{
		{"CA certificates", true, "EXTERNAL"},
		{"self-signed certificates", false, "dialback"},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			var ca *testutil.CA
			if mode.ca {
				ca = testutil.NewCA(t)
			}
			// Each certificate names the server's domain and its group
			// chat service, which federates on links of its own.
			issue := func(domain string) (cert, key string) {
				if ca != nil {
					return ca.Issue(t, domain, "conference."+domain)
				}
				return testutil.SelfSigned(t, domain, "conference."+domain)
			}
			caFile := ""
			if ca != nil {
				caFile = ca.File
			}
			cert, key := issue("pa.test")
			tlsKeys := fmt.Sprintf("[tls]\ncert = %q\nkey = %q\nca = %q\n", cert, key, caFile)
			parley := testutil.Start(t, testutil.Options{
				Domain:   "pa.test",
				LogLevel: "info",
				Extra:    fmt.Sprintf("[s2s]\nlisten = %q\nconnect_timeout = \"10s\"\n\n[muc]\ndomain = \"conference.pa.test\"\n\n%s", parleyFedIP+":5269", tlsKeys),
			})
			for u, pw := range users {
				parley.AddUser(u, pw)
			}
			peers := []*testutil.Peer{}
			for _, p := range []struct {
				start      func(testing.TB, testutil.PeerOptions) *testutil.Peer
				domain, ip string
			}{
				{testutil.StartProsody, "pr.test", prosodyFedIP},
				{testutil.StartEjabberd, "ej.test", ejabberdFedIP},
			} {
				c, k := issue(p.domain)
				peers = append(peers, p.start(t, testutil.PeerOptions{Domain: p.domain, MUCDomain: "conference." + p.domain, IP: p.ip, CertFile: c, KeyFile: k, CAFile: caFile, Users: users}))
			}
			for _, peer := range peers {
				t.Run(peer.Name, func(t *testing.T) {
					out, err := runFederation(t, py, parley, peer)
					if err != nil {
						t.Errorf("federation.py against %s: %v\n%s", peer.Name, err, failLines(out))
						t.Logf("%s log (tail):\n%s", peer.Name, tailLines(peer.Log(), 60))
					}
					// The group chat service authenticates its own links
					// to the peer, the same way.
					muc := parley.LogLines(`"s2s link established"`, `"direction":"out"`, `"local":"conference.pa.test"`, `"remote":"`+peer.Domain+`"`)
					if len(muc) == 0 {
						t.Errorf("no link from conference.pa.test to %s in parley's log", peer.Domain)
					}
					for _, l := range muc {
						if !strings.Contains(l, `"auth":"`+mode.auth+`"`) {
							t.Errorf("group chat link to %s not authenticated with %s: %s", peer.Domain, mode.auth, l)
						}
					}
					for _, dir := range []string{"out", "in"} {
						lines := parley.LogLines(`"s2s link established"`, `"direction":"`+dir+`"`, `"remote":"`+peer.Domain+`"`)
						if len(lines) == 0 {
							t.Errorf("no %s link with %s in parley's log", dir, peer.Domain)
							continue
						}
						for _, l := range lines {
							if !strings.Contains(l, `"auth":"`+mode.auth+`"`) {
								t.Errorf("%s link with %s not authenticated with %s: %s", dir, peer.Domain, mode.auth, l)
							}
						}
					}
				})
			}
		})
	}
}

// runFederation runs every federation.py scenario between alice on
// parley (side A) and bob on peer (side B).
func runFederation(t *testing.T, py string, parley *testutil.Server, peer *testutil.Peer) (string, error) {
	t.Helper()
	host, port := splitAddr(t, parley.Addr)
	args := []string{"slixmpp/federation.py",
		"--a-host", host, "--a-port", port, "--a-domain", parley.Domain, "--a-muc", "conference." + parley.Domain,
		"--b-host", peer.IP, "--b-port", strconv.Itoa(peer.C2SPort), "--b-domain", peer.Domain, "--b-muc", "conference." + peer.Domain,
		"all"}
	return runScript(t, federationTimeout, py, args...)
}

// failLines picks the FAIL lines out of a script's output.
func failLines(out string) string {
	var fails []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	if len(fails) == 0 {
		return "(no FAIL line; see the output above)"
	}
	return strings.Join(fails, "\n")
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
