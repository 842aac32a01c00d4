package c2s

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley/stanza"
	"parley/xmlstream"
)

// boshPolling is the shortest interval between two empty requests of a
// polling session (hold 0), the polling attribute of XEP-0124.
const boshPolling = 2 * time.Second

// boshSession is one BOSH session (XEP-0124) and the transport of the
// client stream it carries (XEP-0206). Requests bring elements in and are
// held until there is something to send back or the wait passes; the
// stream's goroutine reads the elements in request order (rid) and its
// writer appends to the output that the next response takes.
type boshSession struct {
	h      *boshHandler
	sid    string
	remote string
	secure bool
	w      *xmlstream.Writer

	// Negotiated at creation (XEP-0124 §7.1).
	wait       time.Duration
	hold       int
	requests   int
	inactivity time.Duration
	firstRID   uint64

	mu        sync.Mutex
	lastRID   uint64            // the highest rid whose payload was taken, in order
	responses map[uint64][]byte // recent responses, for requests the client repeats
	held      []*boshRequest    // requests waiting for output, oldest first
	out       []byte            // output no response took yet
	in        []boshInput       // what the stream has not read yet
	changed   chan struct{}     // closed and replaced when lastRID moves or the session ends
	from, id  string            // the stream's domain and id, for the creation response
	quiet     *time.Timer       // ends the session when no request comes
	quietFor  time.Duration     // the current inactivity allowance (longer while paused)
	final     []byte            // the terminating response, once the stream ended
	ended     bool              // no more requests are served
	deadline  time.Time         // reads fail after it; zero for none
	lastEmpty time.Time         // when the last empty request came

	input     chan struct{} // signalled when in grows
	closeOnce sync.Once
	closed    chan struct{}
}

// boshRequest is a request held for output.
type boshRequest struct {
	rid  uint64
	resp chan []byte // receives the response, once
}

// boshInput is one thing the stream reads: a stanza or nonza, a stream
// (re)start, or the client's end of the stream.
type boshInput struct {
	el      *stanza.Element
	restart *xmlstream.Header
	end     bool
}

// handle serves one request of the session and returns the response, or
// nil when the client went away first.
func (s *boshSession) handle(ctx context.Context, body *stanza.Element, rid uint64) []byte {
	s.mu.Lock()
	// Requests are processed in rid order: one that overtook another
	// waits for it, within the window of concurrent requests.
	for rid > s.lastRID+1 && !s.ended {
		if rid > s.lastRID+uint64(s.requests) {
			s.mu.Unlock()
			return s.fail("item-not-found", "the rid is beyond the window of concurrent requests")
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil
		case <-time.After(s.wait):
			return s.fail("item-not-found", "an earlier request never arrived")
		}
		s.mu.Lock()
	}
	if s.ended {
		final := s.final
		s.mu.Unlock()
		if final != nil {
			return final
		}
		return terminateBody("item-not-found", "the session has ended")
	}
	if rid <= s.lastRID {
		return s.repeated(ctx, rid)
	}
	s.lastRID = rid
	close(s.changed)
	s.changed = make(chan struct{})
	if s.quiet != nil {
		s.quiet.Stop()
	}
	// Take the payload.
	switch {
	case rid == s.firstRID:
		s.in = append(s.in, boshInput{restart: &xmlstream.Header{
			To: body.Attr("to"), Version: attrNS(body, NSXBOSH, "version"), Lang: body.Lang(), Namespace: stanza.NSClient,
		}})
	case attrNS(body, NSXBOSH, "restart") == "true":
		s.in = append(s.in, boshInput{restart: &xmlstream.Header{
			To: body.Attr("to"), Version: "1.0", Lang: body.Lang(), Namespace: stanza.NSClient,
		}})
	}
	for _, el := range body.Elements() {
		s.in = append(s.in, boshInput{el: el})
	}
	terminate := body.Attr("type") == "terminate"
	if s.hold == 0 && len(body.Elements()) == 0 && !terminate && body.Attr("pause") == "" && attrNS(body, NSXBOSH, "restart") == "" && rid != s.firstRID {
		// A polling session (§12) polls no more often than it was told.
		now := time.Now()
		if !s.lastEmpty.IsZero() && now.Sub(s.lastEmpty) < boshPolling {
			s.mu.Unlock()
			return s.fail("policy-violation", fmt.Sprintf("empty requests must be at least %s apart", boshPolling))
		}
		s.lastEmpty = now
	}
	if terminate {
		s.in = append(s.in, boshInput{end: true})
	}
	select {
	case s.input <- struct{}{}:
	default:
	}

	if terminate {
		// Answer everything now; the stream reads the end and closes.
		s.ended = true
		s.respondHeld(nil)
		resp := s.response(rid, "terminate")
		s.mu.Unlock()
		s.h.forget(s)
		return resp
	}
	if p := body.Attr("pause"); p != "" {
		d, err := strconv.Atoi(p)
		if err != nil || d <= 0 || time.Duration(d)*time.Second > s.h.o.MaxPause {
			s.mu.Unlock()
			return s.fail("policy-violation", fmt.Sprintf("pause must be between 1 and %d seconds", int(s.h.o.MaxPause/time.Second)))
		}
		// Pause (§10): every held request is answered, and the session
		// waits for the client up to the pause.
		s.quietFor = time.Duration(d) * time.Second
		s.respondHeld(nil)
		resp := s.response(rid, "")
		s.idle()
		s.mu.Unlock()
		return resp
	}
	s.quietFor = s.inactivity
	req := &boshRequest{rid: rid, resp: make(chan []byte, 1)}
	s.held = append(s.held, req)
	// With output waiting, or more requests held than the client asked
	// for, the oldest held request is answered now.
	if len(s.out) > 0 || len(s.held) > s.hold {
		s.respondOldest()
	}
	s.mu.Unlock()
	return s.await(ctx, req)
}

