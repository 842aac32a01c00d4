package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"time"

	"parley/router"
	"parley/stanza"
	"parley/xmlstream"
)

// NSSM is the namespace of Stream Management (XEP-0198).
const NSSM = "urn:xmpp:sm:3"

// ackRequestAfter is how many unacknowledged stanzas make the server
// ask the client for an ack (XEP-0198 §4); ackRequestDelay is how long
// fewer may wait before it asks anyway.
const (
	ackRequestAfter = 5
	ackRequestDelay = 2 * time.Second
)

// session is a bound client session: what the router delivers to, and
// what outlives its transport while stream management allows the client
// to resume (XEP-0198). Its outbound chain is the client-state buffer,
// then the stream-management counter and queue, then the current
// stream's writer.
type session struct {
	srv  *Server
	res  *router.Resource
	full string
	user string // bare JID, for checking resumption
	// clientID is the SASL2 user-agent id of the client that bound the
	// session, if it said; see replaceEarlierSessions.
	clientID string

	csi csiBuffer
	// next is send as a function value, made once: the client-state
	// buffer hands stanzas on through it.
	next func(*stanza.Element) bool

	mu       sync.Mutex
	conn     *conn        // current stream; nil while detached
	w        streamWriter // its writer; nil while detached
	sm       *smState     // nil until stream management is enabled
	ended    bool
	expiry   *time.Timer // while detached, ends the session when it fires
	reqTimer *time.Timer // asks for an ack when few stanzas wait
}

// smState is the stream-management state of a session.
type smState struct {
	id         string // resumption id; "" when resumption was not asked for
	in         uint32 // stanzas received from the client (h)
	sent       uint32 // stanzas sent to the client
	unacked    []queued
	requesting bool // an <r/> is out and not answered
}

// queued is a stanza sent but not acknowledged, with when it was first
// sent, for the delay stamp it gets if it ends up in offline storage.
type queued struct {
	el *stanza.Element
	at time.Time
}

// Send implements router.Session.
func (s *session) Send(el *stanza.Element) bool { return s.csi.pass(el, s.next) }

// send is the chain's second link: it counts and keeps the stanza for
// stream management, then hands it to the writer.
func (s *session) send(el *stanza.Element) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	if s.sm == nil {
		return s.w != nil && s.w.Send(el)
	}
	if len(s.sm.unacked) >= s.srv.opts.MaxUnacked {
		// A client that never acknowledges must not make the server
		// hold its stanzas without end.
		if c := s.conn; c != nil {
			go c.Close("policy-violation", "too many unacknowledged stanzas")
		}
		return false
	}
	s.sm.sent++
	s.sm.unacked = append(s.sm.unacked, queued{el: el, at: time.Now()})
	if s.w == nil {
		return true // kept for the client's resumption
	}
	s.w.Send(el)
	s.requestAckLocked(false)
	return true
}

// requestAckLocked sends <r/> when enough stanzas wait, or when the
// delay timer fired (now); otherwise it arms the timer.
func (s *session) requestAckLocked(now bool) {
	if s.sm == nil || s.w == nil || s.sm.requesting || len(s.sm.unacked) == 0 {
		return
	}
	if now || len(s.sm.unacked) >= ackRequestAfter {
		s.sm.requesting = true
		s.w.SendRaw("<r xmlns='" + NSSM + "'/>")
		return
	}
	if s.reqTimer == nil {
		s.reqTimer = time.AfterFunc(ackRequestDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.reqTimer = nil
			s.requestAckLocked(true)
		})
	}
}

// Close implements router.Session: it ends the session's stream, or the
// session itself when it has none.
func (s *session) Close(condition, text string) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.Close(condition, text)
		return
	}
	s.end(context.Background())
}

// enable turns stream management on (XEP-0198 §3); it returns the
// <enabled/> or <failed/> answer.
func (s *session) enable(el *stanza.Element) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sm != nil {
		return smFailed("unexpected-request", "stream management is already enabled")
	}
	s.sm = &smState{}
	resume := el.Attr("resume") == "true" || el.Attr("resume") == "1"
	out := "<enabled xmlns='" + NSSM + "'"
	if resume && s.srv.opts.ResumeTimeout > 0 {
		s.sm.id = newResumeID()
		s.srv.registerResumable(s.sm.id, s)
		out += " id='" + s.sm.id + "' resume='true' max='" + strconv.Itoa(int(s.srv.opts.ResumeTimeout/time.Second)) + "'"
	}
	return out + "/>"
}

// received counts a stanza from the client.
func (s *session) received() {
	s.mu.Lock()
	if s.sm != nil {
		s.sm.in++
	}
	s.mu.Unlock()
}

// ackRequested answers the client's <r/>.
func (s *session) ackRequested() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sm != nil && s.w != nil {
		s.w.SendRaw("<a xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(s.sm.in), 10) + "'/>")
	}
}

// acked handles the client's count h: the stanzas it acknowledges leave
// the queue. It fails when h acknowledges more than was sent.
func (s *session) acked(h uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sm == nil {
		return nil
	}
	s.sm.requesting = false
	if err := s.sm.ack(h); err != nil {
		return err
	}
	s.requestAckLocked(false)
	return nil
}

// ack drops the stanzas h acknowledges, counting modulo 2^32.
func (st *smState) ack(h uint32) error {
	acked := st.sent - uint32(len(st.unacked)) // acknowledged so far
	n := h - acked                             // newly acknowledged
	if n > uint32(len(st.unacked)) {
		// XEP-0198 §4: an ack of more than was sent.
		sent := strconv.FormatUint(uint64(st.sent), 10)
		return &xmlstream.Error{Condition: "undefined-condition",
			Text:  "acknowledged " + strconv.FormatUint(uint64(h), 10) + " stanzas of " + sent + " sent",
			Extra: "<handled-count-too-high xmlns='" + NSSM + "' h='" + strconv.FormatUint(uint64(h), 10) + "' send-count='" + sent + "'/>"}
	}
	clear(st.unacked[:n])
	st.unacked = st.unacked[n:]
	return nil
}

