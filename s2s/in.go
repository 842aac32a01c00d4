package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"parley/stanza"
	"parley/xmlstream"
)

// inStream is the whole state of one incoming server stream: its
// transport, the current stream header and which (local, remote) domain
// pairs have authenticated on it.
type inStream struct {
	svc       *Service
	t         *transport
	directTLS bool
	addr      string // peer address, for logs

	// Set by the reading goroutine during negotiation.
	to, from  string // addresses of the current stream header
	streamID  string // our id for the current stream (dialback keys use it)
	peerError string // the stream error the peer sent, if any
	refused   bool   // the refusal is logged already

	mu       sync.Mutex
	bidi     bool            // the peer asked for a bidirectional stream (XEP-0288)
	authed   map[pair]string // pair -> auth method
	pending  map[pair]bool   // dialback verifications under way
	idle     *idleTimer
	opened   bool // our header for the current stream is sent
	closing  bool
	endOnce  sync.Once
	endCause string

	verifying sync.WaitGroup // dialback verifications, which end with the stream
}

func newInStream(s *Service, nc net.Conn, directTLS bool) *inStream {
	in := &inStream{svc: s, directTLS: directTLS, addr: nc.RemoteAddr().String(),
		authed: make(map[pair]string), pending: make(map[pair]bool)}
	in.t = newTransport(nc, s.opts.MaxStanzaSize, func(error) { nc.Close() })
	return in
}

// serve negotiates and then reads the stream until it ends. Dialback
// verifications still under way then are abandoned: their answer could
// only go to a closed stream.
func (in *inStream) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := in.svc
	raw := in.t.raw
	// Until a domain pair authenticates, the stream has ConnectTimeout.
	raw.SetReadDeadline(time.Now().Add(s.opts.ConnectTimeout))
	if in.directTLS {
		if err := in.t.upgrade(tls.Server(raw, s.tlsServerConfig()), time.Now().Add(s.opts.ConnectTimeout)); err != nil {
			s.opts.Log.Debug().Str("addr", in.addr).Err(err).Msg("s2s: direct TLS handshake failed")
			s.auditRefused("in", pair{}, whyTLS, "direct TLS handshake failed: "+err.Error(), in.addr)
			raw.Close()
			return
		}
	}
	err := in.loop(ctx)
	cancel()
	in.verifying.Wait()
	in.finish(err)
}

// finish logs how the stream ended after loop returned err, and closes it.
func (in *inStream) finish(err error) {
	s := in.svc
	cond, text, reason := "", "", ""
	var se *xmlstream.Error
	switch {
	case errors.As(err, &se):
		cond, text = se.Condition, se.Text
		reason = "stream error sent: " + cond
		if text != "" {
			reason += " (" + text + ")"
		}
	case errors.Is(err, xmlstream.ErrStreamClosed):
		reason = "the peer closed the stream"
		if in.peerError != "" {
			reason = in.peerError
		}
	case err != nil:
		reason = err.Error()
	}
	in.mu.Lock()
	authed := make(map[pair]string, len(in.authed))
	for p, a := range in.authed {
		authed[p] = a
	}
	cause := in.endCause
	if in.idle != nil {
		in.idle.stop()
	}
	in.mu.Unlock()
	if cause != "" {
		cond, text, reason = "", "", cause
	}
	if cond != "" {
		// A stream error needs our header first.
		local := in.to
		if !s.isLocal(local) {
			local = ""
		}
		in.openStream(local, in.from, xmlstream.NewStreamID())
	}
	for p, a := range authed {
		s.setBidi(p, in, false)
		s.logLink("closed", "in", p, a, reason)
	}
	if len(authed) == 0 && cond != "" && !in.refused {
		s.logLink("refused", "in", pair{in.to, in.from}, "", reason+" from "+in.addr)
		s.auditRefused("in", pair{in.to, in.from}, whyStream+" "+cond, reason, in.addr)
	}
	if se != nil && cause == "" {
		in.t.closeOnInputError(cond, text)
	} else {
		in.t.close(cond, text)
	}
}

