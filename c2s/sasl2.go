package c2s

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"parley/audit"
	"parley/sasl"
	"parley/stanza"
	"parley/streamfeature"
	"parley/xmlstream"
)

// Namespaces of SASL2 (XEP-0388), Bind 2 (XEP-0386) and FAST (XEP-0484).
const (
	NSSASL2 = "urn:xmpp:sasl:2"
	NSBind2 = "urn:xmpp:bind:0"
	NSFast  = "urn:xmpp:fast:0"
)

// Limits on what a client says about itself in <user-agent/>.
const (
	maxClientID  = 128 // bytes of the id attribute
	maxAgentText = 256 // bytes of <software/> and <device/>
	maxBindTag   = 64  // bytes of the Bind 2 <tag/> kept in the resource
)

// userAgent is the client's <user-agent/> of its SASL2 authentication.
type userAgent struct {
	id, software, device string
}

// sasl2Request is what a client's <authenticate/> asks for besides the
// authentication itself.
type sasl2Request struct {
	mech     string
	agent    userAgent
	bind     *stanza.Element // <bind xmlns='urn:xmpp:bind:0'/>, if any
	resume   *stanza.Element // <resume xmlns='urn:xmpp:sm:3'/>, if any
	fast     *stanza.Element // <fast xmlns='urn:xmpp:fast:0'/>, if any
	tokenFor string          // mechanism of <request-token/>, if any
}

func parseSASL2Request(auth *stanza.Element) sasl2Request {
	r := sasl2Request{mech: auth.Attr("mechanism")}
	if ua := auth.Child(NSSASL2, "user-agent"); ua != nil {
		r.agent = userAgent{
			id:       clip(strings.TrimSpace(ua.Attr("id")), maxClientID),
			software: clip(ua.ChildText(NSSASL2, "software"), maxAgentText),
			device:   clip(ua.ChildText(NSSASL2, "device"), maxAgentText),
		}
	}
	r.bind = auth.Child(NSBind2, "bind")
	r.resume = auth.Child(NSSM, "resume")
	r.fast = auth.Child(NSFast, "fast")
	if rt := auth.Child(NSFast, "request-token"); rt != nil {
		r.tokenFor = rt.Attr("mechanism")
	}
	return r
}

// clip shortens s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// sasl2Feature returns the SASL2 stream feature (XEP-0388) offering
// mechs, with Bind 2 (and its inline features), inline stream-management
// resumption and FAST.
func (c *conn) sasl2Feature(mechs []string, inlines []streamfeature.BindInline) *stanza.Element {
	auth := stanza.New(NSSASL2, "authentication")
	for _, m := range mechs {
		auth.Append(stanza.New(NSSASL2, "mechanism").AppendText(m))
	}
	inline := stanza.New(NSSASL2, "inline")
	bindInline := stanza.New(NSBind2, "inline")
	for _, f := range inlines {
		bindInline.Append(stanza.New(NSBind2, "feature", "var", f.Var))
	}
	bindInline.Append(stanza.New(NSBind2, "feature", "var", NSCSI))
	bindInline.Append(stanza.New(NSBind2, "feature", "var", NSSM))
	inline.Append(stanza.New(NSBind2, "bind").Append(bindInline))
	inline.Append(stanza.New(NSSM, "sm"))
	if c.srv.fastEnabled() {
		fast := stanza.New(NSFast, "fast")
		for _, m := range sasl.HTMechanisms(c.cb) {
			fast.Append(stanza.New(NSFast, "mechanism").AppendText(m))
		}
		inline.Append(fast)
	}
	return auth.Append(inline)
}

// downgradeProtection is the XEP-0474 option for SCRAM exchanges on this
// stream: the mechanisms and channel-binding types its features offered.
func (c *conn) downgradeProtection() sasl.Option {
	return sasl.DowngradeProtection(sasl.Mechanisms(c.cb, c.tls), sasl.ChannelBindingTypes(c.cb))
}

// sasl2Failure renders a SASL2 <failure/> with a SASL condition.
func sasl2Failure(cond, text string) string {
	var b strings.Builder
	b.WriteString("<failure xmlns='" + NSSASL2 + "'><" + cond + " xmlns='" + nsSASL + "'/>")
	if text != "" {
		b.WriteString("<text>" + xmlstream.Escape(text) + "</text>")
	}
	b.WriteString("</failure>")
	return b.String()
}

// decodeSASL2 decodes the base64 content of a SASL2 element; whitespace
// is ignored, and an empty element is empty data.
func decodeSASL2(s string) ([]byte, bool) {
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	if b == nil {
		b = []byte{}
	}
	return b, true
}

