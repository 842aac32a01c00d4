// Package streamfeature is the registry of the stream features a client
// stream offers (RFC 6120 §4.3.2): modules add the features they stand
// for, and the client stream writes them, as elements, at the right stage
// of negotiation. A feature negotiated with iq requests before
// authentication (in-band registration, XEP-0077) registers its handler
// here too.
package streamfeature

import (
	"context"
	"sync"

	"parley/stanza"
)

// Stage is the point of stream negotiation at which a feature is offered.
type Stage int

// Stages.
const (
	// Unauthenticated features are offered on an encrypted stream before
	// authentication, beside the SASL mechanisms.
	Unauthenticated Stage = iota
	// Authenticated features are offered after authentication, beside
	// resource binding.
	Authenticated
)

// Registry holds the features of every stage. It is safe for concurrent
// use.
type Registry struct {
	// inline holds the Bind 2 inline features (see AddBindInline),
	// guarded by mu.
	inline []BindInline

	mu       sync.RWMutex
	features [2][]func() *stanza.Element
	iq       map[string]IQHandler // by payload namespace
}

// Request is an iq get or set that a client sent on an encrypted stream
// before authenticating.
type Request struct {
	Stanza  *stanza.Element // the iq, without from
	Payload *stanza.Element // its single child element
	Domain  string          // the domain the stream is for
	Addr    string          // the client's IP address
	// State holds what handlers keep between the requests of one stream
	// (a checked invitation token, say), under keys of a type of the
	// handler's package. It is never nil; requests of a stream come one
	// at a time.
	State map[any]any
}

// IQHandler answers a Request. It returns the payload of the result (nil
// for an empty result) or an error; a stanza.Error is sent as is, other
// errors as internal-server-error.
type IQHandler func(ctx context.Context, req *Request) (*stanza.Element, error)

// HandleIQ makes h answer the iq requests with a payload in namespace ns
// that clients send before authenticating, on encrypted streams only.
// Every other stanza before authentication still ends the stream.
func (r *Registry) HandleIQ(ns string, h IQHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.iq == nil {
		r.iq = make(map[string]IQHandler)
	}
	r.iq[ns] = h
}

// IQHandler returns the handler of unauthenticated iq requests in
// namespace ns, or nil.
func (r *Registry) IQHandler(ns string) IQHandler {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.iq[ns]
}

// Add offers el at stage. The element is shared by every stream and must
// not be changed afterwards.
func (r *Registry) Add(stage Stage, el *stanza.Element) {
	r.AddFunc(stage, func() *stanza.Element { return el })
}

// AddFunc offers at stage the element f returns when a stream asks, for
// features that depend on what is registered after them (entity
// capabilities hash every module's disco features). f must be cheap and
// safe for concurrent use; the element it returns must not be changed.
func (r *Registry) AddFunc(stage Stage, f func() *stanza.Element) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.features[stage] = append(r.features[stage], f)
}

// Elements returns the features of stage, in the order added.
func (r *Registry) Elements(stage Stage) []*stanza.Element {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*stanza.Element, 0, len(r.features[stage]))
	for _, f := range r.features[stage] {
		out = append(out, f())
	}
	return out
}

// Has reports whether a feature with the element name space/local is
// offered at stage.
func (r *Registry) Has(stage Stage, space, local string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, f := range r.features[stage] {
		if el := f(); el.Space == space && el.Local == local {
			return true
		}
	}
	return false
}
