package adhoc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/adhoc"
	"parley/dataform"
	"parley/internal/testutil"
	"parley/modules/disco"
	"parley/stanza"
)

// wizard is a three-stage command for the tests: a name, then a colour
// (whose form names the name), then a confirmation.
func wizard() adhoc.Command {
	return adhoc.Command{
		Node:   "test-wizard",
		Name:   "Test wizard",
		Access: adhoc.LocalUsers,
		Stages: []adhoc.Stage{
			{
				Form: func(context.Context, *adhoc.Session) (*stanza.Element, error) {
					return dataform.New("form", "urn:test:wizard").Append(dataform.Field("name", "text-single", "Name")), nil
				},
				Submit: func(_ context.Context, _ *adhoc.Session, f dataform.Form) error {
					if v, _ := f.Value("name"); v == "" {
						return adhoc.BadPayload("a name is required")
					}
					return nil
				},
			},
			{
				Form: func(_ context.Context, s *adhoc.Session) (*stanza.Element, error) {
					name, _ := s.Value("name")
					x := dataform.New("form", "urn:test:wizard")
					x.Append(stanza.New(dataform.NS, "instructions").AppendText("Colour for "+name), dataform.Field("colour", "text-single", "Colour", "blue"))
					return x, nil
				},
			},
			{
				Form: func(context.Context, *adhoc.Session) (*stanza.Element, error) {
					return dataform.New("form", "urn:test:wizard").Append(dataform.Field("sure", "boolean", "Sure?")), nil
				},
			},
		},
		Complete: func(_ context.Context, s *adhoc.Session) (adhoc.Result, error) {
			name, _ := s.Value("name")
			colour, _ := s.Value("colour")
			if sure, _ := s.Value("sure"); sure != "1" && sure != "true" {
				return adhoc.Result{Notes: []adhoc.Note{adhoc.Error("not confirmed")}}, nil
			}
			x := dataform.New("result", "urn:test:wizard").Append(dataform.Field("summary", "text-single", "", name+" likes "+colour))
			return adhoc.Result{Notes: []adhoc.Note{adhoc.Info("done"), adhoc.Warn("just a test")}, Form: x}, nil
		},
	}
}

// executing checks an executing response and returns its command, form
// and the actions allowed ("prev,next" and so on) with the default.
func executing(t *testing.T, r *stanza.Element) (cmd, form *stanza.Element, allowed, def string) {
	t.Helper()
	cmd = r.Child(adhoc.NS, "command")
	if r.Type() != "result" || cmd == nil || cmd.Attr("status") != "executing" || cmd.Attr("sessionid") == "" {
		t.Fatalf("want an executing command, got %s", r)
	}
	a := cmd.Child(adhoc.NS, "actions")
	if a == nil {
		t.Fatalf("no actions: %s", r)
	}
	var names []string
	for _, el := range a.Elements() {
		names = append(names, el.Local)
	}
	form = cmd.Child(dataform.NS, "x")
	if form == nil || form.Attr("type") != "form" {
		t.Fatalf("no form: %s", r)
	}
	return cmd, form, strings.Join(names, ","), a.Attr("execute")
}

// wantError checks an error response's condition and XEP-0050 specific
// condition (or none).
func wantError(t *testing.T, r *stanza.Element, condition, specific string) {
	t.Helper()
	if got := testutil.ErrorCondition(r); got != condition {
		t.Fatalf("got %s, want %s", r, condition)
	}
	e := r.Child("", "error")
	var got string
	for _, el := range e.Elements() {
		if el.Space == adhoc.NS {
			got = el.Local
		}
	}
	if got != specific {
		t.Fatalf("specific condition %q, want %q: %s", got, specific, r)
	}
}

