package c2s

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/sasl"
	"parley/stanza"
	"parley/streamfeature"
	"parley/xmlstream"
)

// conn is the whole state of one client stream.
type conn struct {
	srv    *Server
	t      transport
	remote string // peer address, for logs
	addr   string // remote IP, for throttling

	tls        bool
	cb         map[string][]byte // channel bindings of the TLS connection, until bound
	directTLS  bool
	domain     string
	lang       string
	hmu        sync.Mutex // guards headerSent and domain against Close from other goroutines
	headerSent bool
	user       string // authenticated bare JID
	res        *router.Resource
	sess       *session // the bound session, once bound or resumed
	left       bool     // the stream left its session (see leave)
	full       string

	// preAuthState is what the handlers of iq requests before
	// authentication keep for the stream (see streamfeature.Request).
	preAuthState map[any]any

	authFailures int
	agent        userAgent // what the client said of itself in SASL2
	// cannotBind: the client tried a -PLUS mechanism with a channel-binding
	// type parley lacks, so its later "y" flag is no downgrade.
	cannotBind bool

	closeOnce sync.Once
	// closedWithError: the server ended the stream with a stream error,
	// after which its session may not be resumed (XEP-0198 §5).
	closedWithError atomic.Bool

	ctx context.Context
}

// newTCPConn returns the stream of a TCP connection.
func (s *Server) newTCPConn(nc net.Conn, directTLS bool) *conn {
	c := &conn{srv: s, directTLS: directTLS}
	c.t = newTCPTransport(nc, tcpOptions{
		ReadPool:  s.readPool,
		WritePool: s.pool,
		Poller:    s.opts.Poller,
		OnWriteError: func(err error) {
			c.srv.opts.Log.Debug().Str("remote", c.remote).Err(err).Msg("write failed")
			c.t.Close(false)
		},
		Resume: c.loop,
	})
	c.init()
	return c
}

// init sets what the stream takes from its transport: a transport that
// is secure from the start (HTTPS) needs no STARTTLS.
func (c *conn) init() {
	c.remote = c.t.RemoteAddr()
	c.addr, _, _ = net.SplitHostPort(c.remote)
	c.tls = c.t.Secure()
	if state := c.t.TLSState(); state != nil {
		c.cb = sasl.ChannelBindings(state, c.srv.leaf())
	}
}

// Send writes a stanza of the negotiation, before a session is bound.
func (c *conn) Send(el *stanza.Element) bool { return c.t.Send(el) }

// Close sends a stream error (if condition is set) and the closing stream
// tag, then closes the connection.
func (c *conn) Close(condition, text string) {
	var se *xmlstream.Error
	if condition != "" {
		se = &xmlstream.Error{Condition: condition, Text: text}
	}
	c.closeStream(se, false)
}

// closeStream is Close; onInputError says that the stream error answers
// what the client sent, on the reading goroutine, which then lets the
// client read it before the connection closes (see package linger).
func (c *conn) closeStream(se *xmlstream.Error, onInputError bool) {
	c.closeOnce.Do(func() {
		var final []string
		c.hmu.Lock()
		if !c.headerSent {
			final = append(final, c.header())
		}
		c.hmu.Unlock()
		if se != nil {
			c.closedWithError.Store(true)
			final = append(final, se.Element())
		}
		final = append(final, c.t.Closing())
		c.t.Finish(2*time.Second, final...)
		c.t.Close(onInputError)
	})
}

