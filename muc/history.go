package muc

import (
	"strconv"
	"time"

	"parley/stanza"
)

// historyEntry is one message kept for replay.
type historyEntry struct {
	msg   *stanza.Element // as reflected, without a to
	stamp time.Time       // when the room received it (UTC)
	size  int             // bytes of the replayed stanza, delay included
}

// history is a ring of the most recent messages of a room.
type history struct {
	ring  []historyEntry
	start int // index of the oldest entry
	n     int // entries held
}

// setLimit changes how many entries the ring holds, keeping the newest.
func (h *history) setLimit(limit int) {
	if limit == len(h.ring) {
		return
	}
	all := h.entries()
	if len(all) > limit {
		all = all[len(all)-limit:]
	}
	h.ring = make([]historyEntry, limit)
	h.start = 0
	h.n = copy(h.ring, all)
}

// add appends e, dropping the oldest entry when the ring is full.
func (h *history) add(e historyEntry) {
	if len(h.ring) == 0 {
		return
	}
	if h.n < len(h.ring) {
		h.ring[(h.start+h.n)%len(h.ring)] = e
		h.n++
		return
	}
	h.ring[h.start] = e
	h.start = (h.start + 1) % len(h.ring)
}

// entries returns the held entries, oldest first.
func (h *history) entries() []historyEntry {
	out := make([]historyEntry, 0, h.n)
	for i := range h.n {
		out = append(out, h.ring[(h.start+i)%len(h.ring)])
	}
	return out
}

// delayed returns the replayed form of e: its message with a XEP-0203
// delay from the room.
func delayed(e historyEntry, room string) *stanza.Element {
	d := stanza.New(stanza.NSDelay, "delay", "from", room, "stamp", e.stamp.UTC().Format(stanza.StampLayout))
	return withChild(e.msg, d)
}

// newHistoryEntry wraps a reflected message for the history of room.
func newHistoryEntry(msg *stanza.Element, stamp time.Time, room string) historyEntry {
	e := historyEntry{msg: msg, stamp: stamp}
	e.size = len(delayed(e, room).String())
	return e
}

// historyRequest is what a joining occupant asked for with <history/>
// (XEP-0045 §7.2.14); a negative limit or a zero time means no limit.
type historyRequest struct {
	maxChars, maxStanzas, seconds int
	since                         time.Time
}

// parseHistoryRequest reads the <history/> child of a join's <x/>;
// unparsable attributes are ignored, as if absent.
func parseHistoryRequest(x *stanza.Element) historyRequest {
	req := historyRequest{maxChars: -1, maxStanzas: -1, seconds: -1}
	if x == nil {
		return req
	}
	h := x.Child(NS, "history")
	if h == nil {
		return req
	}
	num := func(name string) int {
		n, err := strconv.Atoi(h.Attr(name))
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	req.maxChars, req.maxStanzas, req.seconds = num("maxchars"), num("maxstanzas"), num("seconds")
	if s := h.Attr("since"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			req.since = t
		}
	}
	return req
}

// pick returns the newest entries satisfying every limit of req, oldest
// first; entries is oldest first.
func (req historyRequest) pick(entries []historyEntry, now time.Time) []historyEntry {
	chars := 0
	first := len(entries)
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if req.maxStanzas >= 0 && len(entries)-i > req.maxStanzas {
			break
		}
		if req.maxChars >= 0 && chars+e.size > req.maxChars {
			break
		}
		if req.seconds >= 0 && e.stamp.Before(now.Add(-time.Duration(req.seconds)*time.Second)) {
			break
		}
		if !req.since.IsZero() && e.stamp.Before(req.since) {
			break
		}
		chars += e.size
		first = i
	}
	return entries[first:]
}

// withChild returns a copy of el (sharing the other children) with child
// appended; el itself is not changed.
func withChild(el *stanza.Element, child *stanza.Element) *stanza.Element {
	c := el.ShallowCopy()
	c.Children = append(append(make([]stanza.Node, 0, len(el.Children)+1), el.Children...), child)
	return c
}
