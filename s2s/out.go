package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"parley/stanza"
	"parley/xmlstream"
)

// maxQueued bounds the stanzas held while a link is being set up.
const maxQueued = 10000

type linkState int

const (
	linkConnecting linkState = iota
	linkReady
	linkDone
)

// outLink is an outgoing link for one (local, remote) domain pair: the
// whole state of the stream, its queue while it is set up, and its
// authentication.
type outLink struct {
	svc  *Service
	pair pair

	mu    sync.Mutex
	state linkState
	queue []*stanza.Element
	t     *transport
	idle  *idleTimer

	cancel context.CancelFunc
	reason string // why the link ended, for the log
	bidi   bool   // the peer may send stanzas back on this stream (XEP-0288)
}

// newOutLink returns a link for p; cancel ends the context its run gets,
// so that end can stop it at any point of its set-up.
func newOutLink(s *Service, p pair, cancel context.CancelFunc) *outLink {
	return &outLink{svc: s, pair: p, cancel: cancel}
}

func (l *outLink) done() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state == linkDone
}

// send queues or writes el. It reports false if the link has ended, so
// the caller must take a new one.
func (l *outLink) send(el *stanza.Element) bool {
	l.mu.Lock()
	switch l.state {
	case linkConnecting:
		if len(l.queue) >= maxQueued {
			l.mu.Unlock()
			l.svc.opts.Router.Bounce(context.Background(), el, stanza.ErrText("resource-constraint", "too many stanzas waiting for the link to "+l.pair.remote))
			return true
		}
		l.queue = append(l.queue, el)
		l.mu.Unlock()
		return true
	case linkReady:
		ok := l.t.w.Send(el)
		l.mu.Unlock()
		if ok {
			l.idle.touch()
		}
		return ok
	}
	l.mu.Unlock()
	return false
}

// run sets the link up, then reads from it until it ends.
func (l *outLink) run(ctx context.Context) {
	defer l.cancel()
	s := l.svc
	setup, stop := context.WithTimeout(ctx, s.opts.ConnectTimeout)
	t, auth, err := l.connect(setup)
	stop()
	if err != nil {
		l.failed(err)
		return
	}
	l.mu.Lock()
	if l.state == linkDone {
		// Ended (shut down) just as the set-up succeeded: nothing
		// queued was sent.
		reason := l.reason
		l.mu.Unlock()
		l.closeStream(t, reason)
		l.failed(fmt.Errorf("the link ended before use: %s", reason))
		return
	}
	l.t = t
	l.state = linkReady
	l.idle = newIdleTimer(s.opts.IdleTimeout, func() { l.end("idle") })
	queued := l.queue
	l.queue = nil
	for _, el := range queued {
		t.w.Send(el)
	}
	l.mu.Unlock()
	s.logLink("established", "out", l.pair, auth, "")
	s.auditEstablished("out", l.pair, auth)
	reason := l.read(ctx, t)
	l.end(reason)
	l.mu.Lock()
	reason = l.reason
	l.mu.Unlock()
	s.logLink("closed", "out", l.pair, auth, reason)
}

// end closes the link once: with a closing stream tag (or a stream error
// on shutdown), marking it done so that new stanzas take a new link.
func (l *outLink) end(reason string) {
	l.mu.Lock()
	if l.state == linkDone {
		l.mu.Unlock()
		return
	}
	l.state = linkDone
	l.reason = reason
	t := l.t
	if l.idle != nil {
		l.idle.stop()
	}
	l.mu.Unlock()
	l.svc.forget(l)
	if t != nil {
		l.closeStream(t, reason)
	}
	l.cancel()
}

// closeStream closes t, with a system-shutdown stream error on shutdown.
func (l *outLink) closeStream(t *transport, reason string) {
	cond, text := "", ""
	if reason == "shutdown" {
		cond, text = "system-shutdown", "the server is shutting down"
	}
	t.close(cond, text)
}

func (l *outLink) shutdown() { l.end("shutdown") }

