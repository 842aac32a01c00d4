package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley/stanza"
	"parley/xmlstream"
)

// Namespaces of BOSH (XEP-0124) and of its XMPP binding (XEP-0206).
const (
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	NSXBOSH    = "urn:xmpp:xbosh"
)

// boshVersion is the version of XEP-0124 spoken here.
const boshVersion = "1.11"

// BOSHOptions configure the BOSH endpoint.
type BOSHOptions struct {
	// AllowOrigin reports whether a browser page from the request's
	// Origin may use the endpoint (CORS); nil allows only requests
	// without an Origin.
	AllowOrigin func(r *http.Request) bool
	// Secure reports whether a request arrived encrypted (see
	// WebSocketOptions.Secure).
	Secure func(r *http.Request) bool
	// MaxWait is the longest a request is held waiting for data, whatever
	// longer wait the client asks for. Default 60s.
	MaxWait time.Duration
	// Inactivity is how long a session lives with no request held before
	// it is ended (its stream management session, if any, then waits to
	// be resumed). Default 60s.
	Inactivity time.Duration
	// MaxPause is the longest inactivity a client may ask for with
	// pause. Default 5m.
	MaxPause time.Duration
	// NewSessionsPerMinute bounds the sessions one address may create,
	// with a burst of as many; more are refused with policy-violation.
	// Default 60.
	NewSessionsPerMinute int
}

// boshHandler serves BOSH requests: it creates sessions and hands each
// request to its session.
type boshHandler struct {
	srv *Server
	ctx context.Context
	o   BOSHOptions

	mu       sync.Mutex
	sessions map[string]*boshSession // by sid
	creators map[string]*tokenBucket // by remote address
}

// BOSH returns the handler of BOSH (XEP-0124) carrying client streams
// (XEP-0206): each session is a client stream like one over TCP, its
// elements carried in the <body/> of HTTP requests and of the responses
// held for the client until there is something to send. Streams live
// until ctx ends or Shutdown.
func (s *Server) BOSH(ctx context.Context, o BOSHOptions) http.Handler {
	if o.MaxWait <= 0 {
		o.MaxWait = time.Minute
	}
	if o.Inactivity <= 0 {
		o.Inactivity = time.Minute
	}
	if o.MaxPause <= 0 {
		o.MaxPause = 5 * time.Minute
	}
	if o.NewSessionsPerMinute <= 0 {
		o.NewSessionsPerMinute = 60
	}
	if o.AllowOrigin == nil {
		o.AllowOrigin = func(r *http.Request) bool { return r.Header.Get("Origin") == "" }
	}
	return &boshHandler{srv: s, ctx: ctx, o: o, sessions: make(map[string]*boshSession), creators: make(map[string]*tokenBucket)}
}

func (h *boshHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		if !h.o.AllowOrigin(r) {
			http.Error(w, "pages from origin "+origin+" may not connect here", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "this endpoint speaks BOSH (XEP-0124, XEP-0206): POST a <body/> element", http.StatusMethodNotAllowed)
		return
	}
	limit := int64(h.srv.opts.MaxStanzaSize) + 4096
	// A request's body comes at once; a client that trickles it is cut.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(30 * time.Second))
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeBody(w, http.StatusRequestEntityTooLarge, terminateBody("policy-violation", "the request is larger than the largest stanza"))
			return
		}
		return
	}
	body, err := parseBody(data, int(limit))
	if err != nil {
		writeBody(w, http.StatusBadRequest, terminateBody("bad-request", err.Error()))
		return
	}
	rid, err := strconv.ParseUint(body.Attr("rid"), 10, 53)
	if err != nil || rid == 0 {
		writeBody(w, http.StatusBadRequest, terminateBody("bad-request", "the rid attribute must be a positive integer"))
		return
	}
	sid := body.Attr("sid")
	if sid == "" {
		h.create(w, r, body, rid)
		return
	}
	h.mu.Lock()
	sess := h.sessions[sid]
	h.mu.Unlock()
	if sess == nil {
		writeBody(w, http.StatusNotFound, terminateBody("item-not-found", "no session with that sid"))
		return
	}
	resp := sess.handle(r.Context(), body, rid)
	if resp == nil {
		return // the client went away
	}
	writeBody(w, http.StatusOK, resp)
}

