package c2s

import (
	"slices"
	"sync"

	"parley/stanza"
)

// NSCSI is the namespace of Client State Indication (XEP-0352).
const NSCSI = "urn:xmpp:csi:0"

// maxHeld bounds what an inactive session holds back; past it,
// everything held goes out.
const maxHeld = 1000

// csiBuffer is the first link of a session's outbound chain: while the
// client says it is inactive (XEP-0352), it holds back what can wait,
// presence updates and standalone chat states, keeping only the latest
// from each sender, and lets everything else through at once, after what
// it held, so that the client sees stanzas in order.
type csiBuffer struct {
	mu       sync.Mutex
	inactive bool
	held     map[heldKey]heldStanza
	seq      uint64
}

type heldKey struct {
	from string
	kind string // "presence" or "chatstate"
}

type heldStanza struct {
	seq uint64
	el  *stanza.Element
}

// setInactive records the client's state; going active sends what was
// held, in order, through send (the next link of the chain).
func (b *csiBuffer) setInactive(inactive bool, send func(*stanza.Element) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inactive = inactive
	if !inactive {
		b.flushLocked(send)
	}
}

// pass takes el on its way to the client: it holds el, or sends what it
// held and then el through send, which must not block. It reports
// false if send refused a stanza.
func (b *csiBuffer) pass(el *stanza.Element, send func(*stanza.Element) bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.inactive {
		return send(el)
	}
	if kind := holdable(el); kind != "" {
		if b.held == nil {
			b.held = make(map[heldKey]heldStanza)
		}
		b.seq++
		b.held[heldKey{from: el.From(), kind: kind}] = heldStanza{seq: b.seq, el: el}
		if len(b.held) > maxHeld {
			return b.flushLocked(send)
		}
		return true
	}
	ok := b.flushLocked(send)
	return send(el) && ok
}

// flushLocked sends everything held, in order.
func (b *csiBuffer) flushLocked(send func(*stanza.Element) bool) bool {
	ok := true
	for _, el := range b.takeLocked() {
		ok = send(el) && ok
	}
	return ok
}

// takeLocked empties the buffer, returning what it held in order.
func (b *csiBuffer) takeLocked() []*stanza.Element {
	if len(b.held) == 0 {
		return nil
	}
	all := make([]heldStanza, 0, len(b.held))
	for _, h := range b.held {
		all = append(all, h)
	}
	clear(b.held)
	slices.SortFunc(all, func(x, y heldStanza) int {
		switch {
		case x.seq < y.seq:
			return -1
		case x.seq > y.seq:
			return 1
		}
		return 0
	})
	out := make([]*stanza.Element, len(all))
	for i, h := range all {
		out[i] = h.el
	}
	return out
}

// holdable says whether el can wait while the client is inactive, and
// under which kind it collapses: availability presence (not
// subscription requests and answers, which need the user), and chat
// state notifications without a body.
func holdable(el *stanza.Element) string {
	switch el.Kind() {
	case "presence":
		if t := el.Type(); t == "" || t == "unavailable" {
			return "presence"
		}
	case "message":
		if el.Type() == "error" || el.Child("", "body") != nil {
			return ""
		}
		state := false
		for _, c := range el.Elements() {
			switch c.Space {
			case "http://jabber.org/protocol/chatstates":
				state = true
			case "", "urn:xmpp:hints", "urn:xmpp:sid:0":
				// thread, hints and stanza IDs ride along
			default:
				return ""
			}
		}
		if state {
			return "chatstate"
		}
	}
	return ""
}