// openStream sends our stream header, unless one was sent for the
// current stream already or stop closed it.
func (in *inStream) openStream(from, to, id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.opened || in.endCause != "" {
		return
	}
	in.opened = true
	in.t.w.SendRaw(streamHeader(from, to, id))
}

// shutdown ends the stream with system-shutdown.
func (in *inStream) shutdown() { in.stop("shutdown") }

// stop closes the connection from another goroutine; the reading
// goroutine then finishes the stream. A stream whose header we have not
// answered yet gets one first, so that what we send is well-formed.
func (in *inStream) stop(cause string) {
	in.endOnce.Do(func() {
		in.mu.Lock()
		in.endCause = cause
		if !in.opened {
			in.opened = true
			in.t.w.SendRaw(streamHeader("", "", xmlstream.NewStreamID()))
		}
		in.mu.Unlock()
		cond, text := "", ""
		if cause == "shutdown" {
			cond, text = "system-shutdown", "the server is shutting down"
		}
		in.t.close(cond, text)
	})
}

func (in *inStream) loop(ctx context.Context) error {
	for {
		restart, err := in.negotiate(ctx)
		if err != nil || !restart {
			return err
		}
	}
}

// negotiate runs one stream from its header up to a restart (reported
// true) or its end.
func (in *inStream) negotiate(ctx context.Context) (bool, error) {
	s := in.svc
	t := in.t
	t.restart()
	in.mu.Lock()
	in.opened = false
	in.mu.Unlock()
	h, err := t.rd.ReadHeader()
	if err != nil {
		return false, err
	}
	in.to, in.from = normalizeDomain(h.To), normalizeDomain(h.From)
	if h.Namespace != stanza.NSServer {
		return false, xmlstream.Errorf("invalid-namespace", "the default namespace must be jabber:server")
	}
	in.streamID = xmlstream.NewStreamID()
	if in.to == "" || !s.isLocal(in.to) {
		in.openStream("", in.from, in.streamID)
		return false, xmlstream.Errorf("host-unknown", "%s is not served here", h.To)
	}
	in.openStream(in.to, in.from, in.streamID)
	if !strings.HasPrefix(h.Version, "1.") {
		return false, xmlstream.Errorf("unsupported-version", "only XMPP 1.0 streams are supported")
	}
	if s.isLocal(in.from) {
		return false, xmlstream.Errorf("invalid-from", "%s is served here", in.from)
	}
	if in.from != "" {
		if err := s.opts.Policy.Check(in.from); err != nil {
			s.logLink("refused", "in", pair{in.to, in.from}, "", err.Error())
			s.auditRefused("in", pair{in.to, in.from}, whyPolicy, err.Error(), in.addr)
			in.refused = true
			return false, xmlstream.Errorf("policy-violation", "federation with %s is not permitted here", in.from)
		}
	}
	t.w.SendRaw(in.features())
	for {
		el, err := t.rd.Next()
		if err != nil {
			return false, err
		}
		in.touch()
		switch {
		case el.Space == nsTLS && el.Local == "starttls":
			if t.tls {
				return false, xmlstream.Errorf("policy-violation", "TLS is already established")
			}
			t.w.SendRaw("<proceed xmlns='" + nsTLS + "'/>")
			if err := t.upgrade(tls.Server(t.raw, s.tlsServerConfig()), time.Now().Add(s.opts.ConnectTimeout)); err != nil {
				s.opts.Log.Debug().Str("addr", in.addr).Err(err).Msg("s2s: STARTTLS handshake failed")
				s.auditRefused("in", pair{in.to, in.from}, whyTLS, "STARTTLS handshake failed: "+err.Error(), in.addr)
				return false, err
			}
			return true, nil
		case el.Space == nsSASL && el.Local == "auth":
			ok, err := in.external(el)
			if err != nil || ok {
				return ok, err
			}
		case el.Space == nsDialback && el.Local == "result":
			if err := in.dialbackResult(ctx, el); err != nil {
				return false, err
			}
		case el.Space == nsDialback && el.Local == "verify":
			in.answerVerify(el)
		case el.Space == nsBidi && el.Local == "bidi":
			if !t.tls {
				return false, xmlstream.Errorf("policy-violation", "STARTTLS first")
			}
			in.enableBidi()
		case isStreamError(el):
			cond, text := streamErrorOf(el)
			in.peerError = "stream error from the peer: " + cond
			if text != "" {
				in.peerError += " (" + text + ")"
			}
			return false, xmlstream.ErrStreamClosed
		case el.Kind() != "":
			if err := in.stanza(ctx, el); err != nil {
				return false, err
			}
		default:
			return false, xmlstream.Errorf("unsupported-stanza-type", "unexpected <%s xmlns='%s'/>", el.Local, el.Space)
		}
	}
}