// create starts a session for a session creation request (XEP-0124 §7).
func (h *boshHandler) create(w http.ResponseWriter, r *http.Request, body *stanza.Element, rid uint64) {
	if body.Attr("to") == "" {
		writeBody(w, http.StatusBadRequest, terminateBody("improper-addressing", "the session creation request has no 'to' attribute"))
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if !h.allowCreate(host) {
		h.srv.opts.Log.Info().Str("remote", r.RemoteAddr).Msg("BOSH session refused: too many new sessions from this address")
		writeBody(w, http.StatusTooManyRequests, terminateBody("policy-violation", "too many new sessions from this address; try again later"))
		return
	}
	wait := h.o.MaxWait
	if v, err := strconv.Atoi(body.Attr("wait")); err == nil && v >= 0 && time.Duration(v)*time.Second < wait {
		wait = time.Duration(v) * time.Second
	}
	hold := 1
	if v, err := strconv.Atoi(body.Attr("hold")); err == nil && v == 0 {
		hold = 0
	}
	sess := &boshSession{
		h:          h,
		sid:        newSID(),
		remote:     r.RemoteAddr,
		secure:     h.o.Secure != nil && h.o.Secure(r),
		wait:       wait,
		hold:       hold,
		requests:   hold + 1,
		inactivity: h.o.Inactivity,
		firstRID:   rid,
		lastRID:    rid - 1,
		responses:  make(map[uint64][]byte),
		changed:    make(chan struct{}),
		input:      make(chan struct{}, 1),
		closed:     make(chan struct{}),
	}
	sess.w = xmlstream.NewWriter(nil, xmlstream.WriterOptions{
		Message: sess.output,
		OnError: func(err error) {
			h.srv.opts.Log.Debug().Str("remote", r.RemoteAddr).Err(err).Msg("BOSH write failed")
			sess.Close(false)
		},
	})
	c := &conn{srv: h.srv}
	c.t = sess
	c.init()
	if !h.srv.conns.Add(c) {
		writeBody(w, http.StatusServiceUnavailable, terminateBody("system-shutdown", "the server is shutting down"))
		return
	}
	h.mu.Lock()
	h.sessions[sess.sid] = sess
	h.mu.Unlock()
	go c.serve(h.ctx)
	resp := sess.handle(r.Context(), body, rid)
	if resp == nil {
		return
	}
	writeBody(w, http.StatusOK, resp)
}

// allowCreate takes a token from the session creation bucket of host.
func (h *boshHandler) allowCreate(host string) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.creators) > 10000 {
		// Forget full buckets, which are as good as new.
		for k, b := range h.creators {
			if b.full(now) {
				delete(h.creators, k)
			}
		}
	}
	b := h.creators[host]
	if b == nil {
		b = newTokenBucket(h.o.NewSessionsPerMinute, time.Minute, now)
		h.creators[host] = b
	}
	return b.take(now)
}

func (h *boshHandler) forget(sess *boshSession) {
	h.mu.Lock()
	if h.sessions[sess.sid] == sess {
		delete(h.sessions, sess.sid)
	}
	h.mu.Unlock()
}

// tokenBucket allows n events per period, in bursts of up to n.
type tokenBucket struct {
	tokens float64
	max    float64
	rate   float64 // tokens per second
	last   time.Time
}

func newTokenBucket(n int, period time.Duration, now time.Time) *tokenBucket {
	return &tokenBucket{tokens: float64(n), max: float64(n), rate: float64(n) / period.Seconds(), last: now}
}

func (b *tokenBucket) refill(now time.Time) {
	b.tokens = min(b.max, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
}

func (b *tokenBucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *tokenBucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.max
}

func newSID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// parseBody parses a request's <body/> wrapper and its children. Stanzas
// that inherit the wrapper's namespace are taken as jabber:client.
func parseBody(data []byte, limit int) (*stanza.Element, error) {
	data = bytes.TrimSpace(data)
	if bytes.HasPrefix(data, []byte("<?xml")) {
		end := bytes.Index(data, []byte("?>"))
		if end < 0 {
			return nil, errors.New("unterminated XML declaration")
		}
		data = data[end+2:]
	}
	src := messageSource{}
	src.reset(data)
	rd := xmlstream.NewFragmentReader(&src, limit)
	body, err := rd.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, xmlstream.ErrStreamClosed) {
			return nil, errors.New("the request holds no <body/> element")
		}
		return nil, err
	}
	if !src.blank() {
		return nil, errors.New("content after the <body/> element")
	}
	if body.Space != NSHTTPBind || body.Local != "body" {
		return nil, errors.New("a BOSH request is one <body xmlns='" + NSHTTPBind + "'/> element")
	}
	for _, el := range body.Elements() {
		toClient(el)
	}
	return body, nil
}

// toClient moves el and its descendants out of the BOSH namespace, which
// unqualified stanzas in a <body/> inherit, into jabber:client.
func toClient(el *stanza.Element) {
	if el.Space == NSHTTPBind {
		el.Space = ""
	}
	for _, c := range el.Elements() {
		toClient(c)
	}
}

// attrNS returns the value of the attribute local in namespace space.
func attrNS(el *stanza.Element, space, local string) string {
	for _, a := range el.Attrs {
		if a.Space == space && a.Local == local {
			return a.Value
		}
	}
	return ""
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// bodyOpen is the start of every response's <body/>: the stream prefix
// is declared for stream features and errors.
const bodyOpen = "<body xmlns='" + NSHTTPBind + "' xmlns:xmpp='" + NSXBOSH + "' xmlns:stream='" + stanza.NSStream + "'"

// terminateBody is a response that ends a session, or refuses a request,
// with a XEP-0124 condition; text explains it to people reading logs.
func terminateBody(condition, text string) []byte {
	var b strings.Builder
	b.WriteString(bodyOpen + " type='terminate' condition='" + condition + "'>")
	if text != "" {
		b.WriteString("<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" + xmlstream.Escape(text) + "</text>")
	}
	b.WriteString("</body>")
	return []byte(b.String())
}
