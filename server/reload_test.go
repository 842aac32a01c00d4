package server_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"parley/internal/testutil"
)

// TestReloadCertificate: a reloaded certificate is what new connections
// get, on the client listener and on HTTPS; established sessions go on;
// a broken certificate file leaves the current one in place.
func TestReloadCertificate(t *testing.T) {
	ca := testutil.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	srv := testutil.Start(t, testutil.Options{Extra: "[tls]\ncert = \"" + certFile + "\"\nkey = \"" + keyFile + "\"\n[http]\ntls_listen = \"127.0.0.1:0\"\n"})
	srv.AddUser("alice", "alice-pw")
	serials := func() (c2s, https string) {
		t.Helper()
		c := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "")
		defer c.Close()
		c2s = c.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
		hc, err := tls.Dial("tcp", srv.Server.Addr("https"), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer hc.Close()
		return c2s, hc.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first, firstHTTPS := serials()
	if first != firstHTTPS {
		t.Fatalf("client listener and HTTPS present different certificates: %s, %s", first, firstHTTPS)
	}
	old := testutil.Login(t, srv.Addr, "alice@"+srv.Domain, "alice-pw", "old")

	ca.IssueTo(t, certFile, keyFile, testutil.Domain)
	if err := srv.Server.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	second, secondHTTPS := serials()
	if second == first || secondHTTPS != second {
		t.Fatalf("after the reload: client listener %s, HTTPS %s; before: %s", second, secondHTTPS, first)
	}
	old.Send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	if r := old.Expect(testutil.IsKind("iq")); r.Type() != "result" {
		t.Fatalf("an established session after the reload: %s", r)
	}

	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if err := srv.Server.ReloadCertificate(); err == nil {
		t.Fatal("a broken certificate file was accepted")
	}
	if third, _ := serials(); third != second {
		t.Fatalf("after a failed reload the certificate changed to %s", third)
	}
}
