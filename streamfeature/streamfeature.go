// Package streamfeature is the registry of the stream features a client
// stream offers (RFC 6120 §4.3.2): modules add the features they stand
// for, and the client stream writes them, as elements, at the right stage
// of negotiation.
package streamfeature

import (
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
	mu       sync.RWMutex
	features [2][]*stanza.Element
}

// Add offers el at stage. The element is shared by every stream and must
// not be changed afterwards.
func (r *Registry) Add(stage Stage, el *stanza.Element) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.features[stage] = append(r.features[stage], el)
}

// Elements returns the features of stage, in the order added.
func (r *Registry) Elements(stage Stage) []*stanza.Element {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*stanza.Element(nil), r.features[stage]...)
}

// Has reports whether a feature with the element name space/local is
// offered at stage.
func (r *Registry) Has(stage Stage, space, local string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, el := range r.features[stage] {
		if el.Space == space && el.Local == local {
			return true
		}
	}
	return false
}
