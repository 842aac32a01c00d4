package extdisco_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/internal/testutil"
	"parley/modules/disco"
	"parley/modules/extdisco"
	"parley/stanza"
)

const services = `
[[external_services]]
type = "stun"
host = "stun.parley.test"
port = 3478
transport = "udp"

[[external_services]]
type = "turn"
host = "turn.parley.test"
port = 3478
transport = "udp"
secret = "coturn-static-auth-secret"
ttl = "1h"
name = "Office relay"

[[external_services]]
type = "turns"
host = "turn.parley.test"
secret = "coturn-static-auth-secret"

[[external_services]]
type = "turn"
host = "turn.parley.test"
port = 3479
transport = "tcp"
`

// checkCredentials checks a service's TURN credentials the way coturn's
// use-auth-secret does: the password is the HMAC-SHA1 of the username
// under the secret, and the username's expiry, which expires names too,
// lies ttl ahead.
func checkCredentials(t *testing.T, svc *stanza.Element, user string, ttl time.Duration) {
	t.Helper()
	username, password := svc.Attr("username"), svc.Attr("password")
	expiry, who, ok := strings.Cut(username, ":")
	if !ok || who != user {
		t.Fatalf("username %q does not name %s: %s", username, user, svc)
	}
	mac := hmac.New(sha1.New, []byte("coturn-static-auth-secret"))
	mac.Write([]byte(username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); password != want {
		t.Fatalf("password %q, want HMAC %q", password, want)
	}
	unix, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		t.Fatalf("username %q: %v", username, err)
	}
	if d := time.Until(time.Unix(unix, 0)); d < ttl-time.Minute || d > ttl+time.Second {
		t.Fatalf("credentials expire in %s, want %s", d, ttl)
	}
	expires, err := time.Parse(time.RFC3339, svc.Attr("expires"))
	if err != nil || !expires.Equal(time.Unix(unix, 0)) || !strings.HasSuffix(svc.Attr("expires"), "Z") {
		t.Fatalf("expires %q does not match the username's %s (UTC)", svc.Attr("expires"), expiry)
	}
	if svc.Attr("restricted") != "1" {
		t.Fatalf("no restricted='1': %s", svc)
	}
}

