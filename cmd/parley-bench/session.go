package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// errStreamEnded is returned when the server closes the stream.
var errStreamEnded = errors.New("server closed the stream")

// handler receives the stanzas of a session's read loop other than iq
// replies claimed by an iq call; server requests (iq get and set) reach
// it after the session answered them. raw is only valid during the call.
type handler func(s *session, name, raw []byte)

// session is one client connection to the server under test: raw XML
// over TLS, or over WebSocket (RFC 7395), written from pre-built bytes
// and read with a scanner.
type session struct {
	nc     net.Conn // over WebSocket, the connection under it
	sc     *scanner
	ws     *websocket.Conn // nil over TCP
	cork   *corkConn       // nc over WebSocket
	wmu    sync.Mutex
	jid    string // full JID after bind
	bare   string
	index  int          // user number, from 1
	kind   string       // what the scenario uses the session for (loginAll's kind)
	caps   *capsProfile // answers disco#info with it, when set
	closed atomic.Bool

	mu    sync.Mutex
	waits map[string]chan []byte // iq id -> reply, for setup requests
	ids   atomic.Uint64

	// sm: stream management is on; handled counts the stanzas received
	// since, for the acks the server asks for (XEP-0198).
	sm      bool
	smID    string // resumption id, when the server offered resumption
	handled atomic.Uint32
}

// ackRequest is what a sender with stream management appends to each
// write: a request for the server's count (XEP-0198 §4).
var ackRequest = []byte("<r xmlns='urn:xmpp:sm:3'/>")

// smCount keeps the stream-management count for a received element: a
// stanza counts; the server's ack request is answered, and it and the
// server's acks are consumed (true). It does nothing without stream
// management.
func (s *session) smCount(name []byte) bool {
	if !s.sm {
		return false
	}
	switch string(name) {
	case "message", "presence", "iq":
		s.handled.Add(1)
	case "r":
		s.writeString("<a xmlns='urn:xmpp:sm:3' h='" + strconv.FormatUint(uint64(s.handled.Load()), 10) + "'/>")
		return true
	case "a":
		return true
	}
	return false
}

// write sends b, which is one element (or the stream header), as one
// write; over WebSocket as one message, a stanza qualified with its
// namespace.
func (s *session) write(b []byte) error {
	if s.ws != nil {
		return s.ws.Write(context.Background(), websocket.MessageText, qualify(b))
	}
	s.wmu.Lock()
	_, err := s.nc.Write(b)
	s.wmu.Unlock()
	return err
}

// writeElems sends the elements of b, which end at the offsets ends, in
// one write: as they are over TCP, one message each over WebSocket.
func (s *session) writeElems(b []byte, ends []int) error {
	if s.ws != nil {
		return s.writeMessages(b, ends)
	}
	return s.write(b)
}

func (s *session) writeString(str string) error { return s.write([]byte(str)) }

// cut closes the connection without ending the stream, as a phone
// losing its network does.
func (s *session) cut() {
	if s.closed.Swap(true) {
		return
	}
	if s.ws != nil {
		s.ws.CloseNow() // no close frame either
		return
	}
	s.nc.Close()
}

// close ends the stream and the connection; it is idempotent.
func (s *session) close() {
	if s.closed.Swap(true) {
		return
	}
	if s.ws != nil {
		s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		s.ws.Write(context.Background(), websocket.MessageText, wsClose)
		s.ws.CloseNow()
		return
	}
	s.wmu.Lock()
	s.nc.SetWriteDeadline(time.Now().Add(time.Second))
	s.nc.Write([]byte("</stream:stream>"))
	s.wmu.Unlock()
	s.nc.Close()
}

// newID returns a fresh iq id for this session.
func (s *session) newID() string { return fmt.Sprintf("pb%d", s.ids.Add(1)) }