func (in *inStream) features() string {
	s := in.svc
	var b strings.Builder
	b.WriteString("<stream:features>")
	if !in.t.tls {
		b.WriteString("<starttls xmlns='" + nsTLS + "'><required/></starttls>")
	} else {
		in.mu.Lock()
		_, done := in.authed[pair{in.to, in.from}]
		in.mu.Unlock()
		if !done && in.from != "" && s.verified(in.t.peerCerts, in.from) == nil {
			b.WriteString("<mechanisms xmlns='" + nsSASL + "'><mechanism>EXTERNAL</mechanism></mechanisms>")
		}
		if !s.opts.SecureAuth {
			b.WriteString("<dialback xmlns='" + nsDialbackFeature + "'><errors/></dialback>")
		}
		b.WriteString("<bidi xmlns='" + nsBidiFeature + "'/>")
	}
	b.WriteString("</stream:features>")
	return b.String()
}

// external handles SASL EXTERNAL (XEP-0178): the peer's certificate must
// be valid for the domain in its stream header. It reports true when the
// peer authenticated and the stream restarts.
func (in *inStream) external(auth *stanza.Element) (bool, error) {
	s := in.svc
	failure := func(cond, text string) (bool, error) {
		in.t.w.SendRaw("<failure xmlns='" + nsSASL + "'><" + cond + "/><text>" + xmlstream.Escape(text) + "</text></failure>")
		s.logLink("refused", "in", pair{in.to, in.from}, "EXTERNAL", text)
		s.auditRefused("in", pair{in.to, in.from}, whyCertificate+" "+cond, "SASL EXTERNAL: "+text, in.addr)
		return false, nil
	}
	if !in.t.tls {
		return failure("encryption-required", "STARTTLS first")
	}
	if auth.Attr("mechanism") != "EXTERNAL" {
		return failure("invalid-mechanism", "only EXTERNAL is offered")
	}
	if in.from == "" {
		return failure("not-authorized", "the stream header has no from address")
	}
	authzid := strings.TrimSpace(auth.Text())
	if authzid != "" && authzid != "=" {
		b, err := base64.StdEncoding.DecodeString(authzid)
		if err != nil {
			in.t.w.SendRaw("<failure xmlns='" + nsSASL + "'><incorrect-encoding/></failure>")
			return false, nil
		}
		if normalizeDomain(string(b)) != in.from {
			return failure("invalid-authzid", "the authorization identity must be the stream's from domain")
		}
	}
	if err := s.verified(in.t.peerCerts, in.from); err != nil {
		return failure("not-authorized", err.Error())
	}
	in.t.w.SendRaw("<success xmlns='" + nsSASL + "'/>")
	in.authenticated(pair{in.to, in.from}, "EXTERNAL")
	return true, nil
}

// enableBidi makes the stream bidirectional: stanzas for every pair
// authenticated on it, now or later, may go back over it.
func (in *inStream) enableBidi() {
	in.mu.Lock()
	in.bidi = true
	pairs := make([]pair, 0, len(in.authed))
	for p := range in.authed {
		pairs = append(pairs, p)
	}
	in.mu.Unlock()
	for _, p := range pairs {
		in.svc.setBidi(p, in, true)
	}
}

// send writes a stanza back to the peer over a bidirectional stream; it
// reports false once the stream has ended, and from then on the stream is
// no longer offered for its pairs.
func (in *inStream) send(el *stanza.Element) bool {
	if !in.t.w.Send(el) {
		in.mu.Lock()
		pairs := make([]pair, 0, len(in.authed))
		for p := range in.authed {
			pairs = append(pairs, p)
		}
		in.mu.Unlock()
		for _, p := range pairs {
			in.svc.setBidi(p, in, false)
		}
		return false
	}
	in.touch()
	return true
}