func TestServices(t *testing.T) {
	srv := testutil.StartServer(t, services)
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	alice := "alice@" + srv.Domain

	info := a.IQ("<iq type='get' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "'/></iq>")
	if !strings.Contains(info.String(), "var=\""+extdisco.NS+"\"") && !strings.Contains(info.String(), "var='"+extdisco.NS+"'") {
		t.Fatalf("disco#info lacks %s: %s", extdisco.NS, info)
	}

	all := a.IQ("<iq type='get' to='" + srv.Domain + "'><services xmlns='" + extdisco.NS + "'/></iq>")
	list := all.Child(extdisco.NS, "services").ChildrenNamed(extdisco.NS, "service")
	if len(list) != 4 {
		t.Fatalf("want 4 services: %s", all)
	}
	want := []struct{ typ, host, port, transport, name string }{
		{"stun", "stun.parley.test", "3478", "udp", ""},
		{"turn", "turn.parley.test", "3478", "udp", "Office relay"},
		{"turns", "turn.parley.test", "5349", "tcp", ""},
		{"turn", "turn.parley.test", "3479", "tcp", ""},
	}
	for i, w := range want {
		s := list[i]
		if s.Attr("type") != w.typ || s.Attr("host") != w.host || s.Attr("port") != w.port || s.Attr("transport") != w.transport || s.Attr("name") != w.name {
			t.Fatalf("service %d: %s, want %+v", i, s, w)
		}
	}
	if list[0].HasAttr("username") || list[0].HasAttr("restricted") || list[3].HasAttr("password") {
		t.Fatalf("credentials on services without a secret: %s", all)
	}
	checkCredentials(t, list[1], alice, time.Hour)
	checkCredentials(t, list[2], alice, 24*time.Hour)

	turn := a.IQ("<iq type='get' to='"+srv.Domain+"'><services xmlns='"+extdisco.NS+"' type='turn'/></iq>").Child(extdisco.NS, "services")
	if got := turn.ChildrenNamed(extdisco.NS, "service"); turn.Attr("type") != "turn" || len(got) != 2 || got[0].Attr("port") != "3478" || got[1].Attr("port") != "3479" {
		t.Fatalf("services of type turn: %s", turn)
	}
	if none := a.IQ("<iq type='get' to='"+srv.Domain+"'><services xmlns='"+extdisco.NS+"' type='ftp'/></iq>").Child(extdisco.NS, "services"); none == nil || len(none.Elements()) != 0 {
		t.Fatalf("services of type ftp: %v", none)
	}

	creds := a.IQ("<iq type='get' to='" + srv.Domain + "'><credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test' type='turn'/></credentials></iq>")
	got := creds.Child(extdisco.NS, "credentials").ChildrenNamed(extdisco.NS, "service")
	if len(got) != 1 || got[0].Attr("port") != "3478" {
		t.Fatalf("credentials for turn.parley.test: %s", creds)
	}
	checkCredentials(t, got[0], alice, time.Hour)
	creds = a.IQ("<iq type='get' to='" + srv.Domain + "'><credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test' type='turns' port='5349'/></credentials></iq>")
	got = creds.Child(extdisco.NS, "credentials").ChildrenNamed(extdisco.NS, "service")
	if len(got) != 1 {
		t.Fatalf("credentials for turns: %s", creds)
	}
	checkCredentials(t, got[0], alice, 24*time.Hour)

	errs := []struct{ name, payload, want string }{
		{"credentials without a secret", "<credentials xmlns='" + extdisco.NS + "'><service host='stun.parley.test' type='stun'/></credentials>", "item-not-found"},
		{"credentials on the wrong port", "<credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test' type='turn' port='3479'/></credentials>", "item-not-found"},
		{"credentials for an unknown host", "<credentials xmlns='" + extdisco.NS + "'><service host='other.test' type='turn'/></credentials>", "item-not-found"},
		{"credentials without a service", "<credentials xmlns='" + extdisco.NS + "'/>", "bad-request"},
		{"credentials without a type", "<credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test'/></credentials>", "bad-request"},
		{"credentials with a bad port", "<credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test' type='turn' port='x'/></credentials>", "bad-request"},
		{"unknown element", "<other xmlns='" + extdisco.NS + "'/>", "feature-not-implemented"},
	}
	for _, c := range errs {
		t.Run(c.name, func(t *testing.T) {
			if r := a.IQ("<iq type='get' to='" + srv.Domain + "'>" + c.payload + "</iq>"); testutil.ErrorCondition(r) != c.want {
				t.Fatalf("got %s, want %s", r, c.want)
			}
		})
	}
	if r := a.IQ("<iq type='set' to='" + srv.Domain + "'><services xmlns='" + extdisco.NS + "'/></iq>"); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("services set: %s", r)
	}
	if strings.Contains(srv.Log(), "coturn-static-auth-secret") {
		t.Fatal("the secret is in the log")
	}
}

// TestRemoteUsersRefused checks that users of other servers learn
// nothing: the relays are for local users.
func TestRemoteUsersRefused(t *testing.T) {
	servers := testutil.Federate(t, services, "a.test", "b.test")
	bob := testutil.Login(t, servers[1].Addr, "bob@b.test", "bob-pw", "pc")
	for _, payload := range []string{
		"<services xmlns='" + extdisco.NS + "'/>",
		"<credentials xmlns='" + extdisco.NS + "'><service host='turn.parley.test' type='turn'/></credentials>",
	} {
		if r := bob.IQ("<iq type='get' to='a.test'>" + payload + "</iq>"); testutil.ErrorCondition(r) != "forbidden" || strings.Contains(r.String(), "password") {
			t.Fatalf("remote request %s: %s", payload, r)
		}
	}
}

// TestOffWithoutServices checks that a server without external services
// neither advertises nor answers the protocol.
func TestOffWithoutServices(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	if r := a.IQ("<iq type='get' to='" + srv.Domain + "'><services xmlns='" + extdisco.NS + "'/></iq>"); testutil.ErrorCondition(r) != "service-unavailable" {
		t.Fatalf("services: %s", r)
	}
}

func TestTURNCredentials(t *testing.T) {
	// The password coturn computes for this username and secret
	// (turnutils_secure_hmac-sha1, base64).
	user, pass := extdisco.TURNCredentials("north", "alice@a.test", time.Unix(1700000000, 0))
	if user != "1700000000:alice@a.test" {
		t.Fatalf("username %q", user)
	}
	mac := hmac.New(sha1.New, []byte("north"))
	mac.Write([]byte(user))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); pass != want {
		t.Fatalf("password %q, want %q", pass, want)
	}
}
