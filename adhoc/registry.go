package adhoc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"

	"parley/dataform"
	"parley/router"
	"parley/stanza"
)

// Session limits.
const (
	// DefaultTimeout is how long a session waits for the requester's
	// next request before it ends.
	DefaultTimeout = 10 * time.Minute
	// MaxSessionsPerRequester bounds the sessions one full JID may have
	// running at once.
	MaxSessionsPerRequester = 10
	// MaxSessions bounds the sessions running at once in all.
	MaxSessions = 10000
)

// Registry holds the server's ad-hoc commands and their running
// sessions, and answers the protocol for them on the served domains.
type Registry struct {
	r      *router.Router
	admins map[string]bool
	log    zerolog.Logger

	now func() time.Time

	mu       sync.RWMutex
	timeout  time.Duration // how long a session lasts without a request
	commands []*Command
	byNode   map[string]*Command
	sessions map[string]*session
}

// session is a running (or recently ended) command session.
type session struct {
	Session
	cmd  *Command
	mu   sync.Mutex // held while a request of the session is processed
	last time.Time  // when the session was last used
	// ended is set once the session completed, was canceled or timed
	// out; the entry stays until it times out (again), so that a late
	// request learns the session is over rather than unknown.
	ended bool
}

// New returns a registry answering for r's domains; admins are the bare
// JIDs of server.admins. It registers the commands feature, the command
// IQ handler and the disco nodes with r.
func New(r *router.Router, admins []string, log zerolog.Logger) *Registry {
	reg := &Registry{
		r:        r,
		admins:   make(map[string]bool, len(admins)),
		log:      log,
		timeout:  DefaultTimeout,
		now:      time.Now,
		byNode:   make(map[string]*Command),
		sessions: make(map[string]*session),
	}
	for _, a := range admins {
		reg.admins[a] = true
	}
	r.AddFeature(router.TargetServer, NS)
	r.HandleIQ(router.TargetServer, NS, reg.handle)
	r.AddNodes(router.TargetServer, nodes{reg})
	r.OnUnbind(func(_ context.Context, res *router.Resource) { reg.endSessionsOf(res.JID) })
	return reg
}

// Add adds a command. Its node must be new, its Access set and Complete
// given. Commands may be added while the server runs.
func (reg *Registry) Add(c Command) error {
	switch {
	case c.Node == "" || c.Node == NS:
		return fmt.Errorf("ad-hoc command %q: invalid node", c.Node)
	case c.Access != LocalUsers && c.Access != Admins:
		return fmt.Errorf("ad-hoc command %q: access not set", c.Node)
	case c.Complete == nil:
		return fmt.Errorf("ad-hoc command %q: no Complete", c.Node)
	}
	for i, st := range c.Stages {
		if st.Form == nil {
			return fmt.Errorf("ad-hoc command %q: stage %d has no Form", c.Node, i)
		}
	}
	if c.Name == "" {
		c.Name = c.Node
	}
	c.Stages = slices.Clone(c.Stages)
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.byNode[c.Node]; dup {
		return fmt.Errorf("ad-hoc command %q: added twice", c.Node)
	}
	reg.commands = append(reg.commands, &c)
	reg.byNode[c.Node] = &c
	return nil
}

// SetTimeout sets how long a session lasts without a request
// (DefaultTimeout unless set).
func (reg *Registry) SetTimeout(d time.Duration) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.timeout = d
}

// IsAdmin reports whether from is a server administrator.
func (reg *Registry) IsAdmin(from jid.JID) bool {
	return from.Localpart() != "" && reg.admins[from.Bare().String()]
}

// Allowed reports whether from may list and run c.
func (reg *Registry) Allowed(c *Command, from jid.JID) bool {
	switch c.Access {
	case LocalUsers:
		return from.Localpart() != "" && reg.r.Serves(from.Domainpart())
	case Admins:
		return reg.IsAdmin(from) && reg.r.Serves(from.Domainpart())
	}
	return false
}

// command returns the command of node, or nil.
func (reg *Registry) command(node string) *Command {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.byNode[node]
}

