package testutil

import (
	"sync"

	"parley/stanza"
)

// RecordingSession is a router.Session that keeps what it is sent, for
// tests that drive a router directly without a network stream.
type RecordingSession struct {
	mu     sync.Mutex
	sent   []*stanza.Element
	refuse bool
	closed bool
}

// Send records el, or reports false once Refuse(true) was called.
func (s *RecordingSession) Send(el *stanza.Element) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse || s.closed {
		return false
	}
	s.sent = append(s.sent, el)
	return true
}

// Close records that the router ended the session.
func (s *RecordingSession) Close(_, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

// Refuse makes later sends fail (true) or succeed again (false), as a
// stream that stopped accepting stanzas does.
func (s *RecordingSession) Refuse(refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = refuse
}

// Sent returns and forgets everything sent so far.
func (s *RecordingSession) Sent() []*stanza.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}
