package register

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"parley/account"
	"parley/audit"
	"parley/dataform"
	"parley/stanza"
	"parley/storage"
	"parley/streamfeature"
)

// tokenKey keeps, in a stream's streamfeature.Request.State, the
// invitation token a <preauth/> request handed over.
type tokenKey struct{}

// submission is what a client filled in: the legacy fields or the data
// form (XEP-0077 §4).
type submission struct {
	username, password, token string
	hasUsername, hasPassword  bool
	remove                    bool
}

// parseSubmission reads a jabber:iq:register query. A submitted data form
// takes precedence over the legacy fields.
func parseSubmission(q *stanza.Element) submission {
	var s submission
	s.remove = q.Child(NS, "remove") != nil
	if x := q.Child(dataform.NS, "x"); x != nil && x.Attr("type") == "submit" {
		f := dataform.Parse(x)
		s.username, s.hasUsername = f.Value("username")
		s.password, s.hasPassword = f.Value("password")
		s.token, _ = f.Value("token")
		return s
	}
	if u := q.Child(NS, "username"); u != nil {
		s.username, s.hasUsername = u.Text(), true
	}
	if p := q.Child(NS, "password"); p != nil {
		s.password, s.hasPassword = p.Text(), true
	}
	return s
}

// handleRegistration answers jabber:iq:register requests before
// authentication: the form (get) and the registration of a new account
// (set, XEP-0077 §3.1).
func (m *Module) handleRegistration(ctx context.Context, req *streamfeature.Request) (*stanza.Element, error) {
	if req.Payload.Local != "query" {
		return nil, stanza.ErrText("bad-request", fmt.Sprintf("unknown element <%s/> in %s", req.Payload.Local, NS))
	}
	if !m.o.Enabled {
		return nil, stanza.ErrText("not-allowed", "registration of new accounts is off on this server; ask its administrator for an account")
	}
	_, preauth := req.State[tokenKey{}].(string)
	if req.Stanza.Type() == "get" {
		return m.form(!m.o.Open && !preauth), nil
	}
	s := parseSubmission(req.Payload)
	if s.remove {
		return nil, stanza.ErrText("registration-required", "log in to remove your account")
	}
	if s.token == "" {
		s.token, _ = req.State[tokenKey{}].(string)
	}
	return nil, m.register(ctx, req.Domain, req.Addr, s)
}

// form returns the registration form: the legacy fields and the same as a
// data form, with a token field when an invitation is needed.
func (m *Module) form(needToken bool) *stanza.Element {
	instructions := "Choose a username and a password of at least " + plural(m.o.MinPasswordLength, "character") + "."
	if needToken {
		instructions = "Registration needs an invitation. Enter its token, and choose a username and a password of at least " + plural(m.o.MinPasswordLength, "character") + "."
	}
	q := stanza.New(NS, "query")
	q.Append(stanza.New(NS, "instructions").AppendText(instructions))
	q.Append(stanza.New(NS, "username"))
	q.Append(stanza.New(NS, "password"))
	x := dataform.New("form", NS)
	x.Children = append([]stanza.Node{stanza.New(dataform.NS, "title").AppendText("Account registration"),
		stanza.New(dataform.NS, "instructions").AppendText(instructions)}, x.Children...)
	required := func(f *stanza.Element) *stanza.Element { return f.Append(stanza.New(dataform.NS, "required")) }
	x.Append(required(dataform.Field("username", "text-single", "Username")))
	x.Append(required(dataform.Field("password", "text-private", "Password")))
	if needToken {
		x.Append(required(dataform.Field("token", "text-single", "Invitation token")))
	}
	return q.Append(x)
}

// register creates the account s asks for on domain, for a client at
// addr.
func (m *Module) register(ctx context.Context, domain, addr string, s submission) error {
	if !s.hasUsername || !s.hasPassword || s.username == "" || s.password == "" {
		return stanza.ErrText("not-acceptable", "a username and a password are required")
	}
	user, err := account.User(s.username, domain)
	if err != nil {
		return stanza.ErrText("not-acceptable", capitalize(err.Error()))
	}
	if err := m.checkPassword(s.password); err != nil {
		return err
	}
	if !m.o.Open && s.token == "" {
		return stanza.ErrText("not-allowed", "registration on this server needs an invitation")
	}
	var inv *storage.Invitation
	if s.token != "" {
		got, err := account.CheckInvitation(ctx, m.store, s.token, domain, m.o.Now())
		if errors.Is(err, account.ErrBadInvitation) {
			return stanza.ErrText("forbidden", "the invitation is unknown, used or expired")
		}
		if err != nil {
			return err
		}
		if !account.Allows(got, user) {
			return stanza.ErrText("not-acceptable", "this invitation registers the username "+got.Localpart+" only")
		}
		inv = &got
	}
	if ok, err := m.store.AccountExists(ctx, user); err != nil {
		return err
	} else if ok {
		return stanza.ErrText("conflict", "the username is taken")
	}
	release, ok := m.limit.reserve(addr, m.o.Now())
	if !ok {
		return stanza.Error{Type: stanza.ErrorWait, Condition: "policy-violation", Text: "too many accounts were registered from your address; try again later"}
	}
	if inv != nil {
		if err := account.UseInvitation(ctx, m.store, *inv); err != nil {
			release()
			if errors.Is(err, account.ErrBadInvitation) {
				return stanza.ErrText("forbidden", "the invitation is unknown, used or expired")
			}
			return err
		}
	}
	if err := account.Create(ctx, m.store, user, s.password); err != nil {
		release()
		if inv != nil {
			if rerr := account.RestoreInvitation(ctx, m.store, *inv); rerr != nil {
				m.o.Log.Error().Err(rerr).Msg("an invitation used for a failed registration is lost")
			}
		}
		if errors.Is(err, account.ErrExists) {
			return stanza.ErrText("conflict", "the username is taken")
		}
		return err
	}
	m.o.Log.Info().Str("user", user).Str("remote", addr).Bool("invited", inv != nil).Msg("account registered")
	how := "without an invitation"
	if inv != nil {
		how = "with invitation " + account.InvitationID(*inv)
	}
	m.record(audit.Event{Action: audit.AccountCreated, Target: user, Detail: "registered in band from " + addr + ", " + how})
	return nil
}

// checkPassword refuses a password shorter than the configured minimum.
func (m *Module) checkPassword(password string) error {
	if utf8.RuneCountInString(password) < m.o.MinPasswordLength {
		return stanza.ErrText("not-acceptable", "the password must have at least "+plural(m.o.MinPasswordLength, "character"))
	}
	return nil
}

// handlePreauth checks the invitation token a client hands over before
// registering (XEP-0445) and keeps it for the stream's registration. The
// invitation is not used up until an account is created with it.
func (m *Module) handlePreauth(ctx context.Context, req *streamfeature.Request) (*stanza.Element, error) {
	if req.Payload.Local != "preauth" || req.Stanza.Type() != "set" {
		return nil, stanza.ErrText("bad-request", "expected an iq set with <preauth token='...'/>")
	}
	token := req.Payload.Attr("token")
	_, err := account.CheckInvitation(ctx, m.store, token, req.Domain, m.o.Now())
	if errors.Is(err, account.ErrBadInvitation) {
		return nil, stanza.ErrText("item-not-found", "the invitation is unknown, used or expired")
	}
	if err != nil {
		return nil, err
	}
	req.State[tokenKey{}] = token
	return nil, nil
}

// plural returns n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// capitalize makes the first letter of a message upper case.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
