package pubsub_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"parley/entitycaps"
	"parley/internal/testutil"
	"parley/pubsub"
	"parley/stanza"
)

// capsQuery builds the disco#info a test client answers with: a client
// identity, disco#info, a feature of the client's own (so that every
// client has a hash of its own, which the server must ask about) and the
// +notify features of nodes.
func capsQuery(own string, notify ...string) *stanza.Element {
	q := stanza.New(entitycaps.NSDiscInfo, "query")
	q.Append(stanza.New(entitycaps.NSDiscInfo, "identity", "category", "client", "type", "pc", "name", "test"))
	q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", entitycaps.NSDiscInfo))
	q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", "urn:test:client:"+own))
	for _, n := range notify {
		q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", n+"+notify"))
	}
	return q
}

// online sends c's available presence with capabilities asking for the
// notifications of nodes, and answers the server's disco#info query.
func online(t *testing.T, c *testutil.Client, notify ...string) {
	t.Helper()
	onlineWith(t, c, capsQuery(c.JID, notify...), "")
}

// onlineWith sends presence advertising the hash of q, answering the
// server's query with answer (q when empty).
func onlineWith(t *testing.T, c *testutil.Client, q *stanza.Element, answerXML string) {
	t.Helper()
	onlineAnswering(t, c, 1, q, answerXML)
}

// onlineAnswering sends presence advertising the hash of q and answers
// the first n capabilities queries (one from each server that follows
// c's presence for its accounts).
func onlineAnswering(t *testing.T, c *testutil.Client, n int, q *stanza.Element, answerXML string) {
	t.Helper()
	ver, err := entitycaps.Ver(q)
	if err != nil {
		t.Fatal(err)
	}
	c.Sendf("<presence><c xmlns='%s' hash='sha-1' node='urn:test' ver='%s'/></presence>", entitycaps.NS, ver)
	for range n {
		get := c.Expect(func(el *stanza.Element) bool {
			return el.Local == "iq" && el.Type() == "get" && el.Child(entitycaps.NSDiscInfo, "query") != nil
		})
		if node := get.Child(entitycaps.NSDiscInfo, "query").Attr("node"); node != "urn:test#"+ver {
			t.Errorf("caps query node %q, want urn:test#%s", node, ver)
		}
		body := q.Copy().SetAttr("node", "urn:test#"+ver).String()
		if answerXML != "" {
			body = answerXML
		}
		c.Sendf("<iq type='result' id='%s' to='%s'>%s</iq>", get.ID(), get.From(), body)
	}
	// The server handles a stream's stanzas in order: once the ping is
	// answered, so is the capabilities answer (by c's own server).
	if res := c.IQ("<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>"); res.Type() != "result" {
		t.Fatalf("ping: %s", res)
	}
}

// publish publishes payload as item id to node from c and returns the
// response.
func publish(c *testutil.Client, to, node, id, payload, options string) *stanza.Element {
	if to != "" {
		to = " to='" + to + "'"
	}
	if id != "" {
		id = " id='" + id + "'"
	}
	if options != "" {
		options = "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" +
			pubsub.FormPublishOptions + "</value></field>" + options + "</x></publish-options>"
	}
	return c.IQ(fmt.Sprintf("<iq type='set'%s><pubsub xmlns='%s'><publish node='%s'><item%s>%s</item></publish>%s</pubsub></iq>",
		to, pubsub.NS, node, id, payload, options))
}

// field renders a form field.
func field(name string, values ...string) string {
	var b strings.Builder
	b.WriteString("<field var='" + name + "'>")
	for _, v := range values {
		b.WriteString("<value>" + v + "</value>")
	}
	b.WriteString("</field>")
	return b.String()
}

// items asks owner's node for its items from c.
func items(c *testutil.Client, owner, node, attrs, children string) *stanza.Element {
	return c.IQ(fmt.Sprintf("<iq type='get' to='%s'><pubsub xmlns='%s'><items node='%s'%s>%s</items></pubsub></iq>",
		owner, pubsub.NS, node, attrs, children))
}

// itemIDs returns the ids of the items of an items result, in order.
func itemIDs(t *testing.T, res *stanza.Element) []string {
	t.Helper()
	ps := res.Child(pubsub.NS, "pubsub")
	if res.Type() != "result" || ps == nil || ps.Child(pubsub.NS, "items") == nil {
		t.Fatalf("not an items result: %s", res)
	}
	ids := []string{}
	for _, it := range ps.Child(pubsub.NS, "items").ChildrenNamed(pubsub.NS, "item") {
		ids = append(ids, it.Attr("id"))
	}
	return ids
}

// owner sends a pubsub#owner request.
func owner(c *testutil.Client, typ, inner string) *stanza.Element {
	return c.IQ(fmt.Sprintf("<iq type='%s'><pubsub xmlns='%s'>%s</pubsub></iq>", typ, pubsub.NSOwner, inner))
}

// isEvent matches a notification of node from owner.
func isEvent(owner, node string) func(*stanza.Element) bool {
	return func(el *stanza.Element) bool {
		if el.Local != "message" || el.From() != owner || el.Type() != "headline" {
			return false
		}
		ev := el.Child(pubsub.NSEvent, "event")
		if ev == nil {
			return false
		}
		for _, c := range ev.Elements() {
			if c.Attr("node") == node {
				return true
			}
		}
		return false
	}
}

// eventChild returns the child of a notification's event.
func eventChild(el *stanza.Element) *stanza.Element {
	return el.Child(pubsub.NSEvent, "event").FirstElement()
}

// wantError checks an error response's condition, its pubsub#errors
// condition (if app is not empty) and its legacy code.
func wantError(t *testing.T, what string, got *stanza.Element, condition, app, code string) {
	t.Helper()
	if c := testutil.ErrorCondition(got); c != condition {
		t.Errorf("%s: got %s, want %s", what, got, condition)
		return
	}
	e := got.Child("", "error")
	if app != "" && e.Child(pubsub.NSErrors, app) == nil {
		t.Errorf("%s: no pubsub#errors %s in %s", what, app, got)
	}
	if code != "" && e.Attr("code") != code {
		t.Errorf("%s: code %q, want %s", what, e.Attr("code"), code)
	}
}

// quiet is how long a test waits to be sure nothing arrives.
const quiet = 300 * time.Millisecond
