package router

import (
	"parley/stanza"
)

// IQMux dispatches iq get and set requests to handlers by the namespace
// of their single payload element. The router keeps one per target, and
// components (group chat) keep their own; C is what a handler is given
// besides the payload (the router's *IQ, a component's request).
type IQMux[C any] struct {
	handlers map[string]func(C, *stanza.Element) (*stanza.Element, error)
}

// Handle registers h for payloads in namespace ns, replacing any earlier
// handler.
func (m *IQMux[C]) Handle(ns string, h func(c C, payload *stanza.Element) (*stanza.Element, error)) {
	if m.handlers == nil {
		m.handlers = make(map[string]func(C, *stanza.Element) (*stanza.Element, error))
	}
	m.handlers[ns] = h
}

// Handles reports whether a handler is registered for ns.
func (m *IQMux[C]) Handles(ns string) bool {
	_, ok := m.handlers[ns]
	return ok
}

// Dispatch answers the iq get or set request iq: it returns the result's
// payload (nil for an empty result) or a stanza error: bad-request when
// the request does not carry exactly one element (RFC 6120 §8.2.3),
// service-unavailable when no handler takes its namespace (§8.4), or
// what the handler returns.
func (m *IQMux[C]) Dispatch(c C, iq *stanza.Element) (*stanza.Element, error) {
	payload, err := Payload(iq)
	if err != nil {
		return nil, err
	}
	h, ok := m.handlers[payload.Space]
	if !ok {
		return nil, stanza.Err("service-unavailable")
	}
	return h(c, payload)
}

// Payload returns the single child element of an iq get or set, or a
// bad-request error.
func Payload(iq *stanza.Element) (*stanza.Element, error) {
	var payload *stanza.Element
	for _, n := range iq.Children {
		if el, ok := n.(*stanza.Element); ok {
			if payload != nil {
				return nil, stanza.ErrText("bad-request", "iq get and set must carry exactly one child element")
			}
			payload = el
		}
	}
	if payload == nil {
		return nil, stanza.ErrText("bad-request", "iq get and set must carry exactly one child element")
	}
	return payload, nil
}
