package component

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"mellium.im/xmpp/jid"

	"parley/internal/linger"
	"parley/stanza"
	"parley/xmlstream"
)

// conn is one component stream. The goroutine running serve owns the
// reading side; the writer and closeStream may be used from any
// goroutine.
type conn struct {
	svc    *Service
	nc     net.Conn
	remote string // peer address, for logs
	rd     *xmlstream.Reader
	w      *xmlstream.Writer
	id     string // our stream id, which the handshake digest covers

	// Owned by the reading goroutine; domain is set before the stream
	// is claimed and not changed afterwards.
	domain    string // the component's domain, from its stream header
	authed    bool   // the handshake succeeded and the domain is claimed
	peerError string // the stream error the component sent, if any

	mu         sync.Mutex
	headerSent bool
	stopCause  string // why the stream ended, when not for what was read
	closeOnce  sync.Once
}

func (s *Service) newConn(nc net.Conn) *conn {
	c := &conn{svc: s, nc: nc, remote: nc.RemoteAddr().String(), id: xmlstream.NewStreamID()}
	c.rd = xmlstream.NewReader(bufio.NewReaderSize(nc, 4096), s.opts.MaxStanzaSize)
	c.w = xmlstream.NewWriter(nc, xmlstream.WriterOptions{
		Pool: s.wpool,
		OnError: func(err error) {
			c.mu.Lock()
			if c.stopCause == "" {
				c.stopCause = "writing to the component failed: " + err.Error()
			}
			c.mu.Unlock()
			nc.Close()
		},
	})
	return c
}

// serve runs the stream until it ends, then logs how it ended and closes
// it.
func (c *conn) serve(ctx context.Context) {
	c.nc.SetReadDeadline(time.Now().Add(c.svc.opts.HandshakeTimeout))
	err := c.run(ctx)
	c.svc.release(c)
	c.finish(err)
}

// run reads the stream header and the handshake, then stanzas until the
// stream ends with err.
func (c *conn) run(ctx context.Context) error {
	h, err := c.rd.ReadHeader()
	if err != nil {
		return err
	}
	domain := normalizeDomain(h.To)
	_, known := c.svc.opts.Secrets[domain]
	if known {
		c.domain = domain
	} else {
		// Only for the log: the domain the peer asked for.
		c.domain = clip(h.To, maxLoggedDomain)
		domain = ""
	}
	c.openStream(domain)
	if h.Namespace != NS {
		return xmlstream.Errorf("invalid-namespace", "the default namespace must be %s", NS)
	}
	if !known {
		return xmlstream.Errorf("host-unknown", "%q is not a component domain of this server", c.domain)
	}
	el, err := c.rd.Next()
	if err != nil {
		return err
	}
	if err := c.handshake(el); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Time{})
	for {
		el, err := c.rd.Next()
		if err != nil {
			return err
		}
		if err := c.stanza(ctx, el); err != nil {
			return err
		}
	}
}

// handshake checks the component's first element, which must be its
// handshake (XEP-0114 §3), and claims the domain for this stream.
func (c *conn) handshake(el *stanza.Element) error {
	if isStreamError(el) {
		return c.peerClosed(el)
	}
	if el.Space != NS || el.Local != "handshake" {
		return xmlstream.Errorf("not-authorized", "send the handshake first")
	}
	want := handshakeDigest(c.id, c.svc.opts.Secrets[c.domain])
	got := strings.ToLower(strings.TrimSpace(el.Text()))
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return xmlstream.Errorf("not-authorized", "the handshake does not match the secret configured for %s", c.domain)
	}
	if !c.svc.claim(c) {
		return xmlstream.Errorf("conflict", "a component for %s is already connected", c.domain)
	}
	c.authed = true
	return nil
}

// handshakeDigest is what a component proves it knows the secret with:
// the lowercase hex SHA-1 of the stream id followed by the secret.
func handshakeDigest(streamID, secret string) string {
	sum := sha1.Sum([]byte(streamID + secret))
	return hex.EncodeToString(sum[:])
}

// stanza checks a stanza from the component and hands it to the router.
// Its from must be the component's domain or a JID at it, and it needs a
// to; anything else ends the stream.
func (c *conn) stanza(ctx context.Context, el *stanza.Element) error {
	if isStreamError(el) {
		return c.peerClosed(el)
	}
	space := el.Space
	toContent(el)
	kind := el.Kind()
	if kind == "" {
		return xmlstream.Errorf("unsupported-stanza-type", "<%s xmlns='%s'/> is not a stanza", el.Local, space)
	}
	if el.From() == "" {
		return xmlstream.Errorf("invalid-from", "a stanza from a component needs a from address at %s", c.domain)
	}
	from, err := c.svc.opts.Router.ParseJID(el.From())
	if err != nil || from.Domainpart() != c.domain {
		return xmlstream.Errorf("invalid-from", "from %q is not at %s", el.From(), c.domain)
	}
	if el.To() == "" {
		return xmlstream.Errorf("improper-addressing", "a stanza from a component needs a to address")
	}
	if kind == "iq" {
		t := el.Type()
		if el.ID() == "" || (t != "get" && t != "set" && t != "result" && t != "error") {
			if t != "error" && t != "result" {
				c.w.Send(stanza.ErrorReply(el, stanza.ErrText("bad-request", "iq needs an id and a type of get, set, result or error")))
			}
			return nil
		}
	}
	c.svc.opts.Router.Inbound(ctx, el)
	return nil
}