func (c *conn) fail(err error) {
	var se *xmlstream.Error
	if errors.As(err, &se) {
		c.srv.opts.Log.Info().Str("remote", c.remote).Str("condition", se.Condition).Str("text", se.Text).Msg("stream error")
		c.closeStream(se, true)
		return
	}
	if errors.Is(err, xmlstream.ErrStreamClosed) {
		c.srv.opts.Log.Debug().Str("remote", c.remote).Msg("client closed stream")
		c.Close("", "")
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && c.res == nil {
		c.srv.opts.Log.Info().Str("remote", c.remote).Msg("unauthenticated stream timed out")
		c.Close("connection-timeout", "authentication took too long")
		return
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.srv.opts.Log.Debug().Str("remote", c.remote).Err(err).Msg("connection ended")
	}
	c.t.Close(false)
}

// serve negotiates the stream, then runs the session loop.
func (c *conn) serve(ctx context.Context) {
	c.ctx = ctx
	c.t.SetReadDeadline(time.Now().Add(c.srv.opts.AuthTimeout))
	if c.directTLS {
		if err := c.startTLS(); err != nil {
			c.srv.opts.Log.Debug().Str("remote", c.remote).Err(err).Msg("TLS handshake failed")
			c.end()
			return
		}
	}
	for {
		done, err := c.negotiate(ctx)
		if err != nil {
			c.fail(err)
			c.end()
			return
		}
		if done {
			break
		}
	}
	c.t.SetReadDeadline(time.Time{})
	c.srv.opts.Log.Info().Str("remote", c.remote).Str("jid", c.full).Bool("tls", c.tls).Msg("client session started")
	c.loop()
}

// loop reads and routes stanzas until the stream ends. When no input is
// pending it parks the stream and returns; the poller calls loop again in
// a new goroutine once input arrives, so an idle stream has no goroutine.
func (c *conn) loop() {
	for {
		parked, err := c.t.WaitInput(c.srv.opts.ParkAfter)
		if parked {
			return
		}
		if err != nil {
			c.stop(err)
			return
		}
		el, err := c.t.Next()
		if err != nil {
			c.stop(err)
			return
		}
		if err := c.handleStanza(c.ctx, el); err != nil {
			c.stop(err)
			return
		}
	}
}

// stop ends a bound session after err. The resource is unbound first, so
// that stanzas routed meanwhile go elsewhere or to offline storage rather
// than to a stream that is closing.
func (c *conn) stop(err error) {
	c.leave(resumable(err) && !c.closedWithError.Load())
	c.fail(err)
	c.end()
}

// resumable reports whether a stream that ended with err leaves its
// session for the client to resume (XEP-0198 §5): a connection that
// broke or went silent does; a stream the client closed, or one ended by
// a stream error, does not.
func resumable(err error) bool {
	var se *xmlstream.Error
	return !errors.As(err, &se) && !errors.Is(err, xmlstream.ErrStreamClosed)
}

// leave takes the stream off its session, once: the session waits for
// the client to resume it when it may, and ends otherwise.
func (c *conn) leave(mayResume bool) {
	if c.sess == nil || c.left {
		return
	}
	c.left = true
	ctx := context.WithoutCancel(c.ctx)
	switch c.sess.leave(c, mayResume) {
	case sessionEnds:
		c.sess.end(ctx)
		c.srv.opts.Log.Info().Str("remote", c.remote).Str("jid", c.full).Msg("client session ended")
	case sessionWaits:
		c.srv.opts.Log.Info().Str("remote", c.remote).Str("jid", c.full).Msg("client session waits for resumption")
	}
}

// end releases everything the stream held; it runs once, on the goroutine
// that saw the stream end.
func (c *conn) end() {
	c.leave(false)
	c.t.Close(false)
	c.srv.forget(c)
}

func (c *conn) startTLS() error {
	if err := c.t.StartTLS(c.srv.opts.TLS, time.Now().Add(c.srv.opts.AuthTimeout)); err != nil {
		return err
	}
	c.tls = true
	c.cb = sasl.ChannelBindings(c.t.TLSState(), c.srv.leaf())
	return nil
}

func (c *conn) header() string {
	from := c.domain
	if from == "" {
		from = c.srv.opts.Router.Domains()[0]
	}
	return c.t.Opening(from, xmlstream.NewStreamID())
}

func (c *conn) setHeaderSent(v bool) {
	c.hmu.Lock()
	c.headerSent = v
	c.hmu.Unlock()
}

// negotiate runs one stream (up to a restart). It reports done once a
// resource is bound.
func (c *conn) negotiate(ctx context.Context) (done bool, err error) {
	c.setHeaderSent(false)
	h, err := c.t.ReadHeader(c.srv.opts.MaxStanzaSize)
	if err != nil {
		return false, err
	}
	if h.To != "" {
		to, perr := jid.Parse(h.To)
		if perr == nil && c.srv.opts.Router.Serves(to.Domainpart()) && to.Localpart() == "" && to.Resourcepart() == "" {
			if c.domain != "" && c.domain != to.Domainpart() {
				return false, xmlstream.Errorf("host-unknown", "the stream restarted for a different domain")
			}
			c.hmu.Lock()
			c.domain = to.Domainpart()
			c.hmu.Unlock()
		} else {
			return false, xmlstream.Errorf("host-unknown", "%s is not served here", h.To)
		}
	} else {
		return false, xmlstream.Errorf("host-unknown", "the stream header has no 'to' address")
	}
	c.hmu.Lock()
	c.t.SendRaw(c.header())
	c.headerSent = true
	c.hmu.Unlock()
	if h.Namespace != stanza.NSClient {
		return false, xmlstream.Errorf("invalid-namespace", "the default namespace must be jabber:client")
	}
	if !strings.HasPrefix(h.Version, "1.") {
		return false, xmlstream.Errorf("unsupported-version", "only XMPP 1.0 streams are supported")
	}
	c.lang = h.Lang
	c.t.SendRaw(c.features())
	for {
		el, err := c.t.Next()
		if err != nil {
			return false, err
		}
		switch {
		case el.Space == nsTLS && el.Local == "starttls":
			if c.tls {
				return false, xmlstream.Errorf("policy-violation", "TLS is already established")
			}
			c.t.SendRaw("<proceed xmlns='" + nsTLS + "'/>")
			c.t.Drain(10 * time.Second)
			if err := c.startTLS(); err != nil {
				c.srv.opts.Log.Debug().Str("remote", c.remote).Err(err).Msg("STARTTLS handshake failed")
				return false, io.EOF
			}
			return false, nil
		case el.Space == nsSASL && el.Local == "auth":
			if c.user != "" {
				return false, xmlstream.Errorf("policy-violation", "already authenticated")
			}
			ok, err := c.authenticate(ctx, el)
			if err != nil || ok {
				return false, err
			}
		case el.Kind() == "iq" && el.Child(nsBind, "bind") != nil && c.user != "":
			return c.bind(ctx, el)
		case el.Space == NSSASL2 && el.Local == "authenticate":
			if c.user != "" {
				// XEP-0388 §3.8: one authentication per stream.
				return false, xmlstream.Errorf("policy-violation", "already authenticated")
			}
			if done, err := c.authenticate2(ctx, el); err != nil || done {
				return done, err
			}
		case el.Space == NSSM && el.Local == "resume" && c.user != "":
			if c.resume(el) {
				return true, nil
			}
		case el.Space == NSSM && c.user != "":
			// XEP-0198 §3: stream management needs a bound resource.
			c.t.SendRaw(smFailed("unexpected-request", "bind a resource before enabling stream management"))
		case c.user == "" && c.tls && el.Kind() == "iq" && c.preAuthHandler(el) != nil:
			c.preAuthIQ(ctx, el)
		case el.Kind() != "":
			if c.user == "" {
				return false, xmlstream.Errorf("not-authorized", "authenticate before sending stanzas")
			}
			if el.Kind() == "iq" && (el.Type() == "set" || el.Type() == "get") {
				c.Send(stanza.ErrorReply(el, stanza.ErrText("not-allowed", "bind a resource first")))
				continue
			}
			return false, xmlstream.Errorf("not-authorized", "bind a resource before sending stanzas")
		default:
			return false, xmlstream.Errorf("unsupported-stanza-type", "unexpected <%s xmlns='%s'/> during negotiation", el.Local, el.Space)
		}
	}
}

// preAuthHandler returns the handler a module registered for iq, a
// request sent before authentication, or nil.
func (c *conn) preAuthHandler(iq *stanza.Element) streamfeature.IQHandler {
	if t := iq.Type(); t != "get" && t != "set" {
		return nil
	}
	p := iq.FirstElement()
	if p == nil {
		return nil
	}
	return c.srv.features.IQHandler(p.Space)
}

// preAuthIQ answers an iq request sent on the encrypted stream before
// authentication (in-band registration) with its module's handler.
func (c *conn) preAuthIQ(ctx context.Context, iq *stanza.Element) {
	payload, err := router.Payload(iq)
	if err == nil {
		if c.preAuthState == nil {
			c.preAuthState = make(map[any]any)
		}
		payload, err = c.preAuthHandler(iq)(ctx, &streamfeature.Request{
			Stanza: iq, Payload: payload, Domain: c.domain, Addr: c.addr, State: c.preAuthState,
		})
	}
	if err != nil {
		var se stanza.Error
		if !errors.As(err, &se) {
			c.srv.opts.Log.Error().Err(err).Str("remote", c.remote).Str("ns", iq.FirstElement().Space).Msg("iq before authentication failed")
			se = stanza.Err("internal-server-error")
		}
		c.Send(stanza.ErrorReply(iq, se))
		return
	}
	res := stanza.Result(iq)
	if payload != nil {
		res.Append(payload)
	}
	c.Send(res)
}

// features returns the stream features for the negotiation stage: TLS
// first, then SASL with the Unauthenticated features of the registry,
// then resource binding with the Authenticated ones.
func (c *conn) features() string {
	var els []*stanza.Element
	switch {
	case !c.tls:
		els = append(els, stanza.New(nsTLS, "starttls").Append(stanza.New(nsTLS, "required")))
	case c.user == "":
		auth := c.saslFeatures()
		var b strings.Builder
		b.Grow(len(auth) + 512)
		b.WriteString("<stream:features>")
		b.WriteString(auth)
		for _, el := range c.srv.features.Elements(streamfeature.Unauthenticated) {
			b.WriteString(el.String())
		}
		b.WriteString("</stream:features>")
		return b.String()
	default:
		els = append(els,
			stanza.New(nsBind, "bind"),
			stanza.New(nsSession, "session").Append(stanza.New(nsSession, "optional")))
		els = append(els, c.srv.features.Elements(streamfeature.Authenticated)...)
	}
	var b strings.Builder
	b.WriteString("<stream:features>")
	for _, el := range els {
		b.WriteString(el.String())
	}
	b.WriteString("</stream:features>")
	return b.String()
}

// saslFeatures returns the authentication features of an encrypted
// stream: SASL's mechanisms, SASL2's (with Bind 2 and FAST inline) and
// the channel-binding types (XEP-0440). Every login renders them, and
// they depend only on the connection's channel bindings and what the
// server registered, so each combination is rendered once.
func (c *conn) saslFeatures() string {
	names := sasl.Mechanisms(c.cb, c.tls)
	cbTypes := sasl.ChannelBindingTypes(c.cb)
	inlines := c.srv.features.BindInlines()
	key := strings.Join(names, " ") + "|" + strings.Join(cbTypes, " ") + "|" + strconv.Itoa(len(inlines))
	if s, ok := c.srv.saslFeatures.Load(key); ok {
		return s.(string)
	}
	mechs := stanza.New(nsSASL, "mechanisms")
	for _, m := range names {
		mechs.Append(stanza.New(nsSASL, "mechanism").AppendText(m))
	}
	s := mechs.String() + c.sasl2Feature(names, inlines).String()
	if len(cbTypes) > 0 {
		// XEP-0440: the channel-binding types the server supports.
		types := stanza.New(nsSASLCB, "sasl-channel-binding")
		for _, t := range cbTypes {
			types.Append(stanza.New(nsSASLCB, "channel-binding", "type", t))
		}
		s += types.String()
	}
	c.srv.saslFeatures.Store(key, s)
	return s
}

// authenticate runs one SASL exchange. It reports true when the client
// authenticated and the stream must restart.
func (c *conn) authenticate(ctx context.Context, auth *stanza.Element) (bool, error) {
	failure := func(cond, text string) {
		var b strings.Builder
		b.WriteString("<failure xmlns='" + nsSASL + "'><" + cond + "/>")
		if text != "" {
			b.WriteString("<text>")
			b.WriteString(xmlstream.Escape(text))
			b.WriteString("</text>")
		}
		b.WriteString("</failure>")
		c.t.SendRaw(b.String())
	}
	if !c.tls {
		failure("encryption-required", "STARTTLS is required before authentication")
		return false, nil
	}
	mech := auth.Attr("mechanism")
	opts := []sasl.Option{c.downgradeProtection()}
	if c.cannotBind {
		opts = append(opts, sasl.ClientCannotBind())
	}
	ex, err := c.srv.auth.NewExchange(mech, c.domain, c.srv.opts.Credentials, c.cb, opts...)
	if err != nil {
		var f *sasl.Failure
		if errors.As(err, &f) {
			failure(f.Condition, f.Text)
		} else {
			failure("temporary-auth-failure", "")
		}
		return false, nil
	}
	in, ok := decodeSASL(auth.Text())
	if !ok {
		failure("incorrect-encoding", "")
		return false, nil
	}
	tried := "" // the account the client names, for the audit log
	for {
		if tried == "" {
			tried = triedAccount(mech, in, c.domain)
		}
		out, done, err := ex.Step(ctx, in)
		if err != nil {
			cond, _ := c.authFailed(mech, tried, err)
			failure(cond, "")
			if c.authFailures >= c.srv.opts.MaxAuthTries {
				return false, xmlstream.Errorf("policy-violation", "too many failed authentication attempts")
			}
			return false, nil
		}
		if done {
			c.srv.opts.Throttle.Succeeded(c.addr)
			c.user = ex.User()
			s := "<success xmlns='" + nsSASL + "'"
			if len(out) > 0 {
				s += ">" + base64.StdEncoding.EncodeToString(out) + "</success>"
			} else {
				s += "/>"
			}
			c.t.SendRaw(s)
			c.srv.opts.Log.Info().Str("remote", c.remote).Str("user", c.user).Str("mechanism", mech).Msg("authenticated")
			return true, nil
		}
		c.t.SendRaw("<challenge xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(out) + "</challenge>")
		resp, err := c.t.Next()
		if err != nil {
			return false, err
		}
		if resp.Space == nsSASL && resp.Local == "abort" {
			failure("aborted", "")
			return false, nil
		}
		if resp.Space != nsSASL || resp.Local != "response" {
			return false, xmlstream.Errorf("not-authorized", "expected a SASL response")
		}
		if in, ok = decodeSASL(resp.Text()); !ok {
			failure("incorrect-encoding", "")
			return false, nil
		}
	}
}

func decodeSASL(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func (c *conn) bind(ctx context.Context, iq *stanza.Element) (bool, error) {
	if iq.Type() != "set" {
		c.Send(stanza.ErrorReply(iq, stanza.ErrText("bad-request", "bind must be an iq set")))
		return false, nil
	}
	resource := strings.TrimSpace(iq.Child(nsBind, "bind").ChildText(nsBind, "resource"))
	if resource == "" {
		resource = "parley-" + xmlstream.NewStreamID()[:8]
	}
	user, err := jid.Parse(c.user)
	if err != nil {
		return false, fmt.Errorf("authenticated user %q: %w", c.user, err)
	}
	full, err := user.WithResource(resource)
	if err != nil {
		c.Send(stanza.ErrorReply(iq, stanza.ErrText("bad-request", "invalid resource")))
		return false, nil
	}
	c.newSession(ctx, full, true)
	reply := stanza.New("", "iq", "type", "result", "id", iq.ID())
	reply.Append(stanza.New(nsBind, "bind").Append(stanza.New(nsBind, "jid").AppendText(c.full)))
	c.Send(reply)
	return true, nil
}

// newSession binds full to a new session of this stream, attached to it
// at once or, for Bind 2, once the answer is ready (see attachWith).
func (c *conn) newSession(ctx context.Context, full jid.JID, attach bool) {
	c.full = full.String()
	c.cb = nil // only authentication needed them
	c.sess = &session{srv: c.srv, full: c.full, user: c.user, clientID: c.agent.id}
	c.sess.next = c.sess.send
	if attach {
		c.sess.attach(c)
	}
	c.res = c.srv.opts.Router.Bind(ctx, full, c.sess)
	c.sess.res = c.res
}

// handleStanza validates a stanza from the bound client, stamps its from
// address and hands it to the router.
func (c *conn) handleStanza(ctx context.Context, el *stanza.Element) error {
	kind := el.Kind()
	if kind == "" && el.Space == NSCSI && (el.Local == "active" || el.Local == "inactive") {
		c.sess.csi.setInactive(el.Local == "inactive", c.sess.next)
		return nil
	}
	if kind == "" && el.Space == NSSM {
		return c.streamManagement(el)
	}
	c.sess.received()
	if kind == "" {
		return xmlstream.Errorf("unsupported-stanza-type", "<%s xmlns='%s'/> is not a stanza", el.Local, el.Space)
	}
	if from := el.From(); from != "" && from != c.full {
		f, err := c.srv.opts.Router.ParseJID(from)
		// Another resource of the same account is stamped over like a
		// missing from: the stanza leaves from this session's address
		// either way, and web clients that resumed a session name the
		// resource they would have bound. Another account's address is
		// a forgery (RFC 6120 §8.1.2.1).
		if err != nil || f.Bare().String() != c.res.Bare {
			return xmlstream.Errorf("invalid-from", "from %q does not match the session %s", from, c.full)
		}
	}
	el.SetAttr("from", c.full)
	if c.lang != "" && el.Lang() == "" {
		// RFC 6120 §4.7.4: a routed stanza carries the stream's language.
		el.Attrs = append(el.Attrs, stanza.Attr{Space: stanza.NSXML, Local: "lang", Value: c.lang})
	}
	if kind == "iq" {
		t := el.Type()
		if el.ID() == "" || (t != "get" && t != "set" && t != "result" && t != "error") {
			if t != "error" && t != "result" {
				c.srv.opts.Router.Send(ctx, c.res, stanza.ErrorReply(el, stanza.ErrText("bad-request", "iq needs an id and a type")))
			}
			return nil
		}
	}
	c.srv.opts.Router.Route(ctx, c.res, el)
	return nil
}