// touch marks activity for the idle timer, once there is one.
func (in *inStream) touch() {
	in.mu.Lock()
	idle := in.idle
	in.mu.Unlock()
	if idle != nil {
		idle.touch()
	}
}

// authenticated records that p may send stanzas on this stream.
func (in *inStream) authenticated(p pair, method string) {
	in.mu.Lock()
	in.authed[p] = method
	bidi := in.bidi
	delete(in.pending, p)
	first := in.idle == nil
	if first {
		in.idle = newIdleTimer(in.svc.opts.IdleTimeout, func() { in.stop("idle") })
	}
	in.mu.Unlock()
	if first {
		in.t.raw.SetReadDeadline(time.Time{})
	}
	if bidi {
		in.svc.setBidi(p, in, true)
		method += "+bidi"
	}
	in.svc.logLink("established", "in", p, method, "")
	in.svc.auditEstablished("in", p, method)
}

// dialbackResult handles a dialback request from an originating server
// (XEP-0220 §2.1.2): its key is checked with the authoritative server of
// its domain (or its certificate, when valid), and the answer sent back.
func (in *inStream) dialbackResult(ctx context.Context, el *stanza.Element) error {
	s := in.svc
	p := pair{local: normalizeDomain(el.Attr("to")), remote: normalizeDomain(el.Attr("from"))}
	key := strings.TrimSpace(el.Text())
	reply := func(typ, cond, text string) {
		var b strings.Builder
		b.WriteString("<db:result from='" + xmlstream.Escape(p.local) + "' to='" + xmlstream.Escape(p.remote) + "' type='" + typ + "'")
		if cond == "" {
			b.WriteString("/>")
		} else {
			b.WriteString("><error type='cancel'><" + cond + " xmlns='" + stanza.NSStanzas + "'/>")
			if text != "" {
				b.WriteString("<text xmlns='" + stanza.NSStanzas + "'>" + xmlstream.Escape(text) + "</text>")
			}
			b.WriteString("</error></db:result>")
		}
		in.t.w.SendRaw(b.String())
	}
	switch {
	case !in.t.tls:
		return xmlstream.Errorf("policy-violation", "STARTTLS is required before dialback")
	case p.remote == "" || key == "":
		return xmlstream.Errorf("improper-addressing", "dialback result without from or key")
	case !s.isLocal(p.local):
		reply("error", "item-not-found", p.local+" is not served here")
		return nil
	case s.isLocal(p.remote):
		reply("error", "not-allowed", p.remote+" is served here")
		s.logLink("refused", "in", p, "dialback", "the peer claims a domain served here")
		s.auditRefused("in", p, whyDialback+" local", "dialback: the peer claims a domain served here", in.addr)
		return nil
	case s.opts.SecureAuth:
		reply("error", "policy-violation", "this server requires certificate authentication (secure_auth)")
		s.logLink("refused", "in", p, "dialback", "dialback is disabled by secure_auth")
		s.auditRefused("in", p, whyDialback+" secure_auth", "secure_auth requires a valid certificate, and dialback is disabled", in.addr)
		return nil
	}
	if err := s.opts.Policy.Check(p.remote); err != nil {
		reply("error", "not-allowed", "federation with "+p.remote+" is not permitted here")
		s.logLink("refused", "in", p, "dialback", err.Error())
		s.auditRefused("in", p, whyPolicy, err.Error(), in.addr)
		return nil
	}
	in.mu.Lock()
	_, done := in.authed[p]
	busy := in.pending[p]
	if !done && !busy {
		in.pending[p] = true
	}
	in.mu.Unlock()
	if done {
		reply("valid", "", "")
		return nil
	}
	if busy {
		return nil // answered when the verification in progress ends
	}
	id := in.streamID
	in.verifying.Go(func() {
		vctx, cancel := context.WithTimeout(ctx, s.opts.ConnectTimeout)
		defer cancel()
		valid, err := s.verifyKey(vctx, p, id, key)
		if ctx.Err() != nil {
			return // the stream ended: there is nobody to answer
		}
		switch {
		case err != nil:
			in.mu.Lock()
			delete(in.pending, p)
			in.mu.Unlock()
			cond := "remote-server-not-found"
			if isTimeout(err) {
				cond = "remote-server-timeout"
			}
			reply("error", cond, "cannot verify the dialback key with "+p.remote)
			s.logLink("refused", "in", p, "dialback", fmt.Sprintf("verify with the authoritative server: %v", err))
			s.auditRefused("in", p, whyDialback+" verify", fmt.Sprintf("dialback: the key could not be verified with the authoritative server: %v", err), in.addr)
		case valid:
			in.authenticated(p, "dialback")
			reply("valid", "", "")
		default:
			in.mu.Lock()
			delete(in.pending, p)
			in.mu.Unlock()
			reply("invalid", "", "")
			s.logLink("refused", "in", p, "dialback", "the authoritative server says the key is invalid")
			s.auditRefused("in", p, whyDialback+" invalid", "dialback: the authoritative server says the key is invalid", in.addr)
			// The peer tried to spoof p.remote: the stream ends
			// (XEP-0220 §2.2.1).
			in.stop("dialback key for " + p.remote + " found invalid")
		}
	})
	return nil
}