// attach makes c the session's stream.
func (s *session) attach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.w = c, c.t
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
}

// attachWith makes c the stream of a session bound inline (XEP-0386):
// first goes first, and then what was routed to the session while it
// had no stream and that stream management kept.
func (s *session) attachWith(c *conn, first string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.w = c, c.t
	s.w.SendRaw(first)
	if s.sm != nil {
		for _, q := range s.sm.unacked {
			s.w.Send(q.el)
		}
		s.requestAckLocked(false)
	}
}

// end ends the session for good: it leaves the router, and what the
// client never acknowledged goes where a message to an absent resource
// goes (another resource, or offline storage), with the time it came.
func (s *session) end(ctx context.Context) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	var pending []queued
	if s.sm != nil {
		pending = s.sm.unacked
		s.sm.unacked = nil
		if s.sm.id != "" {
			s.srv.forgetResumable(s.sm.id, s)
		}
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.reqTimer != nil {
		s.reqTimer.Stop()
	}
	s.mu.Unlock()
	r := s.srv.opts.Router
	r.Unbind(ctx, s.res)
	for _, q := range pending {
		s.reroute(ctx, q)
	}
}

// reroute sends an unacknowledged stanza on (XEP-0198 §4.3 and the
// advice of §4.4 on what a server does with them): messages to the
// account again, stamped with when they first came (XEP-0203), iq
// requests answered with service-unavailable; the rest is dropped.
func (s *session) reroute(ctx context.Context, q queued) {
	r := s.srv.opts.Router
	el := q.el
	switch el.Kind() {
	case "message":
		switch el.Type() {
		case "error", "groupchat", "headline":
			return
		}
		if el.Child(nsCarbons, "sent") != nil || el.Child(nsCarbons, "received") != nil {
			return // copies: the other resources have the originals
		}
		if el.Child(stanza.NSDelay, "delay") == nil {
			el = el.Copy()
			el.Append(stanza.New(stanza.NSDelay, "delay", "from", s.res.JID.Domainpart(),
				"stamp", q.at.UTC().Format(stanza.StampLayout)))
		}
		r.Deliver(router.Rerouting(ctx), el)
	case "iq":
		if t := el.Type(); t == "get" || t == "set" {
			r.Bounce(ctx, el, stanza.Err("service-unavailable"))
		}
	}
}

// nsCarbons is the carbons namespace, whose copies are not rerouted.
const nsCarbons = "urn:xmpp:carbons:2"

// smFailed renders a <failed/> answer with a stanza error condition.
func smFailed(condition, text string) string {
	out := "<failed xmlns='" + NSSM + "'><" + condition + " xmlns='" + stanza.NSStanzas + "'/>"
	if text != "" {
		out += "<text xmlns='" + stanza.NSStanzas + "'>" + xmlstream.Escape(text) + "</text>"
	}
	return out + "</failed>"
}

// newResumeID returns an unguessable resumption id.
func newResumeID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseH reads an h attribute.
func parseH(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// What becomes of a session when its stream leaves it.
const (
	sessionGone  = iota // the stream was no longer the session's
	sessionEnds         // the session ends
	sessionWaits        // the session waits for the client to resume it
)

// Waiting reports whether the session has no stream and waits to be
// resumed (see router.Waiter).
func (s *session) Waiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn == nil && !s.ended
}

// leave takes stream c off the session. The session waits for the client
// when mayResume, resumption was enabled and the server is not shutting
// down; otherwise the caller ends it.
func (s *session) leave(c *conn, mayResume bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c || s.ended {
		return sessionGone
	}
	if mayResume && s.sm != nil && s.sm.id != "" && !s.srv.shuttingDown() {
		s.conn, s.w = nil, nil
		s.sm.requesting = false
		if s.reqTimer != nil {
			s.reqTimer.Stop()
			s.reqTimer = nil
		}
		s.expiry = time.AfterFunc(s.srv.opts.ResumeTimeout, func() {
			s.end(context.Background())
			s.srv.opts.Log.Info().Str("jid", s.full).Msg("client session ended: not resumed in time")
		})
		return sessionWaits
	}
	s.conn, s.w = nil, nil
	return sessionEnds
}

// resume makes c the stream of the session, which the client resumes
// having received h of its stanzas (XEP-0198 §5): it answers <resumed/>,
// wrapped by wrap (with the session's full JID) when that is not nil,
// and sends again what the client has not acknowledged, before anything
// new. It returns the stream the session had, if any, for the caller to
// close.
func (s *session) resume(c *conn, h uint32, wrap func(full, resumed string) string) (old *conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, errSessionGone
	}
	if err := s.sm.ack(h); err != nil {
		return nil, err
	}
	old = s.conn
	s.conn, s.w = c, c.t
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.sm.requesting = false
	resumed := "<resumed xmlns='" + NSSM + "' previd='" + s.sm.id + "' h='" + strconv.FormatUint(uint64(s.sm.in), 10) + "'/>"
	if wrap != nil {
		resumed = wrap(s.full, resumed)
	}
	s.w.SendRaw(resumed)
	for _, q := range s.sm.unacked {
		s.w.Send(q.el)
	}
	s.requestAckLocked(true)
	return old, nil
}

// errSessionGone is a resumption of a session that has ended meanwhile.
var errSessionGone = errors.New("the session has ended")
