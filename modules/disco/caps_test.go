package disco_test

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"

	msasl "mellium.im/sasl"

	"parley/internal/testutil"
	"parley/modules/disco"
	"parley/router"
	"parley/stanza"
)

// TestCapsVerExample checks the verification string against the simple
// generation example of XEP-0115 §5.2.
func TestCapsVerExample(t *testing.T) {
	got := disco.CapsVer(
		[]router.Identity{{Category: "client", Type: "pc", Name: "Exodus 0.9.1"}},
		[]string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"},
	)
	if want := "QgayPKawpkPSDYmwT/WM94uAlu0="; got != want {
		t.Fatalf("ver %q, want %q", got, want)
	}
}

// TestServerCaps checks that both stream feature stages carry the server's
// capabilities, that their ver hashes what disco#info reports, and that
// the capabilities node answers disco#info.
func TestServerCaps(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	before := s.StartTLS(srv.Domain).Child(disco.NSCaps, "c")
	if before == nil {
		t.Fatal("no capabilities before authentication")
	}
	if r := s.Authenticate(msasl.ScramSha256, "alice", "pw"); r.Local != "success" {
		t.Fatalf("authentication: %s", r)
	}
	after := s.Open(srv.Domain).Child(disco.NSCaps, "c")
	if after == nil || after.Attr("ver") != before.Attr("ver") || after.Attr("hash") != "sha-1" || after.Attr("node") != disco.CapsNode {
		t.Fatalf("capabilities after authentication: %v (before: %v)", after, before)
	}
	s.Bind("pc")
	s.Write("<iq type='get' id='i1' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "'/></iq>")
	info := s.Next().Child(disco.NSInfo, "query")
	var ids []router.Identity
	for _, id := range info.ChildrenNamed(disco.NSInfo, "identity") {
		ids = append(ids, router.Identity{Category: id.Attr("category"), Type: id.Attr("type"), Name: id.Attr("name")})
	}
	var features []string
	for _, f := range info.ChildrenNamed(disco.NSInfo, "feature") {
		features = append(features, f.Attr("var"))
	}
	if ver := disco.CapsVer(ids, features); ver != after.Attr("ver") {
		t.Fatalf("advertised ver %q, disco#info hashes to %q", after.Attr("ver"), ver)
	}
	node := disco.CapsNode + "#" + after.Attr("ver")
	s.Write("<iq type='get' id='i2' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "' node='" + node + "'/></iq>")
	r := s.Next()
	if r.Type() != "result" || r.Child(disco.NSInfo, "query").Attr("node") != node {
		t.Fatalf("disco#info of the capabilities node: %s", r)
	}
	s.Write("<iq type='get' id='i3' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "' node='" + disco.CapsNode + "#wrong'/></iq>")
	if r := s.Next(); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("disco#info of a wrong node: %s", r)
	}
}

// TestCapsVerForms checks that extended information forms enter the
// verification string as XEP-0115 §5.3 shows: after the features, by
// FORM_TYPE, fields sorted by var and values sorted.
func TestCapsVerForms(t *testing.T) {
	form, err := stanza.Parse(`<x xmlns='jabber:x:data' type='result'>
<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
<field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>
<field var='os'><value>Mac</value></field>
<field var='software'><value>Psi</value></field>
<field var='software_version'><value>0.11</value></field>
<field var='os_version'><value>10.5.1</value></field>
</x>`)
	if err != nil {
		t.Fatal(err)
	}
	other, err := stanza.Parse(`<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>a:first</value></field><field var='k'><value>v</value></field></x>`)
	if err != nil {
		t.Fatal(err)
	}
	ids := []router.Identity{{Category: "client", Type: "pc", Name: "Psi 0.11"}}
	features := []string{"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"}
	s := "client/pc//Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<" +
		"a:first<k<v<" +
		"urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"
	sum := sha1.Sum([]byte(s))
	want := base64.StdEncoding.EncodeToString(sum[:])
	if got := disco.CapsVer(ids, features, form, other); got != want {
		t.Fatalf("ver %q, want %q", got, want)
	}
	if got := disco.CapsVer(ids, features); got == want {
		t.Fatal("forms do not change the verification string")
	}
}