// answerVerify answers a verification request as the authoritative
// server (XEP-0220 §2.1.3): was this key generated here?
func (in *inStream) answerVerify(el *stanza.Element) {
	s := in.svc
	receiving := normalizeDomain(el.Attr("from"))
	originating := normalizeDomain(el.Attr("to"))
	id := el.Attr("id")
	head := "<db:verify from='" + xmlstream.Escape(originating) + "' to='" + xmlstream.Escape(receiving) + "' id='" + xmlstream.Escape(id) + "'"
	if !s.isLocal(originating) {
		in.t.w.SendRaw(head + " type='error'><error type='cancel'><item-not-found xmlns='" + stanza.NSStanzas + "'/></error></db:verify>")
		return
	}
	typ := "invalid"
	if validDialbackKey(s.opts.DialbackSecret, receiving, originating, id, strings.TrimSpace(el.Text())) {
		typ = "valid"
	}
	s.opts.Log.Debug().Str("remote", receiving).Str("local", originating).Str("result", typ).Msg("s2s: answered dialback verification")
	in.t.w.SendRaw(head + " type='" + typ + "'/>")
}

// stanza checks the addresses of a stanza from the peer and delivers it:
// its from and to domains must be a pair authenticated on this stream
// (RFC 6120 §4.9.3.9, XEP-0220 §2.1.1).
func (in *inStream) stanza(ctx context.Context, el *stanza.Element) error {
	s := in.svc
	if el.From() == "" || el.To() == "" {
		return xmlstream.Errorf("improper-addressing", "stanzas between servers need from and to addresses")
	}
	from, err := s.opts.Router.ParseJID(el.From())
	if err != nil {
		return xmlstream.Errorf("invalid-from", "from address %q is not a valid JID", el.From())
	}
	if !in.isAuthenticated(from.Domainpart()) {
		return xmlstream.Errorf("invalid-from", "%s has not authenticated on this stream", from.Domainpart())
	}
	to, err := s.opts.Router.ParseJID(el.To())
	if err != nil {
		return xmlstream.Errorf("improper-addressing", "to address %q is not a valid JID", el.To())
	}
	if !s.isLocal(to.Domainpart()) {
		return xmlstream.Errorf("host-unknown", "%s is not served here", to.Domainpart())
	}
	in.mu.Lock()
	_, ok := in.authed[pair{local: to.Domainpart(), remote: from.Domainpart()}]
	in.mu.Unlock()
	if !ok {
		return xmlstream.Errorf("invalid-from", "%s has not authenticated for %s on this stream", from.Domainpart(), to.Domainpart())
	}
	s.opts.Router.Inbound(ctx, el)
	return nil
}

// isAuthenticated reports whether remote authenticated on this stream.
func (in *inStream) isAuthenticated(remote string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for p := range in.authed {
		if p.remote == remote {
			return true
		}
	}
	return false
}
