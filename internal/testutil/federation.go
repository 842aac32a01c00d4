package testutil

import (
	"fmt"
	"strings"
	"testing"
)

// Federate starts one server per domain, each with federation on its own
// loopback address and the others' addresses under [s2s.hosts], and the
// accounts alice and bob (passwords alice-pw and bob-pw). extra is added
// to every server's configuration; it must not have an [s2s] section.
func Federate(t testing.TB, extra string, domains ...string) []*Server {
	t.Helper()
	addrs := make([]string, len(domains))
	for i := range domains {
		addrs[i] = FreeListenAddr(t)
	}
	var servers []*Server
	for i, d := range domains {
		var hosts strings.Builder
		for j, other := range domains {
			if j != i {
				fmt.Fprintf(&hosts, "%q = %q\n", other, addrs[j])
			}
		}
		cfg := fmt.Sprintf("%s\n[s2s]\nlisten = %q\nconnect_timeout = \"5s\"\n[s2s.hosts]\n%s", extra, addrs[i], hosts.String())
		srv := Start(t, Options{Domain: d, Extra: cfg})
		srv.AddUser("alice", "alice-pw")
		srv.AddUser("bob", "bob-pw")
		servers = append(servers, srv)
	}
	return servers
}