// visible returns the commands from may run, in the order added.
func (reg *Registry) visible(from jid.JID) []*Command {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	var out []*Command
	for _, c := range reg.commands {
		if reg.Allowed(c, from) {
			out = append(out, c)
		}
	}
	return out
}

// handle answers a <command/> request: starting a session, moving it on
// or back, completing or canceling it.
func (reg *Registry) handle(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	req := iq.Payload
	if req.Local != "command" {
		return nil, stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", req.Local, NS))
	}
	if !iq.Set() {
		return nil, stanza.ErrText("bad-request", "commands are run with iq set")
	}
	node := req.Attr("node")
	if node == "" {
		return nil, stanza.ErrText("bad-request", "the command has no node")
	}
	action := req.Attr("action")
	switch action {
	case "", "execute", "next", "prev", "complete", "cancel":
	default:
		return nil, commandError("bad-request", "malformed-action", fmt.Sprintf("unknown action %q", action))
	}
	c := reg.command(node)
	if c == nil {
		return nil, stanza.ErrText("item-not-found", "no such command")
	}
	if !reg.Allowed(c, iq.From) {
		return nil, stanza.ErrText("forbidden", "this command is for "+c.Access.String())
	}
	id := req.Attr("sessionid")
	if id == "" {
		if action != "" && action != "execute" {
			return nil, commandError("bad-request", "bad-action", "a new session starts with execute")
		}
		return reg.start(ctx, iq, c)
	}
	s, err := reg.resume(id, c, iq.From)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return reg.step(ctx, s, action, req)
}

// start begins a session of c for the requester of iq: the first stage's
// form, or, for a command without stages, its result.
func (reg *Registry) start(ctx context.Context, iq *router.IQ, c *Command) (*stanza.Element, error) {
	lang := iq.Payload.Lang()
	if lang == "" {
		lang = iq.Stanza.Lang()
	}
	s := &session{cmd: c, Session: Session{
		ID:        newID(),
		Node:      c.Node,
		From:      iq.From,
		To:        iq.To,
		Lang:      lang,
		Submitted: make([]dataform.Form, len(c.Stages)),
	}}
	if len(c.Stages) == 0 {
		return reg.complete(ctx, s, false)
	}
	if err := reg.store(s); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out, err := reg.show(ctx, s, 0)
	if err != nil {
		reg.end(s)
	}
	return out, err
}

// step answers a request of a running session, which the caller holds.
func (reg *Registry) step(ctx context.Context, s *session, action string, req *stanza.Element) (*stanza.Element, error) {
	n, i := len(s.cmd.Stages), s.stage
	if action == "cancel" {
		reg.end(s)
		return s.response("canceled"), nil
	}
	if action == "" || action == "execute" {
		action = "next"
		if i == n-1 {
			action = "complete"
		}
	}
	switch action {
	case "prev":
		if i == 0 {
			return nil, commandError("bad-request", "bad-action", "this is the first stage")
		}
		return reg.show(ctx, s, i-1)
	case "next":
		if i == n-1 {
			return nil, commandError("bad-request", "bad-action", "this is the last stage; complete the command")
		}
		if err := reg.submit(ctx, s, i, req); err != nil {
			return nil, err
		}
		return reg.show(ctx, s, i+1)
	default: // complete
		if i != n-1 {
			return nil, commandError("bad-request", "bad-action", "the command cannot complete before its last stage")
		}
		if err := reg.submit(ctx, s, i, req); err != nil {
			return nil, err
		}
		return reg.complete(ctx, s, true)
	}
}

// submit takes what the request submitted at stage i, after the stage's
// Submit accepted it. A request without a form submits an empty one; a
// form of type cancel counts as submitted (XEP-0050 §3.4.1).
func (reg *Registry) submit(ctx context.Context, s *session, i int, req *stanza.Element) error {
	f := dataform.Form{Type: "submit", Values: map[string][]string{}}
	if x := req.Child(dataform.NS, "x"); x != nil {
		f = dataform.Parse(x)
	}
	if st := s.cmd.Stages[i]; st.Submit != nil {
		if err := st.Submit(ctx, &s.Session, f); err != nil {
			return reg.failed(s, err)
		}
	}
	s.Submitted[i] = f
	return nil
}