// failed bounces everything queued after the link could not be set up.
func (l *outLink) failed(err error) {
	l.mu.Lock()
	shutdown := l.reason == "shutdown"
	l.state = linkDone
	queued := l.queue
	l.queue = nil
	l.mu.Unlock()
	l.svc.forget(l)
	cond := "remote-server-not-found"
	if isTimeout(err) {
		cond = "remote-server-timeout"
	}
	l.svc.logLink("failed", "out", l.pair, "", fmt.Sprintf("%v; %d stanzas bounced with %s", err, len(queued), cond))
	if !shutdown {
		l.svc.auditRefused("out", l.pair, whyFailed, err.Error(), "")
	}
	text := fmt.Sprintf("cannot reach %s: %v", l.pair.remote, err)
	for _, el := range queued {
		l.svc.opts.Router.Bounce(context.Background(), el, stanza.ErrText(cond, text))
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// read consumes what the peer sends on our outgoing stream: whitespace
// keepalives, a stream error or the closing tag. It returns why the
// stream ended.
func (l *outLink) read(ctx context.Context, t *transport) string {
	for {
		el, err := t.rd.Next()
		if err != nil {
			if errors.Is(err, xmlstream.ErrStreamClosed) {
				return "the peer closed the stream"
			}
			var se *xmlstream.Error
			if errors.As(err, &se) {
				t.w.SendRaw(se.Element())
				return "stream error sent: " + se.Condition
			}
			return err.Error()
		}
		l.idle.touch()
		switch {
		case isStreamError(el):
			cond, text := streamErrorOf(el)
			if text != "" {
				return "stream error from the peer: " + cond + " (" + text + ")"
			}
			return "stream error from the peer: " + cond
		case el.Space == nsDialback && el.Local == "verify":
			// Not used on outgoing links: verifications go on their own
			// connections.
		case el.Kind() != "" && l.bidi:
			if err := l.receive(ctx, el); err != nil {
				var se *xmlstream.Error
				errors.As(err, &se)
				t.w.SendRaw(se.Element())
				return "stream error sent: " + se.Condition
			}
		default:
			l.svc.opts.Log.Debug().Str("remote", l.pair.remote).Str("element", el.Local).Msg("s2s: ignoring element on outgoing stream")
		}
	}
}

// receive checks a stanza the peer sent back on a bidirectional stream
// and delivers it: it must come from the peer's domain (the one its
// certificate proved) to the local domain of this link.
func (l *outLink) receive(ctx context.Context, el *stanza.Element) error {
	r := l.svc.opts.Router
	from, err := r.ParseJID(el.From())
	if err != nil || from.Domainpart() != l.pair.remote {
		return xmlstream.Errorf("invalid-from", "only %s may send stanzas on this stream", l.pair.remote)
	}
	to, err := r.ParseJID(el.To())
	if err != nil || to.Domainpart() != l.pair.local {
		return xmlstream.Errorf("improper-addressing", "stanzas on this stream must be addressed to %s", l.pair.local)
	}
	r.Deliver(ctx, el)
	return nil
}

// connect resolves the peer and tries its addresses in order until one
// gives an authenticated stream.
func (l *outLink) connect(ctx context.Context) (*transport, string, error) {
	targets, err := l.svc.opts.Resolver.Resolve(ctx, l.pair.remote)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", l.pair.remote, err)
	}
	var errs []error
	for _, tg := range targets {
		t, auth, err := l.try(ctx, tg)
		if err == nil {
			return t, auth, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", tg.Addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, "", fmt.Errorf("no address for %s", l.pair.remote)
	}
	return nil, "", errors.Join(errs...)
}

// try connects to one target and authenticates there. ctx ending at any
// point closes the connection.
func (l *outLink) try(ctx context.Context, tg Target) (*transport, string, error) {
	t, f, id, err := l.svc.dialPeer(ctx, l.pair, tg)
	if err != nil {
		return nil, "", err
	}
	stop := context.AfterFunc(ctx, func() { t.raw.Close() })
	auth, err := l.authenticate(ctx, t, f, id)
	if !stop() && err == nil {
		err = errors.New("the connection was closed")
	}
	if err != nil {
		t.raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, "", err
	}
	t.raw.SetDeadline(time.Time{})
	return t, auth, nil
}

// dialPeer connects to one target and negotiates TLS, returning the
// stream after TLS with the peer's features and stream ID.
func (s *Service) dialPeer(ctx context.Context, p pair, tg Target) (*transport, features, string, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", tg.Addr)
	if err != nil {
		return nil, features{}, "", err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	t := newTransport(raw, s.opts.MaxStanzaSize, func(error) { raw.Close() })
	fail := func(err error) (*transport, features, string, error) {
		raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, features{}, "", err
	}
	if tg.DirectTLS {
		if err := t.upgrade(tls.Client(raw, s.tlsClientConfig(p.remote, true)), deadline); err != nil {
			return fail(err)
		}
	}
	for {
		f, id, err := t.open(p)
		if err != nil {
			return fail(err)
		}
		if t.tls {
			return t, f, id, nil
		}
		if !f.startTLS {
			return fail(errors.New("the peer does not offer STARTTLS, and TLS is required"))
		}
		t.w.SendRaw("<starttls xmlns='" + nsTLS + "'/>")
		el, err := t.next()
		if err != nil {
			return fail(err)
		}
		if el.Space != nsTLS || el.Local != "proceed" {
			return fail(fmt.Errorf("STARTTLS refused (<%s/>)", el.Local))
		}
		if err := t.upgrade(tls.Client(raw, s.tlsClientConfig(p.remote, false)), deadline); err != nil {
			return fail(err)
		}
	}
}

// open sends our stream header and reads the peer's header and features.
func (t *transport) open(p pair) (features, string, error) {
	t.restart()
	t.w.SendRaw(streamHeader(p.local, p.remote, ""))
	h, err := t.rd.ReadHeader()
	if err != nil {
		return features{}, "", fmt.Errorf("read stream header: %w", err)
	}
	if h.Namespace != stanza.NSServer {
		return features{}, "", fmt.Errorf("the peer's stream is in namespace %q, not jabber:server", h.Namespace)
	}
	if len(h.Version) < 2 || h.Version[:2] != "1." {
		return features{}, "", errors.New("the peer does not speak XMPP 1.0 (no version='1.0')")
	}
	el, err := t.next()
	if err != nil {
		return features{}, "", err
	}
	if el.Space != stanza.NSStream || el.Local != "features" {
		return features{}, "", fmt.Errorf("expected stream features, got <%s/>", el.Local)
	}
	return parseFeatures(el), h.ID, nil
}

// next reads the next element, turning a stream error from the peer into
// an error.
func (t *transport) next() (*stanza.Element, error) {
	el, err := t.rd.Next()
	if err != nil {
		if errors.Is(err, xmlstream.ErrStreamClosed) {
			return nil, errors.New("the peer closed the stream")
		}
		return nil, err
	}
	if isStreamError(el) {
		cond, text := streamErrorOf(el)
		if text != "" {
			return nil, fmt.Errorf("stream error from the peer: %s (%s)", cond, text)
		}
		return nil, fmt.Errorf("stream error from the peer: %s", cond)
	}
	return el, nil
}

// authenticate authenticates the local domain to the peer on a TLS
// stream: SASL EXTERNAL with our certificate when offered, else (or when
// the peer refuses it) dialback on the same stream. It returns the method
// used.
func (l *outLink) authenticate(ctx context.Context, t *transport, f features, id string) (string, error) {
	s := l.svc
	p := l.pair
	certErr := s.verified(t.peerCerts, p.remote)
	if certErr != nil && s.opts.SecureAuth {
		return "", fmt.Errorf("secure_auth: %w", certErr)
	}
	suffix := ""
	// Stanzas coming back on this stream are accepted only from a peer
	// whose certificate, on this very connection, proves its domain.
	l.bidi = f.bidi && certErr == nil
	if l.bidi {
		t.w.SendRaw("<bidi xmlns='" + nsBidi + "'/>")
		suffix = "+bidi"
	}
	if f.offers("EXTERNAL") {
		t.w.SendRaw("<auth xmlns='" + nsSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(p.local)) + "</auth>")
		el, err := t.next()
		if err != nil {
			return "", err
		}
		if el.Space == nsSASL && el.Local == "success" {
			if _, _, err := t.open(p); err != nil {
				return "", fmt.Errorf("after SASL EXTERNAL: %w", err)
			}
			return "EXTERNAL" + suffix, nil
		}
		cond, _ := streamErrorOf(el)
		s.opts.Log.Debug().Str("remote", p.remote).Str("condition", cond).Msg("s2s: peer refused SASL EXTERNAL; trying dialback")
		if s.opts.SecureAuth {
			return "", fmt.Errorf("the peer refused our certificate (SASL EXTERNAL: %s) and secure_auth forbids dialback", cond)
		}
	} else if s.opts.SecureAuth {
		return "", errors.New("the peer does not offer SASL EXTERNAL and secure_auth forbids dialback")
	}
	if id == "" {
		return "", errors.New("the peer's stream header has no id, which dialback needs")
	}
	key := dialbackKey(s.opts.DialbackSecret, p.remote, p.local, id)
	t.w.SendRaw("<db:result from='" + xmlstream.Escape(p.local) + "' to='" + xmlstream.Escape(p.remote) + "'>" + key + "</db:result>")
	for {
		el, err := t.next()
		if err != nil {
			return "", fmt.Errorf("dialback: %w", err)
		}
		if el.Space != nsDialback || el.Local != "result" || !answers(el, p) {
			continue // an answer must be about the request sent (XEP-0220 §3.1)
		}
		switch el.Type() {
		case "valid":
			return "dialback" + suffix, nil
		case "invalid":
			return "", errors.New("dialback: the peer found our key invalid")
		default:
			cond, text := dialbackErrorOf(el)
			return "", fmt.Errorf("dialback refused: %s %s", cond, text)
		}
	}
}

// answers reports whether a dialback answer from the peer is about p: from
// its domain to ours.
func answers(el *stanza.Element, p pair) bool {
	return normalizeDomain(el.Attr("from")) == p.remote && normalizeDomain(el.Attr("to")) == p.local
}

// dialbackErrorOf returns the condition and text of a dialback error
// (XEP-0220 §2.4).
func dialbackErrorOf(el *stanza.Element) (condition, text string) {
	e := el.Child("", "error")
	if e == nil {
		for _, c := range el.Elements() {
			if c.Local == "error" {
				e = c
				break
			}
		}
	}
	if e == nil {
		return "error", ""
	}
	return streamErrorOf(e)
}
