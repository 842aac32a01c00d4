package server_test

import (
	"crypto/tls"
	"slices"
	"testing"

	"parley/internal/testutil"
)

// TestComponentsOnlyWhenConfigured checks the wiring of external
// components: without any configured, nothing listens; with some, their
// domains are the router's components and are named in the generated
// certificate; with components.listen empty they cannot connect and
// stanzas to them bounce.
func TestComponentsOnlyWhenConfigured(t *testing.T) {
	const gw = "gw." + testutil.Domain
	secrets := "[components.secrets]\n\"" + gw + "\" = \"0123456789abcdef\"\n"

	plain := testutil.StartServer(t, "[components]\nlisten = \"127.0.0.1:0\"\n")
	if plain.Server.Addr("components") != "" || plain.Components() != nil {
		t.Fatal("a component listener without any component configured")
	}

	srv := testutil.StartServer(t, "[components]\nlisten = \"127.0.0.1:0\"\n"+secrets)
	if srv.Server.Addr("components") == "" || srv.Components() == nil {
		t.Fatal("no component listener with a component configured")
	}
	s := testutil.DialTLS(t, srv.DirectAddr, testutil.Domain)
	names := s.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].DNSNames
	if !slices.Contains(names, gw) {
		t.Fatalf("the generated certificate names %q, not the component domain %s", names, gw)
	}

	off := testutil.Start(t, testutil.Options{Extra: "[components]\nlisten = \"\"\n" + secrets, LogLevel: "info"})
	if off.Server.Addr("components") != "" {
		t.Fatal("a component listener with components.listen empty")
	}
	if len(off.LogLines(`"level":"warn"`, "components.listen is empty")) != 1 {
		t.Fatalf("no warning that the components cannot connect:\n%s", off.Log())
	}
	off.AddUser("alice", "pw")
	alice := testutil.Login(t, off.Addr, "alice", "pw", "pc")
	r := alice.IQ("<iq type='get' to='" + gw + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	if testutil.ErrorCondition(r) != "service-unavailable" {
		t.Fatalf("iq to an unreachable component answered with %s", r)
	}
}