// iq sends an iq (built by build from a fresh id) and waits for its reply
// while the read loop runs. It returns the reply; an error reply is
// returned as an error.
func (s *session) iq(ctx context.Context, build func(id string) string) ([]byte, error) {
	id := s.newID()
	ch := make(chan []byte, 1)
	s.mu.Lock()
	if s.waits == nil {
		s.waits = make(map[string]chan []byte)
	}
	s.waits[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waits, id)
		s.mu.Unlock()
	}()
	if err := s.writeString(build(id)); err != nil {
		return nil, err
	}
	select {
	case raw := <-ch:
		if t, _ := attr(raw, "type"); string(t) == "error" {
			return raw, fmt.Errorf("iq error %s", errorCondition(raw))
		}
		return raw, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// claim hands an iq reply to a waiting iq call; it reports whether one
// was waiting.
func (s *session) claim(raw []byte) bool {
	id, _ := attr(raw, "id")
	s.mu.Lock()
	ch, ok := s.waits[string(id)]
	s.mu.Unlock()
	if ok {
		ch <- bytes.Clone(raw)
	}
	return ok
}

// readLoop reads stanzas until the stream or connection ends, answering
// server requests and passing everything else to h. It returns nil when
// the session was closed locally.
func (s *session) readLoop(h handler) error {
	for {
		tok, err := s.sc.next()
		if err != nil {
			if s.closed.Load() {
				return nil
			}
			return err
		}
		if tok.kind == tokEnd {
			if s.closed.Load() {
				return nil
			}
			return errStreamEnded
		}
		if tok.kind != tokStanza {
			return fmt.Errorf("unexpected stream header inside the stream")
		}
		name := elemName(tok.raw)
		if s.smCount(name) {
			continue
		}
		switch string(name) {
		case "iq":
			t, _ := attr(tok.raw, "type")
			switch string(t) {
			case "get", "set":
				if err := s.answer(tok.raw); err != nil {
					return err
				}
			default:
				if s.claim(tok.raw) {
					continue
				}
			}
		case "stream:error":
			return fmt.Errorf("stream error %s", errorCondition(tok.raw))
		}
		if h != nil {
			h(s, name, tok.raw)
		}
	}
}

// answer replies to a request from the server: an empty result for
// pings (XEP-0199) and roster pushes (RFC 6121 §2.1.6), the session's
// capabilities for disco#info when it advertises some (XEP-0115), and
// service-unavailable for anything else.
func (s *session) answer(raw []byte) error {
	id := attrString(raw, "id")
	to := ""
	if from := attrString(raw, "from"); from != "" {
		to = " to='" + escape(from) + "'"
	}
	end, _ := tagEnd(raw)
	payload := raw[end:]
	var reply string
	if s.caps != nil {
		reply = s.caps.discoInfoReply(raw, payload, id, to)
	}
	switch {
	case reply != "":
	case bytes.Contains(payload, []byte("urn:xmpp:ping")),
		bytes.Contains(payload, []byte("jabber:iq:roster")):
		reply = "<iq type='result' id='" + escape(id) + "'" + to + "/>"
	default:
		reply = "<iq type='error' id='" + escape(id) + "'" + to + "><error type='cancel'>" +
			"<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
	}
	return s.writeString(reply)
}

// errorCondition returns the defined condition of an error stanza or a
// stream error, e.g. "conflict", or "unknown".
func errorCondition(raw []byte) string {
	i := bytes.Index(raw, []byte("<error"))
	if i < 0 {
		i = bytes.Index(raw, []byte("<stream:error"))
	}
	if i < 0 {
		return "unknown"
	}
	rest := raw[i+1:]
	for {
		j := bytes.IndexByte(rest, '<')
		if j < 0 || j+1 >= len(rest) {
			return "unknown"
		}
		tag := rest[j:]
		rest = rest[j+1:]
		switch {
		case bytes.HasPrefix(tag, []byte("</error>")), bytes.HasPrefix(tag, []byte("</stream:error>")):
			return "unknown"
		case tag[1] == '/':
		case string(elemName(tag)) != "text":
			return string(elemName(tag))
		}
	}
}

// keepalive writes a whitespace keepalive (over WebSocket a ping) every
// interval to the sessions list returns, until ctx ends.
func keepalive(ctx context.Context, interval time.Duration, list func() []*session) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, s := range list() {
				if s.closed.Load() {
					continue
				}
				if s.ws != nil {
					s.wsPing()
				} else {
					s.writeString(" ")
				}
			}
		}
	}
}
