package router

import (
	"sync"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// Session is the stream behind a bound resource: the router delivers to it
// and may end it.
type Session interface {
	// Send queues a stanza for the client; it never blocks on the network
	// and reports false if the stream no longer accepts stanzas.
	Send(el *stanza.Element) bool
	// Close ends the stream with a stream error condition ("" for a plain
	// close) and text.
	Close(condition, text string)
}

// Waiter is implemented by a Session that can outlive its stream, as one
// under stream management (XEP-0198) does while it waits for its client
// to resume it.
type Waiter interface {
	// Waiting reports whether the session has no stream now.
	Waiting() bool
}

// Resource is the routing state of one bound client resource: its JID, the
// stream behind it, and its presence. The router owns it; feature modules
// read and update presence through its methods.
type Resource struct {
	JID     jid.JID // full JID
	Bare    string  // the bare JID, as a string
	Session Session

	mu         sync.Mutex
	available  bool
	priority   int
	presence   *stanza.Element
	directed   map[string]struct{}
	interested bool
	bound      bool
	lastStatus string
	values     map[any]any
}

// Value returns what SetValue stored under key, or nil. Modules keep
// per-resource state this way (carbons enabled, say), each under a key
// of an unexported type of its own.
func (r *Resource) Value(key any) any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.values[key]
}

// SetValue stores v under key; a nil v removes it.
func (r *Resource) SetValue(key, v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == nil {
		delete(r.values, key)
		return
	}
	if r.values == nil {
		r.values = make(map[any]any)
	}
	r.values[key] = v
}

// Available reports whether the resource has sent available presence.
func (r *Resource) Available() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.available
}

// Priority returns the priority of the last available presence.
func (r *Resource) Priority() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.priority
}

// Presence returns the last broadcast available presence, or nil.
func (r *Resource) Presence() *stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.presence
}

// SetPresence records a broadcast presence. An unavailable presence clears
// the state. It reports whether this was the resource's initial available
// presence.
func (r *Resource) SetPresence(p *stanza.Element) (initial bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p == nil || p.Type() == "unavailable" {
		if p != nil && r.available {
			r.lastStatus = p.ChildText("", "status")
		}
		r.available, r.presence, r.priority = false, nil, 0
		return false
	}
	initial = !r.available
	r.available = true
	r.presence = p
	r.priority = ParsePriority(p)
	return initial
}

// LastStatus returns the status text of the resource's last unavailable
// presence (XEP-0012 reports it as the user's last status).
func (r *Resource) LastStatus() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastStatus
}

// AddDirected records that directed available presence was sent to j.
func (r *Resource) AddDirected(j string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.directed == nil {
		r.directed = make(map[string]struct{})
	}
	r.directed[j] = struct{}{}
}

// RemoveDirected forgets directed presence to j.
func (r *Resource) RemoveDirected(j string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.directed, j)
}

// TakeDirected returns and clears every JID directed presence went to.
func (r *Resource) TakeDirected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.directed))
	for j := range r.directed {
		out = append(out, j)
	}
	r.directed = nil
	return out
}

// SetInterested marks the resource as having requested the roster, so it
// receives roster pushes (RFC 6121 §2.1.6).
func (r *Resource) SetInterested() {
	r.mu.Lock()
	r.interested = true
	r.mu.Unlock()
}

// Interested reports whether the resource requested the roster.
func (r *Resource) Interested() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interested
}

// ParsePriority returns a presence's priority (RFC 6121 §4.7.2.3), 0 when
// absent or invalid, clamped to -128..127.
func ParsePriority(p *stanza.Element) int {
	s := p.ChildText("", "priority")
	if s == "" {
		return 0
	}
	n, neg, i := 0, false, 0
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		i = 1
	}
	if i == len(s) {
		return 0
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
		if n > 1000 {
			n = 1000
		}
	}
	if neg {
		n = -n
	}
	if n > 127 {
		n = 127
	}
	if n < -128 {
		n = -128
	}
	return n
}

// Waiting reports whether the resource's session has no stream now and
// waits for its client to come back (see Waiter).
func (r *Resource) Waiting() bool {
	w, ok := r.Session.(Waiter)
	return ok && w.Waiting()
}
