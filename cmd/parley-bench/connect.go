package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsRoster   = "jabber:iq:roster"
	nsSM       = "urn:xmpp:sm:3"
	nsCarbons  = "urn:xmpp:carbons:2"
	nsRegister = "jabber:iq:register"

	// setupTimeout bounds one connection's negotiation.
	setupTimeout = 60 * time.Second
	// scanBuffer is the initial read buffer of a session: small, for the
	// scenarios holding many connections; trafficBuffer holds a full TLS
	// record, for sessions that receive streams of messages. maxStanza
	// bounds growth.
	scanBuffer    = 2 << 10
	trafficBuffer = 16 << 10
	maxStanza     = 1 << 20
)

// connector opens and authenticates sessions to the server under test.
type connector struct {
	addr, domain string
	wsURL        string // the WebSocket endpoint (RFC 7395); "" over TCP
	password     string
	mech         string
	src          *sources
	cache        *scramCache
	tls          *tls.Config
	user         func(i int) string
	header       []byte
	readBuffer   int // initial read buffer of the encrypted stream
}

func newConnector(o *options, src *sources) *connector {
	c := &connector{
		addr:       o.addr,
		domain:     o.domain,
		password:   o.password,
		mech:       o.mech,
		src:        src,
		cache:      newSCRAMCache(),
		user:       o.user,
		readBuffer: scanBuffer,
		tls: &tls.Config{
			ServerName:         o.domain,
			InsecureSkipVerify: true, // benchmark servers use self-signed certificates
			MinVersion:         tls.VersionTLS12,
			// Plain X25519 first: every server under test supports it, so
			// the key exchange costs the same everywhere.
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		},
		header: []byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
			"xmlns:stream='http://etherx.jabber.org/streams' to='" + escape(o.domain) +
			"' version='1.0' xml:lang='en'>"),
	}
	if o.tlsResume {
		c.tls.ClientSessionCache = tls.NewLRUClientSessionCache(1024)
	}
	if o.transport == transportWebSocket {
		c.wsURL = o.wsURL
		c.header = wsHeader(o.domain)
	}
	return c
}

// secure opens a TCP connection, negotiates STARTTLS and returns the
// session with the features of the encrypted stream; over WebSocket it
// opens the stream on a new WebSocket connection instead. The
// connection's deadline covers the negotiation; callers clear it when
// done.
func (c *connector) secure(ctx context.Context) (*session, features, error) {
	if c.wsURL != "" {
		return c.dialWebSocket(ctx)
	}
	d := c.src.dialer()
	d.Timeout = setupTimeout
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, features{}, fmt.Errorf("connect: %w", err)
	}
	nc.SetDeadline(time.Now().Add(setupTimeout))
	s := &session{nc: nc, sc: newScanner(nc, scanBuffer, maxStanza)}
	fail := func(what string, err error) (*session, features, error) {
		nc.Close()
		return nil, features{}, fmt.Errorf("%s: %w", what, err)
	}
	feats, err := c.open(s)
	if err != nil {
		return fail("open stream", err)
	}
	if !feats.starttls {
		return fail("stream features", errors.New("server does not offer STARTTLS"))
	}
	if err := s.writeString("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		return fail("starttls", err)
	}
	raw, err := c.nextStanza(s)
	if err != nil {
		return fail("starttls", err)
	}
	if string(elemName(raw)) != "proceed" {
		return fail("starttls", fmt.Errorf("server answered %q", clip(raw)))
	}
	tc := tls.Client(nc, c.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail("TLS handshake", err)
	}
	s.nc = tc
	s.sc = newScanner(tc, c.readBuffer, maxStanza)
	if feats, err = c.open(s); err != nil {
		return fail("open TLS stream", err)
	}
	return s, feats, nil
}