func start(t *testing.T) (*testutil.Server, *testutil.Client) {
	t.Helper()
	srv := testutil.Start(t, testutil.Options{Admins: []string{"boss@" + testutil.Domain}})
	if err := srv.Commands().Add(wizard()); err != nil {
		t.Fatal(err)
	}
	srv.AddUser("alice", "pw")
	srv.AddUser("boss", "pw")
	return srv, testutil.Login(t, srv.Addr, "alice", "pw", "pc")
}

// TestMultiStage walks the wizard forward, back, forward with other
// values, and to completion, checking the actions of each stage.
func TestMultiStage(t *testing.T) {
	srv, a := start(t)
	d := srv.Domain

	r := a.IQ("<iq type='set' to='" + d + "' xml:lang='en'><command xmlns='" + adhoc.NS + "' node='test-wizard' action='execute'/></iq>")
	cmd, form, allowed, def := executing(t, r)
	id := cmd.Attr("sessionid")
	if allowed != "next" || def != "next" || cmd.Attr("node") != "test-wizard" || cmd.Lang() != "en" {
		t.Fatalf("stage 1: actions %s (execute %s), %s", allowed, def, r)
	}
	if _, ok := dataform.Parse(form).Values["name"]; !ok {
		t.Fatalf("stage 1 form: %s", form)
	}
	sess := "node='test-wizard' sessionid='" + id + "'"

	// A required field missing: bad-payload, and the session stays.
	wantError(t, testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("name", "")), "bad-request", "bad-payload")

	r = testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("name", "Alice"))
	cmd, form, allowed, def = executing(t, r)
	if cmd.Attr("sessionid") != id || allowed != "prev,next" || def != "next" || !strings.Contains(form.String(), "Colour for Alice") {
		t.Fatalf("stage 2: actions %s (execute %s), %s", allowed, def, r)
	}

	// Back to the first stage, with its value remembered.
	r = testutil.RunCommand(a, d, sess+" action='prev'", "")
	_, form, allowed, _ = executing(t, r)
	if allowed != "next" || dataform.Parse(form).Values["name"][0] != "Alice" {
		t.Fatalf("prev: actions %s, %s", allowed, r)
	}
	wantError(t, testutil.RunCommand(a, d, sess+" action='prev'", ""), "bad-request", "bad-action")
	wantError(t, testutil.RunCommand(a, d, sess+" action='complete'", testutil.SubmitForm("name", "X")), "bad-request", "bad-action")

	// execute is the stage's default action, next.
	r = testutil.RunCommand(a, d, sess, testutil.SubmitForm("name", "Bob"))
	_, form, _, _ = executing(t, r)
	if !strings.Contains(form.String(), "Colour for Bob") {
		t.Fatalf("execute at stage 1: %s", r)
	}
	r = testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("colour", "green"))
	_, _, allowed, def = executing(t, r)
	if allowed != "prev,complete" || def != "complete" {
		t.Fatalf("stage 3: actions %s (execute %s), %s", allowed, def, r)
	}
	wantError(t, testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("sure", "1")), "bad-request", "bad-action")

	r = testutil.RunCommand(a, d, sess+" action='complete'", testutil.SubmitForm("sure", "1"))
	cmd = r.Child(adhoc.NS, "command")
	if r.Type() != "result" || cmd.Attr("status") != "completed" || cmd.Attr("sessionid") != id || cmd.Child(adhoc.NS, "actions") != nil {
		t.Fatalf("complete: %s", r)
	}
	notes := cmd.ChildrenNamed(adhoc.NS, "note")
	if len(notes) != 2 || notes[0].Attr("type") != "info" || notes[0].Text() != "done" || notes[1].Attr("type") != "warn" {
		t.Fatalf("notes: %s", r)
	}
	if v, _ := dataform.Parse(cmd.Child(dataform.NS, "x")).Value("summary"); v != "Bob likes green" {
		t.Fatalf("result form: %s", r)
	}

	// The session is over.
	wantError(t, testutil.RunCommand(a, d, sess, testutil.SubmitForm("sure", "1")), "not-allowed", "session-expired")
}