// authenticate2 runs one SASL2 authentication (XEP-0388) with what the
// client asked for inline. It reports true when the stream now carries a
// session, bound with Bind 2 or resumed; after a success without either
// the client goes on negotiating on the same stream, without a restart.
func (c *conn) authenticate2(ctx context.Context, auth *stanza.Element) (bool, error) {
	if !c.tls {
		c.t.SendRaw(sasl2Failure("encryption-required", "STARTTLS is required before authentication"))
		return false, nil
	}
	req := parseSASL2Request(auth)
	var (
		ex  sasl.Exchange
		ht  *sasl.HTExchange
		ft  *fastLogin
		err error
	)
	switch {
	case sasl.IsHT(req.mech):
		if !c.srv.fastEnabled() || !slices.Contains(sasl.HTMechanisms(c.cb), req.mech) {
			c.t.SendRaw(sasl2Failure("invalid-mechanism", req.mech+" is not offered"))
			return false, nil
		}
		ft = &fastLogin{srv: c.srv, client: req.agent.id, mech: req.mech}
		ht, err = c.srv.auth.NewHTExchange(req.mech, c.domain, c.cb, ft.keys)
		ex = ht
	default:
		opts := []sasl.Option{c.downgradeProtection()}
		if c.cannotBind {
			opts = append(opts, sasl.ClientCannotBind())
		}
		ex, err = c.srv.auth.NewExchange(req.mech, c.domain, c.srv.opts.Credentials, c.cb, opts...)
	}
	if err != nil {
		var f *sasl.Failure
		if errors.As(err, &f) {
			c.t.SendRaw(sasl2Failure(f.Condition, f.Text))
		} else {
			c.t.SendRaw(sasl2Failure("temporary-auth-failure", ""))
		}
		return false, nil
	}
	var in []byte
	if ir := auth.Child(NSSASL2, "initial-response"); ir != nil {
		var ok bool
		if in, ok = decodeSASL2(ir.Text()); !ok {
			c.t.SendRaw(sasl2Failure("incorrect-encoding", ""))
			return false, nil
		}
	}
	tried := "" // the account the client names, for the audit log
	for {
		if tried == "" {
			tried = triedAccount(req.mech, in, c.domain)
		}
		out, done, err := ex.Step(ctx, in)
		if err != nil {
			cond, text := c.authFailed(req.mech, tried, err)
			c.t.SendRaw(sasl2Failure(cond, text))
			if c.authFailures >= c.srv.opts.MaxAuthTries {
				return false, xmlstream.Errorf("policy-violation", "too many failed authentication attempts")
			}
			return false, nil
		}
		if done {
			return c.sasl2Success(ctx, req, ex.User(), out, ft, ht)
		}
		c.t.SendRaw("<challenge xmlns='" + NSSASL2 + "'>" + base64.StdEncoding.EncodeToString(out) + "</challenge>")
		resp, err := c.t.Next()
		if err != nil {
			return false, err
		}
		switch {
		case resp.Space == NSSASL2 && resp.Local == "abort":
			c.t.SendRaw(sasl2Failure("aborted", ""))
			return false, nil
		case resp.Space == NSSASL2 && resp.Local == "response":
		default:
			// XEP-0388 §2.5: nothing but responses during authentication.
			return false, xmlstream.Errorf("policy-violation", "expected a SASL2 response")
		}
		var ok bool
		if in, ok = decodeSASL2(resp.Text()); !ok {
			c.t.SendRaw(sasl2Failure("incorrect-encoding", ""))
			return false, nil
		}
	}
}

// authFailed handles a failed exchange of either SASL profile: a wrong
// password or token, for the account tried, slows the address down and
// is counted for the audit log; every failure counts toward the stream's
// limit of attempts. It returns the condition and text to answer.
func (c *conn) authFailed(mech, tried string, err error) (cond, text string) {
	var f *sasl.Failure
	cond, guess := "not-authorized", true
	if errors.As(err, &f) {
		cond, guess = f.Condition, f.CredentialsRejected()
		c.cannotBind = c.cannotBind || f.UnsupportedChannelBinding()
		if !guess {
			text = f.Text
		}
	}
	if guess {
		if d := c.srv.opts.Throttle.Delay(c.addr); d > 0 {
			time.Sleep(d)
		}
		c.srv.opts.Throttle.Failed(c.addr)
		from := failureAddress(c.addr)
		c.srv.opts.AuthFailures.Note(from, audit.Occurrence{Target: from, Subject: tried})
	}
	c.srv.opts.Log.Info().Str("remote", c.remote).Str("mechanism", mech).Str("condition", cond).Msg("authentication failed")
	c.authFailures++
	return cond, text
}