// await waits for req's response, or answers it empty after the wait.
func (s *boshSession) await(ctx context.Context, req *boshRequest) []byte {
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case resp := <-req.resp:
		return resp
	case <-timer.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case resp := <-req.resp:
		// Answered meanwhile.
		return resp
	default:
	}
	for i, r := range s.held {
		if r == req {
			s.held = append(s.held[:i], s.held[i+1:]...)
			break
		}
	}
	if ctx.Err() != nil {
		// The client went away; what the response would have carried
		// stays for the next request.
		s.idle()
		return nil
	}
	resp := s.response(req.rid, "")
	s.idle()
	return resp
}

// repeated answers a request whose rid was seen before (§14.3): the
// response is sent again when it is still known; a request still held
// is taken over by the repetition, the first copy's connection being
// presumably broken. Called with s.mu held; it unlocks it.
func (s *boshSession) repeated(ctx context.Context, rid uint64) []byte {
	if resp, ok := s.responses[rid]; ok {
		s.mu.Unlock()
		return resp
	}
	for i, r := range s.held {
		if r.rid == rid {
			req := &boshRequest{rid: rid, resp: make(chan []byte, 1)}
			s.held[i] = req
			r.resp <- nil
			s.mu.Unlock()
			return s.await(ctx, req)
		}
	}
	s.mu.Unlock()
	return s.fail("item-not-found", "the rid was used before")
}

// respondOldest answers the oldest held request with the output so far.
// Called with s.mu held.
func (s *boshSession) respondOldest() {
	req := s.held[0]
	s.held = s.held[1:]
	req.resp <- s.response(req.rid, "")
	s.idle()
}

// respondHeld answers every held request, the oldest with the output so
// far, or with final when the session ends. Called with s.mu held.
func (s *boshSession) respondHeld(final []byte) {
	for len(s.held) > 0 {
		req := s.held[0]
		s.held = s.held[1:]
		if final != nil && len(s.held) == 0 {
			req.resp <- final
			continue
		}
		req.resp <- s.response(req.rid, "")
	}
}

// response builds the response to rid with the pending output, records
// it for repetitions and forgets responses out of the window. Called
// with s.mu held.
func (s *boshSession) response(rid uint64, typ string) []byte {
	var b strings.Builder
	b.WriteString(bodyOpen)
	if rid == s.firstRID {
		// The session creation response (§7.1, XEP-0206 §4).
		fmt.Fprintf(&b, " sid='%s' wait='%d' hold='%d' requests='%d' inactivity='%d' maxpause='%d' polling='%d' ver='%s' from='%s' authid='%s' secure='%t' xmpp:version='1.0' xmpp:restartlogic='true'",
			s.sid, int(s.wait/time.Second), s.hold, s.requests, int(s.inactivity/time.Second), int(s.h.o.MaxPause/time.Second), 2,
			boshVersion, xmlstream.Escape(s.from), s.id, s.secure)
	}
	if typ != "" {
		b.WriteString(" type='" + typ + "'")
	}
	if len(s.out) == 0 {
		b.WriteString("/>")
	} else {
		b.WriteString(">")
		b.Write(s.out)
		b.WriteString("</body>")
		s.out = s.out[:0]
	}
	resp := []byte(b.String())
	s.responses[rid] = resp
	for r := range s.responses {
		if r+uint64(s.requests) < rid {
			delete(s.responses, r)
		}
	}
	return resp
}

// idle starts the inactivity timer once no request is held. Called with
// s.mu held.
func (s *boshSession) idle() {
	if len(s.held) > 0 || s.ended {
		return
	}
	d := s.quietFor
	if d == 0 {
		d = s.inactivity
	}
	if s.quiet == nil {
		s.quiet = time.AfterFunc(d, s.inactive)
		return
	}
	s.quiet.Reset(d)
}

// inactive ends a session whose client stopped sending requests.
func (s *boshSession) inactive() {
	s.mu.Lock()
	gone := len(s.held) == 0 && !s.ended
	s.mu.Unlock()
	if gone {
		s.h.srv.opts.Log.Debug().Str("remote", s.remote).Msg("BOSH session inactive")
		s.Close(false)
	}
}