// open sends a stream header and reads the server's header and features.
func (c *connector) open(s *session) (features, error) {
	if err := s.write(c.header); err != nil {
		return features{}, err
	}
	tok, err := s.sc.next()
	if err != nil {
		return features{}, err
	}
	if tok.kind != tokHeader {
		return features{}, fmt.Errorf("expected a stream header, got %q", clip(tok.raw))
	}
	raw, err := c.nextStanza(s)
	if err != nil {
		return features{}, err
	}
	if n := elemName(raw); !bytes.HasSuffix(n, []byte(":features")) && string(n) != "features" {
		return features{}, fmt.Errorf("expected stream features, got %q", clip(raw))
	}
	return parseFeatures(raw), nil
}

// nextStanza reads the next stanza during negotiation, answering server
// requests; a stream error or end becomes an error.
func (c *connector) nextStanza(s *session) ([]byte, error) {
	for {
		tok, err := s.sc.next()
		if err != nil {
			return nil, err
		}
		switch {
		case tok.kind == tokEnd:
			return nil, errStreamEnded
		case tok.kind != tokStanza:
			return nil, errors.New("unexpected stream header")
		case s.smCount(elemName(tok.raw)):
			continue
		case bytes.HasSuffix(elemName(tok.raw), []byte(":error")) && bytes.HasPrefix(elemName(tok.raw), []byte("stream")):
			return nil, fmt.Errorf("stream error %s", errorCondition(tok.raw))
		case string(elemName(tok.raw)) == "iq":
			if t, _ := attr(tok.raw, "type"); string(t) == "get" || string(t) == "set" {
				if err := s.answer(tok.raw); err != nil {
					return nil, err
				}
				continue
			}
		}
		return tok.raw, nil
	}
}

// awaitIQ reads until the reply to iq id arrives, dropping unrelated
// stanzas (nothing else is expected before the read loop starts). An
// error reply is returned with an error naming its condition.
func (c *connector) awaitIQ(s *session, id string) ([]byte, error) {
	for {
		raw, err := c.nextStanza(s)
		if err != nil {
			return nil, err
		}
		if string(elemName(raw)) != "iq" || attrString(raw, "id") != id {
			continue
		}
		if t, _ := attr(raw, "type"); string(t) == "error" {
			return raw, fmt.Errorf("iq error %s", errorCondition(raw))
		}
		return raw, nil
	}
}

// authenticate runs SASL for user i and restarts the stream; it returns
// the features of the authenticated stream.
func (c *connector) authenticate(s *session, feats features, i int) (features, error) {
	if !slices.Contains(feats.mechanisms, c.mech) {
		return features{}, fmt.Errorf("server does not offer %s (offers %v)", c.mech, feats.mechanisms)
	}
	user := c.user(i)
	var sc *scramClient
	var first []byte
	if c.mech == "PLAIN" {
		first = []byte("\x00" + user + "\x00" + c.password)
	} else {
		var err error
		if sc, err = newSCRAMClient(c.mech, user, c.password, "", c.cache); err != nil {
			return features{}, err
		}
		first = sc.first()
	}
	if err := s.writeString("<auth xmlns='" + nsSASL + "' mechanism='" + c.mech + "'>" +
		base64.StdEncoding.EncodeToString(first) + "</auth>"); err != nil {
		return features{}, err
	}
	verified := false
	for step := 0; ; step++ {
		raw, err := c.nextStanza(s)
		if err != nil {
			return features{}, err
		}
		data, _ := childlessText(raw)
		payload, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
		if err != nil && string(bytes.TrimSpace(data)) != "=" {
			return features{}, fmt.Errorf("SASL: bad base64 in %q", clip(raw))
		}
		switch string(elemName(raw)) {
		case "challenge":
			var resp []byte
			switch {
			case sc == nil || step > 1:
				return features{}, fmt.Errorf("SASL: unexpected challenge %q", clip(raw))
			case step == 0:
				if resp, err = sc.final(payload); err != nil {
					return features{}, fmt.Errorf("SASL: %w", err)
				}
			default: // server-final-message sent as a challenge
				if err := sc.verify(payload); err != nil {
					return features{}, fmt.Errorf("SASL: %w", err)
				}
				verified = true
			}
			if err := s.writeString("<response xmlns='" + nsSASL + "'>" +
				base64.StdEncoding.EncodeToString(resp) + "</response>"); err != nil {
				return features{}, err
			}
		case "success":
			if sc != nil && !verified {
				if err := sc.verify(payload); err != nil {
					return features{}, fmt.Errorf("SASL: %w", err)
				}
			}
			s.sc.restart()
			return c.open(s)
		case "failure":
			return features{}, fmt.Errorf("SASL %s failed for %s: %s", c.mech, user, firstChildName(raw))
		default:
			return features{}, fmt.Errorf("SASL: unexpected %q", clip(raw))
		}
	}
}

