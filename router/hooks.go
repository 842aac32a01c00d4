package router

import (
	"context"
	"sort"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// Point names a place in the stanza pipeline where hooks run.
type Point int

// The points of the pipeline, in the order a stanza can meet them.
const (
	// FromSession sees every stanza a bound local client sends, its from
	// stamped, before it is routed. Event.Session is the sender.
	FromSession Point = iota
	// ToAccount sees a message or iq addressed to a local account (bare or
	// full JID, Event.To) whose account exists, before a resource is
	// chosen.
	ToAccount
	// Chosen sees a message to a local account once its resources are
	// chosen (Event.Targets, possibly empty), before delivery.
	Chosen
	// Deliver sees each delivery to one resource (Event.Resource); a hook
	// that handles or drops it keeps the stanza from that resource only.
	Deliver
	// Undeliverable sees a message to an existing local account that no
	// resource takes. A hook that handles it (offline storage, push)
	// stops the router's bounce.
	Undeliverable
	// ToRemote sees a stanza leaving for a remote server.
	ToRemote
	// FromRemote sees a stanza arriving from a remote server or a
	// component, before it is routed.
	FromRemote
	// PresenceObserved sees presence once the presence logic has
	// processed it: Event.Session is the local sender of an outbound
	// presence, or nil for inbound presence to Event.To.
	PresenceObserved
	// Replay sees a stanza kept in storage for a local account, such as
	// an offline message, before it is delivered to Event.Resource (see
	// Router.Replay): policies that the live stanza met at ToAccount,
	// such as a block list changed since, apply to it again here.
	Replay

	numPoints
)

var pointNames = [...]string{"from-session", "to-account", "chosen", "deliver", "undeliverable", "to-remote", "from-remote", "presence-observed", "replay"}

// String returns the point's name.
func (p Point) String() string {
	if p >= 0 && p < numPoints {
		return pointNames[p]
	}
	return "unknown"
}

// Verdict is what a hook decides about a stanza.
type Verdict int

// Verdicts.
const (
	// Continue passes the stanza on to the next hook and then to the
	// router.
	Continue Verdict = iota
	// Handled stops processing: the hook took care of the stanza.
	Handled
	// Drop stops processing: the stanza is discarded silently.
	Drop
)

// Event is a stanza at a pipeline point. Hooks may change the stanza in
// place (add a stanza ID, say) before the router goes on with it.
type Event struct {
	Point   Point
	Stanza  *stanza.Element
	Session *Resource   // the local sender, if any
	To      jid.JID     // the parsed to address, where there is one
	Targets []*Resource // Chosen: the resources that will receive it
	// Resource is the receiving resource at Deliver.
	Resource *Resource

	toBare string // To's bare JID as a string, once known
	notes  map[any]any
}

// ToBare returns the bare JID of To as a string. The router fills it in
// where it knows it already, so that hooks on the message path need not
// build it for every stanza.
func (ev *Event) ToBare() string {
	if ev.toBare == "" && ev.To.Domainpart() != "" {
		ev.toBare = ev.To.Bare().String()
	}
	return ev.toBare
}

// Note records v under key for the hooks that run after this one on the
// same stanza (the archive ID an earlier hook gave it, say); keys are of
// a type of the noting package's own.
func (ev *Event) Note(key, v any) {
	if ev.notes == nil {
		ev.notes = make(map[any]any, 1)
	}
	ev.notes[key] = v
}

// Noted returns what an earlier hook noted under key, or nil.
func (ev *Event) Noted(key any) any { return ev.notes[key] }

// Hook inspects or acts on a stanza at a pipeline point.
type Hook func(ctx context.Context, ev *Event) Verdict

type hookEntry struct {
	priority int
	seq      int
	fn       Hook
}

// hooks holds the hooks of every point, each list in running order.
type hooks struct {
	lists [numPoints][]hookEntry
	seq   int
}

func (h *hooks) add(p Point, priority int, fn Hook) {
	h.seq++
	l := append(h.lists[p], hookEntry{priority: priority, seq: h.seq, fn: fn})
	sort.SliceStable(l, func(i, j int) bool { return l[i].priority > l[j].priority })
	h.lists[p] = l
}

// Hook registers fn at point p. Hooks with a higher priority run first;
// hooks of equal priority run in the order they were registered. Hooks are
// registered before the first stream is served.
func (r *Router) Hook(p Point, priority int, fn Hook) {
	r.hooks.add(p, priority, fn)
}

// HasHooks reports whether any hook is registered at p.
func (r *Router) HasHooks(p Point) bool { return len(r.hooks.lists[p]) > 0 }

// run runs the hooks of ev.Point and returns the first verdict other than
// Continue, or Continue.
func (r *Router) run(ctx context.Context, ev *Event) Verdict {
	for _, e := range r.hooks.lists[ev.Point] {
		if v := e.fn(ctx, ev); v != Continue {
			return v
		}
	}
	return Continue
}