// peerClosed records the stream error the component sent; the stream
// ends as if closed.
func (c *conn) peerClosed(el *stanza.Element) error {
	cond, text := "", ""
	for _, ch := range el.Elements() {
		switch {
		case ch.Local == "text":
			text = ch.Text()
		case cond == "":
			cond = ch.Local
		}
	}
	c.peerError = "stream error from the component: " + cond
	if text != "" {
		c.peerError += " (" + text + ")"
	}
	return xmlstream.ErrStreamClosed
}

// finish logs how the stream ended after run returned err, and closes it.
func (c *conn) finish(err error) {
	log := c.svc.opts.Log
	c.mu.Lock()
	cause := c.stopCause
	c.mu.Unlock()
	var se *xmlstream.Error
	var ne net.Error
	cond, text, reason := "", "", ""
	switch {
	case cause != "":
		reason = cause
	case errors.As(err, &se):
		cond, text = se.Condition, se.Text
		reason = "stream error sent: " + cond
		if text != "" {
			reason += " (" + text + ")"
		}
	case errors.Is(err, xmlstream.ErrStreamClosed):
		reason = "the component closed the stream"
		if c.peerError != "" {
			reason = c.peerError
		}
	case errors.As(err, &ne) && ne.Timeout() && !c.authed:
		cond, text = "connection-timeout", "no successful handshake in time"
		reason = "no successful handshake within " + c.svc.opts.HandshakeTimeout.String()
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		reason = "connection closed"
	default:
		reason = err.Error()
	}
	switch {
	case c.authed:
		log.Info().Str("domain", c.domain).Str("remote", c.remote).Str("reason", reason).Msg("component disconnected")
	case cond != "":
		log.Warn().Str("domain", c.domain).Str("remote", c.remote).Str("reason", reason).Msg("component authentication failed")
	default:
		log.Info().Str("domain", c.domain).Str("remote", c.remote).Str("reason", reason).Msg("component connection ended before authentication")
	}
	c.closeStream(cond, text, se != nil && cause == "")
}

// openStream sends our stream header (XEP-0114 §3): from the component's
// domain when known, with the stream id the handshake digest covers.
func (c *conn) openStream(domain string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.headerSent {
		return
	}
	c.headerSent = true
	c.w.SendRaw(streamHeader(domain, c.id))
}

func streamHeader(from, id string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + NS + "' xmlns:stream='" + stanza.NSStream + "'")
	if from != "" {
		b.WriteString(" from='" + xmlstream.Escape(from) + "'")
	}
	b.WriteString(" id='" + id + "'>")
	return b.String()
}

// shutdown ends the stream with system-shutdown; the reading goroutine
// then finishes it.
func (c *conn) shutdown() {
	c.mu.Lock()
	if c.stopCause == "" {
		c.stopCause = "the server is shutting down"
	}
	c.mu.Unlock()
	c.closeStream("system-shutdown", "the server is shutting down", false)
}

// closeStream sends a stream error (if condition is set) and the closing
// tag, preceded by our header if it was not sent yet, and closes the
// connection. onInputError says the error answers what the component
// sent, on the reading goroutine, which then lets the component read it
// before the connection closes (see package linger). It acts once.
func (c *conn) closeStream(condition, text string, onInputError bool) {
	c.closeOnce.Do(func() {
		var b strings.Builder
		c.mu.Lock()
		if !c.headerSent {
			c.headerSent = true
			b.WriteString(streamHeader("", c.id))
		}
		c.mu.Unlock()
		if condition != "" {
			b.WriteString((&xmlstream.Error{Condition: condition, Text: text}).Element())
		}
		b.WriteString("</stream:stream>")
		c.w.Close(b.String(), 2*time.Second)
		if onInputError {
			linger.Close(c.nc)
		} else {
			c.nc.Close()
		}
	})
}

// normalizeDomain returns the normalized domain of a stream header's to
// address, or "" if it is not a bare domain.
func normalizeDomain(s string) string {
	j, err := jid.Parse(s)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return ""
	}
	return j.Domainpart()
}

// maxLoggedDomain bounds how much of an unknown domain is logged and
// quoted in errors.
const maxLoggedDomain = 100

// clip returns s cut to at most n bytes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// isStreamError reports whether el is a <stream:error/>.
func isStreamError(el *stanza.Element) bool {
	return el.Space == stanza.NSStream && el.Local == "error"
}

// toContent moves el and everything in it from the component stream's
// content namespace to the one stanzas are kept in (the empty namespace),
// as the stream reader does for jabber:client and jabber:server.
func toContent(el *stanza.Element) {
	if el.Space == NS {
		el.Space = ""
	}
	for _, n := range el.Children {
		if ch, ok := n.(*stanza.Element); ok {
			toContent(ch)
		}
	}
}