// bind binds resource and, when the server requires it, establishes the
// legacy session (RFC 3921).
func (c *connector) bind(s *session, feats features, i int, resource string) error {
	if !feats.bind {
		return errors.New("server does not offer resource binding")
	}
	if err := s.writeString("<iq type='set' id='bind'><bind xmlns='" + nsBind + "'><resource>" +
		escape(resource) + "</resource></bind></iq>"); err != nil {
		return err
	}
	raw, err := c.awaitIQ(s, "bind")
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	j, ok := childText(raw, "jid")
	if !ok || len(j) == 0 {
		return fmt.Errorf("bind: no jid in %q", clip(raw))
	}
	s.jid = unescape(j)
	s.bare, _, _ = strings.Cut(s.jid, "/")
	s.index = i
	if feats.sessionRequired {
		if err := s.writeString("<iq type='set' id='sess'><session xmlns='" + nsSession + "'/></iq>"); err != nil {
			return err
		}
		if _, err := c.awaitIQ(s, "sess"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// loginSteps chooses what login does after binding.
type loginSteps struct {
	roster   bool // get the roster (and wait for it)
	presence bool // send initial presence
	carbons  bool // enable message carbons (XEP-0280)
	sm       bool // enable stream management (XEP-0198) and ack the server's requests
	// caps: the initial presence advertises these capabilities
	// (XEP-0115), and the session answers disco#info with them.
	caps *capsProfile
}

// login connects user i with resource and runs the steps; the returned
// session has no deadline and no read loop yet.
func (c *connector) login(ctx context.Context, i int, resource string, steps loginSteps) (*session, error) {
	s, feats, err := c.secure(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*session, error) {
		s.nc.Close()
		return nil, fmt.Errorf("%s %s: %w", what, c.user(i), err)
	}
	if feats, err = c.authenticate(s, feats, i); err != nil {
		return fail("authenticate", err)
	}
	if err := c.bind(s, feats, i, resource); err != nil {
		return fail("bind", err)
	}
	if steps.sm {
		if err := s.writeString("<enable xmlns='" + nsSM + "' resume='true'/>"); err != nil {
			return fail("enable stream management", err)
		}
		raw, err := c.nextStanza(s)
		if err != nil {
			return fail("enable stream management", err)
		}
		if name := string(elemName(raw)); name != "enabled" {
			return fail("enable stream management", fmt.Errorf("server answered <%s/>: %s", name, clip(raw)))
		}
		s.sm = true
		s.smID = attrString(raw, "id")
	}
	if steps.carbons {
		if err := s.writeString("<iq type='set' id='carbons'><enable xmlns='" + nsCarbons + "'/></iq>"); err != nil {
			return fail("enable carbons", err)
		}
		if _, err := c.awaitIQ(s, "carbons"); err != nil {
			return fail("enable carbons", err)
		}
	}
	if steps.roster {
		if err := s.writeString("<iq type='get' id='roster'><query xmlns='" + nsRoster + "'/></iq>"); err != nil {
			return fail("roster get", err)
		}
		if _, err := c.awaitIQ(s, "roster"); err != nil {
			return fail("roster get", err)
		}
	}
	if steps.presence {
		pres := "<presence/>"
		if steps.caps != nil {
			s.caps, pres = steps.caps, steps.caps.presence
		}
		if err := s.writeString(pres); err != nil {
			return fail("presence", err)
		}
	}
	s.nc.SetDeadline(time.Time{})
	return s, nil
}

// resume opens a new connection for user i and resumes the session old
// left behind (XEP-0198 §5), acknowledging what old received; the new
// session has no read loop yet.
func (c *connector) resume(ctx context.Context, i int, old *session) (*session, error) {
	s, feats, err := c.secure(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*session, error) {
		s.nc.Close()
		return nil, fmt.Errorf("resume %s: %w", c.user(i), err)
	}
	if _, err = c.authenticate(s, feats, i); err != nil {
		return fail(err)
	}
	if err := s.writeString("<resume xmlns='" + nsSM + "' previd='" + escape(old.smID) + "' h='" +
		strconv.FormatUint(uint64(old.handled.Load()), 10) + "'/>"); err != nil {
		return fail(err)
	}
	raw, err := c.nextStanza(s)
	if err != nil {
		return fail(err)
	}
	if name := string(elemName(raw)); name != "resumed" {
		return fail(fmt.Errorf("server answered <%s/>: %s", name, clip(raw)))
	}
	s.sm, s.smID, s.jid, s.bare, s.index = true, old.smID, old.jid, old.bare, old.index
	s.handled.Store(old.handled.Load())
	s.nc.SetDeadline(time.Time{})
	return s, nil
}

// warm fills the SCRAM cache for user i without logging in: it starts
// the exchange, derives the keys from the server's salt and iteration
// count, and aborts (RFC 6120 §6.4.4).
func (c *connector) warm(ctx context.Context, i int) error {
	if !isSCRAM(c.mech) {
		return nil
	}
	s, feats, err := c.secure(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	user := c.user(i)
	if !slices.Contains(feats.mechanisms, c.mech) {
		return fmt.Errorf("server does not offer %s (offers %v)", c.mech, feats.mechanisms)
	}
	sc, err := newSCRAMClient(c.mech, user, c.password, "", c.cache)
	if err != nil {
		return err
	}
	if err := s.writeString("<auth xmlns='" + nsSASL + "' mechanism='" + c.mech + "'>" +
		base64.StdEncoding.EncodeToString(sc.first()) + "</auth>"); err != nil {
		return err
	}
	raw, err := c.nextStanza(s)
	if err != nil {
		return err
	}
	if string(elemName(raw)) != "challenge" {
		return fmt.Errorf("SASL %s for %s: %s", c.mech, user, firstChildName(raw))
	}
	data, _ := childlessText(raw)
	payload, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return fmt.Errorf("SASL: bad base64 in %q", clip(raw))
	}
	if _, err := sc.final(payload); err != nil {
		return fmt.Errorf("SASL: %w", err)
	}
	s.writeString("<abort xmlns='" + nsSASL + "'/>")
	_, err = c.nextStanza(s) // <failure><aborted/></failure>
	return err
}

// register creates account i with in-band registration (XEP-0077); an
// account that already exists counts as success.
func (c *connector) register(ctx context.Context, i int) error {
	s, _, err := c.secure(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	user := c.user(i)
	if err := s.writeString("<iq type='set' id='reg'><query xmlns='" + nsRegister + "'><username>" +
		escape(user) + "</username><password>" + escape(c.password) + "</password></query></iq>"); err != nil {
		return fmt.Errorf("register %s: %w", user, err)
	}
	raw, err := c.awaitIQ(s, "reg")
	if err != nil && errorCondition(raw) != "conflict" {
		return fmt.Errorf("register %s: %w", user, err)
	}
	return nil
}

// childlessText returns the text content of an element with no children
// (SASL challenge, success and similar), or false for a self-closing one.
func childlessText(raw []byte) ([]byte, bool) {
	end, ok := tagEnd(raw)
	if !ok || raw[end-1] == '/' {
		return nil, false
	}
	rest := raw[end+1:]
	i := bytes.IndexByte(rest, '<')
	if i < 0 {
		return nil, false
	}
	return rest[:i], true
}

// firstChildName returns the name of the first child element, e.g. a
// SASL failure's condition.
func firstChildName(raw []byte) string {
	end, ok := tagEnd(raw)
	if !ok {
		return "unknown"
	}
	rest := raw[end+1:]
	i := bytes.IndexByte(rest, '<')
	if i < 0 || i+1 >= len(rest) || rest[i+1] == '/' {
		return "unknown"
	}
	return string(elemName(rest[i:]))
}
