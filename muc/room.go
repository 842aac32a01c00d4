package muc

import (
	"context"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// task is one stanza for a room, with its parsed addresses.
type task struct {
	ctx      context.Context
	el       *stanza.Element
	from, to jid.JID
}

// affEntry is a stored affiliation with the reason given for it.
type affEntry struct {
	aff    Affiliation
	reason string
}

// roomSummary is what the service lists about a room without entering
// its queue.
type roomSummary struct {
	name      string
	listed    bool // public, configured, and not being created
	occupants int
}

// room is one chat room. Its state below qmu is owned by the task that is
// running: tasks run one at a time, in order, through run.
type room struct {
	svc     *Service
	jid     jid.JID
	addr    string // bare JID
	name    string // localpart
	creator string // bare JID of the user who created the room; "" if unknown

	qmu     sync.Mutex
	queue   []task
	running bool
	closed  bool // removed from the service; enqueue refuses

	summary atomic.Pointer[roomSummary]

	cfg         RoomConfig
	created     time.Time
	fresh       bool   // just created; its creator's join is pending
	creatorReal string // the creating session's full JID while fresh
	locked      bool   // awaiting its initial configuration (§10.1)
	stored      bool   // present in storage
	destroyed   bool
	subject     string
	subjectBy   string // nick of the occupant who set the subject
	affs        map[string]affEntry
	occupants   []*occupant // in order of entry
	byNick      map[string]*occupant
	byJID       map[string]*occupant // by real full JID
	history     history
	invites     map[string]string // invitee bare JID -> inviter's real JID

	// subjectOccupantID is the occupant ID of whoever set the subject,
	// while the room runs; nil for a subject loaded from storage.
	subjectOccupantID *stanza.Element
}

// maxPendingInvites bounds the mediated invitations a room remembers for
// relaying declines.
const maxPendingInvites = 256

func newRoom(s *Service, j jid.JID, cfg RoomConfig) *room {
	r := &room{
		svc:     s,
		jid:     j,
		addr:    j.String(),
		name:    j.Localpart(),
		cfg:     cfg,
		created: time.Now().UTC(),
		affs:    make(map[string]affEntry),
		byNick:  make(map[string]*occupant),
		byJID:   make(map[string]*occupant),
		invites: make(map[string]string),
	}
	r.history.setLimit(cfg.HistoryLength)
	r.publishSummary()
	return r
}

// enqueue adds t to the room's queue and, if no task is running, runs the
// queue on the calling goroutine. It reports false if the room has been
// removed, in which case the caller looks the room up again.
func (r *room) enqueue(t task) bool {
	r.qmu.Lock()
	if r.closed {
		r.qmu.Unlock()
		return false
	}
	r.queue = append(r.queue, t)
	if r.running {
		r.qmu.Unlock()
		return true
	}
	r.running = true
	r.qmu.Unlock()
	r.run()
	return true
}

// adopt queues t on a room that is in the service (so not closed) without
// running it; it reports whether the caller must now run the queue.
func (r *room) adopt(t task) bool {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	r.queue = append(r.queue, t)
	if r.running {
		return false
	}
	r.running = true
	return true
}

// maxInlineTasks is how many tasks a goroutine that found its room idle
// runs before it hands a busy room's queue to a goroutine of its own, so
// that a client's stream is not held up by other occupants' traffic.
const maxInlineTasks = 64

// run handles queued tasks until the queue is empty or the room closed.
func (r *room) run() {
	for n := 0; ; n++ {
		r.qmu.Lock()
		if r.closed || len(r.queue) == 0 {
			r.running = false
			if len(r.queue) == 0 {
				r.queue = nil
			}
			r.qmu.Unlock()
			return
		}
		if n == maxInlineTasks {
			r.qmu.Unlock()
			go r.run() // still running: the new goroutine takes over
			return
		}
		t := r.queue[0]
		r.queue[0] = task{}
		r.queue = r.queue[1:]
		r.qmu.Unlock()
		r.safely(t)
		r.settle(t.ctx)
	}
}

// safely handles t, logging a panic instead of killing the room.
func (r *room) safely(t task) {
	defer func() {
		if p := recover(); p != nil {
			r.svc.log.Error().Str("room", r.addr).Str("stanza", t.el.Kind()).Str("from", t.el.From()).
				Interface("panic", p).Bytes("stack", debug.Stack()).Msg("group-chat room failed to handle a stanza")
		}
	}()
	r.handle(t)
}

// settle runs after every task: storage follows persistence, the summary
// follows the state, and an empty room that is not to be kept vanishes.
func (r *room) settle(ctx context.Context) {
	if r.destroyed {
		r.svc.removeRoom(r)
		return
	}
	keep := r.cfg.Persistent && !r.locked && !r.fresh
	switch {
	case keep && !r.stored:
		r.stored = r.svc.saveRoomAll(ctx, r)
	case !keep && r.stored:
		r.svc.forgetRoom(ctx, r)
		r.stored = false
	}
	r.publishSummary()
	if len(r.occupants) == 0 && !keep {
		r.svc.removeRoom(r)
	}
}

// publishSummary updates the summary the service reads, if it changed.
func (r *room) publishSummary() {
	s := roomSummary{name: r.cfg.Name, occupants: len(r.occupants), listed: r.cfg.Public && !r.locked && !r.fresh}
	if s.name == "" {
		s.name = r.name
	}
	if old := r.summary.Load(); old != nil && *old == s {
		return
	}
	r.summary.Store(&s)
}

// affiliation returns the affiliation of a bare JID; service admins own
// every room.
func (r *room) affiliation(bare string) Affiliation {
	if r.svc.admins[bare] {
		return Owner
	}
	if a, ok := r.affs[bare]; ok {
		return a.aff
	}
	return NoAffiliation
}

// setAffiliation records an affiliation, in storage too for a stored room.
func (r *room) setAffiliation(ctx context.Context, bare string, a Affiliation, reason string) {
	if a == NoAffiliation {
		delete(r.affs, bare)
	} else {
		r.affs[bare] = affEntry{aff: a, reason: reason}
	}
	if r.stored {
		r.svc.saveAffiliation(ctx, r, bare, a, reason)
	}
}

// owners counts the room's owners, service admins aside.
func (r *room) owners() int {
	n := 0
	for _, a := range r.affs {
		if a.aff == Owner {
			n++
		}
	}
	return n
}

// addOccupant enters o into the room.
func (r *room) addOccupant(o *occupant) {
	r.occupants = append(r.occupants, o)
	r.byNick[o.nick] = o
	r.byJID[o.real] = o
	r.svc.track(o.real, r)
}

// removeOccupant takes o out of the room.
func (r *room) removeOccupant(o *occupant) {
	for i, v := range r.occupants {
		if v == o {
			r.occupants = slices.Delete(r.occupants, i, i+1)
			break
		}
	}
	delete(r.byNick, o.nick)
	delete(r.byJID, o.real)
	r.svc.untrack(o.real, r)
}

// seesJIDs reports whether v may learn occupants' real JIDs: everyone in
// a non-anonymous room, moderators in a semi-anonymous one.
func (r *room) seesJIDs(v *occupant) bool { return r.cfg.NonAnonymous || v.role == Moderator }

// sendTo delivers a copy of el addressed to a real JID.
func (r *room) sendTo(ctx context.Context, el *stanza.Element, to string) {
	c := el.ShallowCopy()
	c.SetAttr("to", to)
	r.svc.r.Deliver(ctx, c)
}

// refuse answers t's stanza with a stanza error.
func (r *room) refuse(t task, err error) { r.svc.refuse(t, err) }

// occupantJID is the occupant JID of nick in this room.
func (r *room) occupantJID(nick string) string { return r.addr + "/" + nick }