// show moves the session to stage i and returns its form, with what was
// submitted at that stage before filled in.
func (reg *Registry) show(ctx context.Context, s *session, i int) (*stanza.Element, error) {
	form, err := s.cmd.Stages[i].Form(ctx, &s.Session)
	if err != nil {
		return nil, reg.failed(s, err)
	}
	if form == nil {
		return nil, reg.failed(s, errors.New("stage has no form"))
	}
	if prev := s.Submitted[i].Values; prev != nil {
		form = remember(form, prev)
	}
	s.stage = i
	n := len(s.cmd.Stages)
	var allowed commands.Actions
	if i > 0 {
		allowed |= commands.Prev
	}
	if i < n-1 {
		allowed |= commands.Next | commands.Next<<3
	} else {
		allowed |= commands.Complete | commands.Complete<<3
	}
	return s.response("executing").Append(actions(allowed), form), nil
}

// complete runs the command's Complete and ends the session; a stored
// session stays at its last stage when Complete returns an error.
func (reg *Registry) complete(ctx context.Context, s *session, stored bool) (*stanza.Element, error) {
	res, err := s.cmd.Complete(ctx, &s.Session)
	if err != nil {
		return nil, reg.failed(s, err)
	}
	if stored {
		reg.end(s)
	}
	reg.log.Debug().Str("node", s.Node).Str("from", s.From.String()).Msg("ad-hoc command completed")
	out := s.response("completed")
	for _, n := range res.Notes {
		out.Append(stanza.New(NS, "note", "type", n.Type.String()).AppendText(n.Text))
	}
	if res.Form != nil {
		out.Append(res.Form)
	}
	return out, nil
}

// failed passes a stanza error on to the requester and wraps any other
// error with the command, for the router to log and answer with
// internal-server-error.
func (reg *Registry) failed(s *session, err error) error {
	var se stanza.Error
	if errors.As(err, &se) {
		return se
	}
	return fmt.Errorf("ad-hoc command %s: %w", s.Node, err)
}

// response starts the <command/> of a response.
func (s *session) response(status string) *stanza.Element {
	out := stanza.New(NS, "command", "node", s.Node, "sessionid", s.ID, "status", status)
	if s.Lang != "" {
		out.Attrs = append(out.Attrs, stanza.Attr{Space: stanza.NSXML, Local: "lang", Value: s.Lang})
	}
	return out
}

// actions renders the actions a stage allows, with the default one as
// execute.
func actions(a commands.Actions) *stanza.Element {
	el := stanza.New(NS, "actions")
	if def := (a & commands.Execute) >> 3; def != 0 {
		el.SetAttr("execute", def.String())
	}
	for _, one := range []commands.Actions{commands.Prev, commands.Next, commands.Complete} {
		if a&one != 0 {
			el.Append(stanza.New(NS, one.String()))
		}
	}
	return el
}

// remember returns a copy of form with the values of the fields in
// values replaced by them.
func remember(form *stanza.Element, values map[string][]string) *stanza.Element {
	form = form.Copy()
	for _, field := range form.ChildrenNamed(dataform.NS, "field") {
		vals, ok := values[field.Attr("var")]
		if !ok || field.Attr("type") == "fixed" || field.Attr("var") == "FORM_TYPE" {
			continue
		}
		field.RemoveChildren(dataform.NS, "value")
		for _, v := range vals {
			field.Append(stanza.New(dataform.NS, "value").AppendText(v))
		}
	}
	return form
}

// store adds a new session, returned locked by its caller, unless the
// requester or the server has too many.
func (reg *Registry) store(s *session) error {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	now := reg.now()
	reg.sweep(now)
	live, mine := 0, 0
	for _, other := range reg.sessions {
		if !other.ended {
			live++
			if other.From.Equal(s.From) {
				mine++
			}
		}
	}
	if mine >= MaxSessionsPerRequester {
		return stanza.ErrText("resource-constraint", "too many command sessions; complete or cancel one")
	}
	if live >= MaxSessions {
		return stanza.ErrText("resource-constraint", "too many command sessions on the server")
	}
	if len(reg.sessions) >= MaxSessions {
		for id, other := range reg.sessions {
			if other.ended {
				delete(reg.sessions, id)
			}
		}
	}
	s.mu.Lock()
	s.last = now
	reg.sessions[s.ID] = s
	return nil
}

