package contact_test

import (
	"slices"
	"testing"

	msasl "mellium.im/sasl"

	"parley/dataform"
	"parley/internal/testutil"
	"parley/modules/contact"
	"parley/modules/disco"
	"parley/router"
	"parley/stanza"
)

// TestServerInfoForm checks that the server's disco#info carries the
// configured addresses in a serverinfo form, one field per kind, and
// that the entity capabilities hash covers it.
func TestServerInfoForm(t *testing.T) {
	srv := testutil.StartServer(t, `
[contact]
abuse = ["mailto:abuse@parley.test", "xmpp:abuse@parley.test"]
security = ["https://parley.test/security"]
support = ["xmpp:help@parley.test?message"]
`)
	srv.AddUser("alice", "pw")
	s := testutil.DialStream(t, srv.Addr, srv.Domain)
	s.StartTLS(srv.Domain)
	if r := s.Authenticate(msasl.ScramSha256, "alice", "pw"); r.Local != "success" {
		t.Fatalf("authentication: %s", r)
	}
	caps := s.Open(srv.Domain).Child(disco.NSCaps, "c")
	s.Bind("pc")
	s.Write("<iq type='get' id='i1' to='" + srv.Domain + "'><query xmlns='" + disco.NSInfo + "'/></iq>")
	q := s.Next().Child(disco.NSInfo, "query")
	if q == nil {
		t.Fatal("no disco#info result")
	}
	var forms []*stanza.Element
	for _, x := range q.ChildrenNamed(dataform.NS, "x") {
		if dataform.Parse(x).FormType() == contact.FormType {
			forms = append(forms, x)
		}
	}
	if len(forms) != 1 || forms[0].Attr("type") != "result" {
		t.Fatalf("want one serverinfo result form in %s", q)
	}
	got := dataform.Parse(forms[0]).Values
	want := map[string][]string{
		"FORM_TYPE":          {contact.FormType},
		"abuse-addresses":    {"mailto:abuse@parley.test", "xmpp:abuse@parley.test"},
		"security-addresses": {"https://parley.test/security"},
		"support-addresses":  {"xmpp:help@parley.test?message"},
	}
	if len(got) != len(want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Fatalf("%s = %v, want %v", k, got[k], v)
		}
	}
	var ids []router.Identity
	for _, id := range q.ChildrenNamed(disco.NSInfo, "identity") {
		ids = append(ids, router.Identity{Category: id.Attr("category"), Type: id.Attr("type"), Name: id.Attr("name")})
	}
	var features []string
	for _, f := range q.ChildrenNamed(disco.NSInfo, "feature") {
		features = append(features, f.Attr("var"))
	}
	if ver := disco.CapsVer(ids, features, q.ChildrenNamed(dataform.NS, "x")...); caps == nil || caps.Attr("ver") != ver {
		t.Fatalf("capabilities %v, disco#info hashes to %q", caps, ver)
	}
	if ver := disco.CapsVer(ids, features); ver == caps.Attr("ver") {
		t.Fatal("the capabilities hash leaves the form out")
	}
}

// TestNoForm checks that a server without contact addresses publishes no
// serverinfo form.
func TestNoForm(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	q := a.IQ("<iq type='get' to='"+srv.Domain+"'><query xmlns='"+disco.NSInfo+"'/></iq>").Child(disco.NSInfo, "query")
	if q == nil || q.Child(dataform.NS, "x") != nil {
		t.Fatalf("disco#info: %v", q)
	}
}