// TestCancelAndErrors checks cancel and the errors of XEP-0050 §4.6.
func TestCancelAndErrors(t *testing.T) {
	srv, a := start(t)
	d := srv.Domain

	cmd, _, _, _ := executing(t, testutil.RunCommand(a, d, "node='test-wizard'", ""))
	sess := "node='test-wizard' sessionid='" + cmd.Attr("sessionid") + "'"
	executing(t, testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("name", "Alice")))
	r := testutil.RunCommand(a, d, sess+" action='cancel'", "")
	if c := r.Child(adhoc.NS, "command"); r.Type() != "result" || c.Attr("status") != "canceled" {
		t.Fatalf("cancel: %s", r)
	}
	wantError(t, testutil.RunCommand(a, d, sess+" action='next'", testutil.SubmitForm("colour", "red")), "not-allowed", "session-expired")

	cmd, _, _, _ = executing(t, testutil.RunCommand(a, d, "node='test-wizard'", ""))
	live := cmd.Attr("sessionid")
	a2 := testutil.Login(t, srv.Addr, "alice", "pw", "phone")
	cases := []struct {
		name, attrs, condition, specific string
		c                                *testutil.Client
	}{
		{"malformed action", "node='test-wizard' sessionid='" + live + "' action='jump'", "bad-request", "malformed-action", a},
		{"unknown session", "node='test-wizard' sessionid='nope'", "bad-request", "bad-sessionid", a},
		{"session of another resource", "node='test-wizard' sessionid='" + live + "'", "bad-request", "bad-sessionid", a2},
		{"session of another command", "node='uptime' sessionid='" + live + "'", "bad-request", "bad-sessionid", a},
		{"next without a session", "node='test-wizard' action='next'", "bad-request", "bad-action", a},
		{"unknown command", "node='no-such-command'", "item-not-found", "", a},
		{"no node", "", "bad-request", "", a},
		{"admin command", "node='online-users'", "forbidden", "", a},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, testutil.RunCommand(c.c, d, c.attrs, ""), c.condition, c.specific)
		})
	}
	if r := a.IQ("<iq type='get' to='" + d + "'><command xmlns='" + adhoc.NS + "' node='test-wizard'/></iq>"); testutil.ErrorCondition(r) != "bad-request" {
		t.Fatalf("iq get: %s", r)
	}
	// The live session survived every refused request.
	executing(t, testutil.RunCommand(a, d, "node='test-wizard' sessionid='"+live+"' action='next'", testutil.SubmitForm("name", "Alice")))
}

// TestSessionLifetime checks that a session ends after the timeout, when
// its resource goes offline, and that one requester may not hold too
// many.
func TestSessionLifetime(t *testing.T) {
	srv, a := start(t)
	d := srv.Domain

	srv.Commands().SetTimeout(200 * time.Millisecond)
	cmd, _, _, _ := executing(t, testutil.RunCommand(a, d, "node='test-wizard'", ""))
	time.Sleep(300 * time.Millisecond)
	wantError(t, testutil.RunCommand(a, d, "node='test-wizard' sessionid='"+cmd.Attr("sessionid")+"' action='next'", testutil.SubmitForm("name", "late")), "not-allowed", "session-expired")
	srv.Commands().SetTimeout(adhoc.DefaultTimeout)

	b := testutil.Login(t, srv.Addr, "alice", "pw", "tablet")
	cmd, _, _, _ = executing(t, testutil.RunCommand(b, d, "node='test-wizard'", ""))
	b.Close()
	b = testutil.Login(t, srv.Addr, "alice", "pw", "tablet")
	wantError(t, testutil.RunCommand(b, d, "node='test-wizard' sessionid='"+cmd.Attr("sessionid")+"'", testutil.SubmitForm("name", "again")), "bad-request", "bad-sessionid")

	for i := range adhoc.MaxSessionsPerRequester {
		if r := testutil.RunCommand(b, d, "node='test-wizard'", ""); r.Type() != "result" {
			t.Fatalf("session %d: %s", i, r)
		}
	}
	if r := testutil.RunCommand(b, d, "node='test-wizard'", ""); testutil.ErrorCondition(r) != "resource-constraint" {
		t.Fatalf("one session too many: %s", r)
	}
	// Another resource has its own allowance.
	executing(t, testutil.RunCommand(a, d, "node='test-wizard'", ""))
}