// resume returns the running session id of c for from, locked.
func (reg *Registry) resume(id string, c *Command, from jid.JID) (*session, error) {
	reg.mu.Lock()
	now := reg.now()
	reg.sweep(now)
	s := reg.sessions[id]
	if s == nil || s.cmd != c || !s.From.Equal(from) {
		reg.mu.Unlock()
		return nil, commandError("bad-request", "bad-sessionid", "no such session of this command")
	}
	if s.ended {
		reg.mu.Unlock()
		return nil, commandError("not-allowed", "session-expired", "the session has ended")
	}
	s.last = now
	reg.mu.Unlock()
	s.mu.Lock()
	reg.mu.RLock()
	ended := s.ended
	reg.mu.RUnlock()
	if ended { // ended while we waited for an earlier request of it
		s.mu.Unlock()
		return nil, commandError("not-allowed", "session-expired", "the session has ended")
	}
	return s, nil
}

// end ends a session; its id is remembered as ended for a while.
func (reg *Registry) end(s *session) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	s.ended = true
	s.last = reg.now()
}

// sweep ends the sessions idle for longer than the timeout, and forgets
// those that ended longer than that ago. The caller holds reg.mu.
func (reg *Registry) sweep(now time.Time) {
	for id, s := range reg.sessions {
		if now.Sub(s.last) < reg.timeout {
			continue
		}
		if s.ended {
			delete(reg.sessions, id)
			continue
		}
		s.ended = true
		s.last = now
	}
}

// endSessionsOf forgets the sessions of a resource that went away.
func (reg *Registry) endSessionsOf(full jid.JID) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for id, s := range reg.sessions {
		if s.From.Equal(full) {
			delete(reg.sessions, id)
		}
	}
}

// newID returns a new, unguessable session id.
func newID() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// nodes is the registry's service discovery: the command list and the
// command nodes.
type nodes struct{ reg *Registry }

// DiscoInfo describes the command list node and each command node
// (XEP-0050 §2.2); a command the requester may not run is forbidden.
func (n nodes) DiscoInfo(_ context.Context, iq *router.IQ, node string) (*stanza.Element, bool, error) {
	const info = "http://jabber.org/protocol/disco#info"
	if node == NS {
		q := stanza.New(info, "query").Append(
			stanza.New(info, "identity", "category", "automation", "type", "command-list", "name", "Commands"),
			stanza.New(info, "feature", "var", NS),
		)
		return q, true, nil
	}
	c := n.reg.command(node)
	if c == nil {
		return nil, false, nil
	}
	if !n.reg.Allowed(c, iq.From) {
		return nil, true, stanza.ErrText("forbidden", "this command is for "+c.Access.String())
	}
	q := stanza.New(info, "query").Append(
		stanza.New(info, "identity", "category", "automation", "type", "command-node", "name", c.Name),
		stanza.New(info, "feature", "var", NS),
		stanza.New(info, "feature", "var", dataform.NS),
	)
	return q, true, nil
}

// DiscoItems lists the commands the requester may run under the command
// list node; a command node has no items.
func (n nodes) DiscoItems(_ context.Context, iq *router.IQ, node string) (*stanza.Element, bool, error) {
	const items = "http://jabber.org/protocol/disco#items"
	if node == NS {
		q := stanza.New(items, "query")
		for _, c := range n.reg.visible(iq.From) {
			q.Append(stanza.New(items, "item", "jid", iq.To.String(), "node", c.Node, "name", c.Name))
		}
		return q, true, nil
	}
	c := n.reg.command(node)
	if c == nil {
		return nil, false, nil
	}
	if !n.reg.Allowed(c, iq.From) {
		return nil, true, stanza.ErrText("forbidden", "this command is for "+c.Access.String())
	}
	return stanza.New(items, "query"), true, nil
}