// fail ends the session with condition, answering held requests, and
// returns the terminating response.
func (s *boshSession) fail(condition, text string) []byte {
	resp := terminateBody(condition, text)
	s.mu.Lock()
	if !s.ended {
		s.ended = true
		s.final = resp
		s.respondHeld(resp)
	}
	s.mu.Unlock()
	s.Close(false)
	return resp
}

// output takes one serialized element from the stream's writer.
func (s *boshSession) output(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return net.ErrClosed
	}
	if len(s.out)+len(b) > 4*s.h.srv.opts.MaxStanzaSize+(1<<20) {
		return fmt.Errorf("BOSH output of %d bytes not collected: the client is not polling", len(s.out))
	}
	s.out = append(s.out, b...)
	if len(s.held) > 0 {
		s.respondOldest()
	}
	return nil
}

// next returns what the stream reads next, waiting for it.
func (s *boshSession) next() (boshInput, error) {
	for {
		s.mu.Lock()
		if len(s.in) > 0 {
			in := s.in[0]
			s.in[0] = boshInput{}
			s.in = s.in[1:]
			s.mu.Unlock()
			return in, nil
		}
		deadline := s.deadline
		s.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !deadline.IsZero() {
			t = time.NewTimer(time.Until(deadline))
			timeout = t.C
		}
		select {
		case <-s.input:
		case <-s.closed:
			if t != nil {
				t.Stop()
			}
			return boshInput{}, io.EOF
		case <-timeout:
			return boshInput{}, timeoutError{}
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (s *boshSession) ReadHeader(int) (xmlstream.Header, error) {
	in, err := s.next()
	switch {
	case err != nil:
		return xmlstream.Header{}, err
	case in.restart != nil:
		return *in.restart, nil
	case in.end:
		return xmlstream.Header{}, xmlstream.ErrStreamClosed
	}
	return xmlstream.Header{}, xmlstream.Errorf("bad-format", "a stream restart (xmpp:restart='true') was expected before <%s/>", in.el.Local)
}

func (s *boshSession) Next() (*stanza.Element, error) {
	in, err := s.next()
	switch {
	case err != nil:
		return nil, err
	case in.end:
		return nil, xmlstream.ErrStreamClosed
	case in.restart != nil:
		return nil, xmlstream.Errorf("bad-format", "the stream cannot restart here")
	}
	return in.el, nil
}

func (s *boshSession) Send(el *stanza.Element) bool { return s.w.Send(el) }

func (s *boshSession) SendRaw(x string) bool { return s.w.SendRaw(x) }

func (s *boshSession) Drain(timeout time.Duration) { s.w.Drain(timeout) }

// Finish ends the stream: what is queued is written, and the next
// response (a held one, or the client's next request) is the terminating
// one, carrying a stream error if there is one (XEP-0206 §6).
func (s *boshSession) Finish(timeout time.Duration, final ...string) {
	var streamError string
	for _, f := range final {
		if strings.HasPrefix(f, "<stream:error") {
			streamError = f
		}
	}
	s.w.Close("", timeout)
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	var b strings.Builder
	b.WriteString(bodyOpen + " type='terminate'")
	if streamError != "" {
		b.WriteString(" condition='remote-stream-error'")
	}
	b.WriteString(">")
	b.Write(s.out)
	b.WriteString(streamError + "</body>")
	s.out = nil
	s.final = []byte(b.String())
	s.respondHeld(s.final)
	s.mu.Unlock()
}

// Opening records the stream's domain and id for the session creation
// response; BOSH has no stream header of its own to send.
func (s *boshSession) Opening(from, id string) string {
	s.mu.Lock()
	s.from, s.id = from, id
	s.mu.Unlock()
	return ""
}

// Closing is empty: Finish ends the session.
func (s *boshSession) Closing() string { return "" }

func (s *boshSession) StartTLS(*tls.Config, time.Time) error {
	return fmt.Errorf("STARTTLS is not available over BOSH")
}

func (s *boshSession) Secure() bool { return s.secure }

// TLSState is nil: the requests of one session may come over different
// connections, so none of them can bind the session's authentication.
func (s *boshSession) TLSState() *tls.ConnectionState { return nil }

func (s *boshSession) RemoteAddr() string { return s.remote }

func (s *boshSession) SetReadDeadline(d time.Time) {
	s.mu.Lock()
	s.deadline = d
	s.mu.Unlock()
	select {
	case s.input <- struct{}{}:
	default:
	}
}

// WaitInput returns at once: the stream's goroutine waits in Next.
func (s *boshSession) WaitInput(time.Duration) (bool, error) { return false, nil }

// Close ends the session: held requests are answered with the end of the
// session and later ones refused.
func (s *boshSession) Close(bool) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if !s.ended {
			s.ended = true
			s.final = terminateBody("remote-connection-failed", "")
			s.respondHeld(s.final)
		}
		if s.quiet != nil {
			s.quiet.Stop()
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		close(s.closed)
		s.w.Close("", 0)
		// The client may still come for the end of the session.
		time.AfterFunc(s.wait+5*time.Second, func() { s.h.forget(s) })
	})
}