// TestDiscovery checks the commands feature, the command list each user
// sees and the command nodes' disco#info.
func TestDiscovery(t *testing.T) {
	srv, a := start(t)
	d := srv.Domain
	boss := testutil.Login(t, srv.Addr, "boss", "pw", "pc")

	info := a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "'/></iq>")
	found := false
	for _, f := range info.Child(disco.NSInfo, "query").ChildrenNamed(disco.NSInfo, "feature") {
		found = found || f.Attr("var") == adhoc.NS
	}
	if !found {
		t.Fatalf("no commands feature: %s", info)
	}

	list := func(c *testutil.Client) []string {
		t.Helper()
		r := c.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSItems + "' node='" + adhoc.NS + "'/></iq>")
		q := r.Child(disco.NSItems, "query")
		if q == nil || q.Attr("node") != adhoc.NS {
			t.Fatalf("command list: %s", r)
		}
		var nodes []string
		for _, it := range q.ChildrenNamed(disco.NSItems, "item") {
			if it.Attr("jid") != d || it.Attr("name") == "" {
				t.Fatalf("item %s", it)
			}
			nodes = append(nodes, it.Attr("node"))
		}
		return nodes
	}
	if got := strings.Join(list(a), " "); got != "uptime test-wizard" {
		t.Fatalf("alice sees %q", got)
	}
	if got := strings.Join(list(boss), " "); got != "uptime online-users http://jabber.org/protocol/admin#end-user-session test-wizard" {
		t.Fatalf("the admin sees %q", got)
	}

	r := a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "' node='test-wizard'/></iq>")
	q := r.Child(disco.NSInfo, "query")
	if q == nil || q.Attr("node") != "test-wizard" {
		t.Fatalf("command node info: %s", r)
	}
	id := q.Child(disco.NSInfo, "identity")
	if id.Attr("category") != "automation" || id.Attr("type") != "command-node" || id.Attr("name") != "Test wizard" || !strings.Contains(q.String(), adhoc.NS) || !strings.Contains(q.String(), dataform.NS) {
		t.Fatalf("command node info: %s", r)
	}
	r = a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "' node='" + adhoc.NS + "'/></iq>")
	if id := r.Child(disco.NSInfo, "query").Child(disco.NSInfo, "identity"); id == nil || id.Attr("type") != "command-list" {
		t.Fatalf("command list info: %s", r)
	}
	if r := a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "' node='online-users'/></iq>"); testutil.ErrorCondition(r) != "forbidden" {
		t.Fatalf("admin command info for a user: %s", r)
	}
	if r := boss.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "' node='online-users'/></iq>"); r.Type() != "result" {
		t.Fatalf("admin command info for the admin: %s", r)
	}
	if r := a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSItems + "' node='test-wizard'/></iq>"); r.Type() != "result" || len(r.Child(disco.NSItems, "query").Elements()) != 0 {
		t.Fatalf("command node items: %s", r)
	}
	if r := a.IQ("<iq type='get' to='" + d + "'><query xmlns='" + disco.NSInfo + "' node='nothing'/></iq>"); testutil.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("unknown node: %s", r)
	}
}

