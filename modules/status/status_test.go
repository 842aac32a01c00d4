package status_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"parley/adhoc"
	"parley/dataform"
	"parley/internal/testutil"
	"parley/modules/status"
	"parley/stanza"
)

func TestUptime(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "pc")
	r := testutil.RunCommand(a, srv.Domain, "node='"+status.NodeUptime+"' action='execute'", "")
	cmd := r.Child(adhoc.NS, "command")
	if r.Type() != "result" || cmd.Attr("status") != "completed" || cmd.Attr("sessionid") == "" {
		t.Fatalf("uptime: %s", r)
	}
	if note := cmd.Child(adhoc.NS, "note"); note == nil || note.Attr("type") != "info" || !strings.Contains(note.Text(), srv.Domain+" has been running for") {
		t.Fatalf("note: %s", r)
	}
	f := dataform.Parse(cmd.Child(dataform.NS, "x"))
	up, _ := f.Value("uptime")
	if n, err := strconv.Atoi(up); err != nil || n < 0 || n > 60 {
		t.Fatalf("uptime %q", up)
	}
	started, _ := f.Value("started")
	if at, err := time.Parse(time.RFC3339, started); err != nil || time.Since(at) > time.Minute {
		t.Fatalf("started %q", started)
	}
}

// TestOnlineUsers runs the admin's two-stage command: a domain, then how
// many to list, going back once; and checks that other users may not.
func TestOnlineUsers(t *testing.T) {
	srv := testutil.Start(t, testutil.Options{MoreDomains: []string{"other.test"}, Admins: []string{"boss@" + testutil.Domain}})
	d := srv.Domain
	srv.AddUser("boss", "pw")
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(u, "pw")
		testutil.Login(t, srv.Addr, u, "pw", "pc")
	}
	srv.AddUser("dave@other.test", "pw")
	testutil.Login(t, srv.Addr, "dave@other.test", "pw", "pc")
	boss := testutil.Login(t, srv.Addr, "boss", "pw", "pc")

	r := testutil.RunCommand(boss, d, "node='"+status.NodeOnlineUsers+"'", "")
	cmd := r.Child(adhoc.NS, "command")
	if cmd == nil || cmd.Attr("status") != "executing" {
		t.Fatalf("stage 1: %s", r)
	}
	form := cmd.Child(dataform.NS, "x")
	if !strings.Contains(form.String(), "other.test") || !strings.Contains(form.String(), "<value>"+d+"</value>") {
		t.Fatalf("the domain choice lacks the domains: %s", form)
	}
	sess := "node='" + status.NodeOnlineUsers + "' sessionid='" + cmd.Attr("sessionid") + "'"
	if r := testutil.RunCommand(boss, d, sess, testutil.SubmitForm("domain", "elsewhere.test")); testutil.ErrorCondition(r) != "bad-request" || r.Child("", "error").Child(adhoc.NS, "bad-payload") == nil {
		t.Fatalf("a foreign domain: %s", r)
	}
	r = testutil.RunCommand(boss, d, sess, testutil.SubmitForm("domain", "other.test"))
	if !strings.Contains(r.String(), "1 users are online on other.test") {
		t.Fatalf("stage 2 for other.test: %s", r)
	}
	r = testutil.RunCommand(boss, d, sess+" action='prev'", "")
	if v, _ := dataform.Parse(r.Child(adhoc.NS, "command").Child(dataform.NS, "x")).Value("domain"); v != "other.test" {
		t.Fatalf("prev: %s", r)
	}
	r = testutil.RunCommand(boss, d, sess+" action='next'", testutil.SubmitForm("domain", d))
	if !strings.Contains(r.String(), "4 users are online on "+d) {
		t.Fatalf("stage 2 for %s: %s", d, r)
	}
	if r := testutil.RunCommand(boss, d, sess+" action='complete'", testutil.SubmitForm("max_items", "7")); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("max_items 7: %s", r)
	}
	r = testutil.RunCommand(boss, d, sess+" action='complete'", testutil.SubmitForm("max_items", "none"))
	cmd = r.Child(adhoc.NS, "command")
	if cmd.Attr("status") != "completed" {
		t.Fatalf("complete: %s", r)
	}
	got := dataform.Parse(cmd.Child(dataform.NS, "x")).Values["onlineuserjids"]
	want := []string{"alice@" + d, "bob@" + d, "boss@" + d, "carol@" + d}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("online users %v, want %v", got, want)
	}

	alice := testutil.Login(t, srv.Addr, "alice", "pw", "laptop")
	if r := testutil.RunCommand(alice, d, "node='"+status.NodeOnlineUsers+"'", ""); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a user runs the admin command: %s", r)
	}
}

// TestEndUserSession: an admin ends all of one user's sessions and one of
// another's (XEP-0133); the clients get a stream error, the other
// sessions go on, each ending is in the audit log; others may not run
// it, and what is not an account is refused.
func TestEndUserSession(t *testing.T) {
	srv := testutil.Start(t, testutil.Options{Admins: []string{"boss@" + testutil.Domain}})
	d := srv.Domain
	for _, u := range []string{"boss", "alice", "bob"} {
		srv.AddUser(u, "pw")
	}
	alice1 := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	alice2 := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	bobPhone := testutil.Login(t, srv.Addr, "bob", "pw", "phone")
	bobDesk := testutil.Login(t, srv.Addr, "bob", "pw", "desk")
	boss := testutil.Login(t, srv.Addr, "boss", "pw", "pc")

	if r := testutil.RunCommand(bobDesk, d, "node='"+status.NodeEndUserSession+"' action='execute'", ""); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("a user ran end-user-session: %s", r)
	}
	r := testutil.RunCommand(boss, d, "node='"+status.NodeEndUserSession+"' action='execute'", "")
	cmd := r.Child(adhoc.NS, "command")
	if cmd == nil || cmd.Attr("status") != "executing" || !strings.Contains(cmd.String(), "accountjids") {
		t.Fatalf("stage 1: %s", r)
	}
	sess := "node='" + status.NodeEndUserSession + "' sessionid='" + cmd.Attr("sessionid") + "'"
	if r := testutil.RunCommand(boss, d, sess, testutil.SubmitForm("accountjids", "nobody@elsewhere.test")); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("a foreign account: %s", r)
	}
	form := "<x xmlns='jabber:x:data' type='submit'><field var='accountjids'><value>alice@" + d + "</value><value>bob@" + d + "/phone</value></field></x>"
	r = testutil.RunCommand(boss, d, sess+" action='complete'", form)
	if cmd := r.Child(adhoc.NS, "command"); cmd == nil || cmd.Attr("status") != "completed" ||
		!strings.Contains(cmd.String(), "Ended 2 sessions of alice@"+d) || !strings.Contains(cmd.String(), "Ended 1 sessions of bob@"+d+"/phone") {
		t.Fatalf("completed: %s", r)
	}
	for _, c := range []*testutil.Client{alice1, alice2, bobPhone} {
		c.Expect(func(el *stanza.Element) bool {
			return el.Local == "error" && strings.Contains(el.String(), "policy-violation")
		})
		c.WaitClosed()
	}
	bobDesk.IQ("<iq type='get' to='" + d + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	e := srv.WaitAudit(5*time.Second, "sessions.ended", "alice@"+d)
	if e.Actor != "boss@"+d || !strings.Contains(e.Detail, "2 sessions ended") {
		t.Fatalf("audit: %+v", e)
	}
	srv.WaitAudit(5*time.Second, "sessions.ended", "bob@"+d+"/phone")
}