// sasl2Success completes a successful SASL2 authentication of user:
// tokens (FAST), then inline resumption (XEP-0198) or Bind 2, then the
// <success/> answer. out is the mechanism's additional data.
func (c *conn) sasl2Success(ctx context.Context, req sasl2Request, user string, out []byte, ft *fastLogin, ht *sasl.HTExchange) (bool, error) {
	c.srv.opts.Throttle.Succeeded(c.addr)
	c.user = user
	c.agent = req.agent
	c.srv.opts.Log.Info().Str("remote", c.remote).Str("user", c.user).Str("mechanism", req.mech).
		Str("software", req.agent.software).Msg("authenticated")

	var extra strings.Builder // after <authorization-identifier/>
	if ft != nil {
		extra.WriteString(ft.succeeded(ctx, req, user, ht.Matched()))
	} else if req.tokenFor != "" {
		extra.WriteString(c.issueToken(ctx, req))
	}
	head := "<success xmlns='" + NSSASL2 + "'>"
	if len(out) > 0 {
		head += "<additional-data>" + base64.StdEncoding.EncodeToString(out) + "</additional-data>"
	}
	success := func(authzid, inner string) string {
		return head + "<authorization-identifier>" + xmlstream.Escape(authzid) + "</authorization-identifier>" +
			inner + extra.String() + "</success>"
	}

	if req.resume != nil {
		ok, failed := c.resumeSession(req.resume, success)
		if ok {
			return true, nil
		}
		extra.WriteString(failed)
	}
	if req.bind != nil {
		return c.bind2(ctx, req, success)
	}
	c.t.SendRaw(success(c.user, ""))
	// No restart (XEP-0388 §2.6.1): the features of the authenticated
	// stream follow at once.
	c.t.SendRaw(c.features())
	return false, nil
}

// bind2 binds a resource made from the client's tag and a random part
// (XEP-0386 §3.2.1), enables what the client asked for inline, and sends
// the answer success(full JID, <bound/>) before anything routed to the
// session.
func (c *conn) bind2(ctx context.Context, req sasl2Request, success func(full, bound string) string) (bool, error) {
	user, err := jid.Parse(c.user)
	if err != nil {
		return false, fmt.Errorf("authenticated user %q: %w", c.user, err)
	}
	random := newResumeID()[:12]
	full, err := user.WithResource(random)
	if err != nil {
		return false, fmt.Errorf("resource for %s: %w", c.user, err)
	}
	if tag := clip(strings.TrimSpace(req.bind.ChildText(NSBind2, "tag")), maxBindTag); tag != "" {
		if j, err := user.WithResource(tag + "/" + random); err == nil {
			full = j
		}
	}
	c.newSession(ctx, full, false)

	var bound strings.Builder
	bound.WriteString("<bound xmlns='" + NSBind2 + "'>")
	inlines := c.srv.features.BindInlines()
	for _, el := range req.bind.Elements() {
		switch {
		case el.Space == NSSM && el.Local == "enable":
			bound.WriteString(c.sess.enable(el))
		case el.Space == NSCSI && (el.Local == "active" || el.Local == "inactive"):
			c.sess.csi.setInactive(el.Local == "inactive", c.sess.next)
		default:
			for _, f := range inlines {
				if f.Var == el.Space {
					if answer := f.Enable(ctx, c.res, el); answer != nil {
						bound.WriteString(answer.String())
					}
				}
			}
		}
	}
	bound.WriteString("</bound>")
	c.sess.attachWith(c, success(c.full, bound.String()))
	c.replaceEarlierSessions()
	c.srv.opts.Log.Info().Str("remote", c.remote).Str("jid", c.full).Msg("resource bound inline")
	return true, nil
}

// replaceEarlierSessions ends the account's other sessions from the same
// client, by its SASL2 user-agent id (XEP-0386 §3.2): a client that binds
// anew has left them behind.
func (c *conn) replaceEarlierSessions() {
	if c.agent.id == "" {
		return
	}
	for _, res := range c.srv.opts.Router.Resources(c.res.Bare) {
		s, ok := res.Session.(*session)
		if !ok || s == c.sess || s.clientID != c.agent.id {
			continue
		}
		c.srv.opts.Log.Info().Str("jid", s.full).Msg("session replaced by a new one of the same client")
		go s.Close("conflict", "replaced by a new session of the same client")
	}
}