// TestRemoteUsers checks that users of other servers neither see nor run
// the commands of local users.
func TestRemoteUsers(t *testing.T) {
	servers := testutil.Federate(t, "", "a.test", "b.test")
	bob := testutil.Login(t, servers[1].Addr, "bob@b.test", "bob-pw", "pc")
	r := bob.IQ("<iq type='get' to='a.test'><query xmlns='" + disco.NSItems + "' node='" + adhoc.NS + "'/></iq>")
	if q := r.Child(disco.NSItems, "query"); q == nil || len(q.Elements()) != 0 {
		t.Fatalf("command list for a remote user: %s", r)
	}
	wantError(t, testutil.RunCommand(bob, "a.test", "node='uptime'", ""), "forbidden", "")
}

func TestAdd(t *testing.T) {
	srv := testutil.StartServer(t, "")
	noop := func(context.Context, *adhoc.Session) (adhoc.Result, error) { return adhoc.Result{}, nil }
	cases := []struct {
		name string
		cmd  adhoc.Command
	}{
		{"no node", adhoc.Command{Access: adhoc.LocalUsers, Complete: noop}},
		{"the list node", adhoc.Command{Node: adhoc.NS, Access: adhoc.LocalUsers, Complete: noop}},
		{"no access", adhoc.Command{Node: "x", Complete: noop}},
		{"no complete", adhoc.Command{Node: "x", Access: adhoc.Admins}},
		{"stage without form", adhoc.Command{Node: "x", Access: adhoc.Admins, Complete: noop, Stages: []adhoc.Stage{{}}}},
		{"taken node", adhoc.Command{Node: "uptime", Access: adhoc.Admins, Complete: noop}},
	}
	for _, c := range cases {
		if err := srv.Commands().Add(c.cmd); err == nil {
			t.Errorf("%s: added", c.name)
		}
	}
}

// TestFailedCompletion checks that a command that fails ends completed
// with an error note (XEP-0050 §3.5), and that an internal failure is
// internal-server-error, leaving the session at its last stage.
func TestFailedCompletion(t *testing.T) {
	srv, a := start(t)
	d := srv.Domain
	calls := 0
	err := srv.Commands().Add(adhoc.Command{
		Node:   "flaky",
		Access: adhoc.LocalUsers,
		Stages: []adhoc.Stage{{Form: func(context.Context, *adhoc.Session) (*stanza.Element, error) {
			return dataform.New("form", "urn:test:flaky"), nil
		}}},
		Complete: func(context.Context, *adhoc.Session) (adhoc.Result, error) {
			calls++
			if calls == 1 {
				return adhoc.Result{}, fmt.Errorf("disk on fire")
			}
			return adhoc.Result{}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd, _, _, _ := executing(t, testutil.RunCommand(a, d, "node='flaky'", ""))
	sess := "node='flaky' sessionid='" + cmd.Attr("sessionid") + "'"
	if r := testutil.RunCommand(a, d, sess, testutil.SubmitForm()); testutil.ErrorCondition(r) != "internal-server-error" || strings.Contains(r.String(), "disk on fire") {
		t.Fatalf("failing Complete: %s", r)
	}
	if r := testutil.RunCommand(a, d, sess, testutil.SubmitForm()); r.Child(adhoc.NS, "command").Attr("status") != "completed" {
		t.Fatalf("second try: %s", r)
	}

	cmd, _, _, _ = executing(t, testutil.RunCommand(a, d, "node='test-wizard'", ""))
	sess = "node='test-wizard' sessionid='" + cmd.Attr("sessionid") + "'"
	testutil.RunCommand(a, d, sess, testutil.SubmitForm("name", "Alice"))
	testutil.RunCommand(a, d, sess, testutil.SubmitForm("colour", "red"))
	r := testutil.RunCommand(a, d, sess, testutil.SubmitForm("sure", "0"))
	c := r.Child(adhoc.NS, "command")
	if c.Attr("status") != "completed" || c.Child(adhoc.NS, "note").Attr("type") != "error" {
		t.Fatalf("unconfirmed: %s", r)
	}
}
