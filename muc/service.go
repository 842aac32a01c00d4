package muc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/archive"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Service is a multi-user chat service: every room at its domain.
type Service struct {
	domain string
	r      *router.Router
	store  storage.MUC
	log    zerolog.Logger
	policy Policy
	admins map[string]bool
	ids    *idGen
	secret []byte // authenticates the IDs of forwarded IQs
	writer *archive.Writer[storage.MUCMessage]
	// archives, archiveWriter and maxArchivePage serve archive queries
	// to rooms; archives is nil when rooms offer none.
	archives       storage.Archives
	archiveWriter  *archive.Writer[storage.ArchivedMessage]
	maxArchivePage int
	recorder       RoomRecorder // nil without a compliance archive
	// serviceIQ and roomIQ answer iq requests to the service and to
	// rooms, by payload namespace.
	serviceIQ router.IQMux[task]
	roomIQ    router.IQMux[roomRequest]

	mu    sync.RWMutex
	rooms map[string]*room // by localpart

	joinedMu sync.Mutex
	joined   map[string]map[*room]struct{} // real full JID -> rooms it is in

	// occupantIDKey derives the occupant IDs of XEP-0421.
	occupantIDKey []byte
}

// New creates the service and loads its persistent rooms from storage. It
// does not register the service with the router; Register does.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Domain == "" || o.Router == nil {
		return nil, errors.New("group-chat service: a domain and a router are required")
	}
	s := &Service{
		domain: o.Domain,
		r:      o.Router,
		store:  o.Store,
		log:    o.Log,
		policy: o.Policy.withDefaults(),
		admins: make(map[string]bool),
		ids:    newIDGen(),
		secret: make([]byte, 32),
		rooms:  make(map[string]*room),
		joined: make(map[string]map[*room]struct{}),

		archives:       o.Archives,
		archiveWriter:  o.ArchiveWriter,
		maxArchivePage: o.MaxArchivePage,
		recorder:       o.Recorder,
	}
	if s.archives != nil && s.archiveWriter == nil {
		return nil, errors.New("group-chat service: archives need the archive writer")
	}
	if s.maxArchivePage <= 0 {
		s.maxArchivePage = archive.DefaultPage
	}
	rand.Read(s.secret)
	switch len(o.OccupantIDKey) {
	case 0:
		s.occupantIDKey = make([]byte, OccupantIDKeySize)
		rand.Read(s.occupantIDKey)
	case OccupantIDKeySize:
		s.occupantIDKey = o.OccupantIDKey
	default:
		return nil, fmt.Errorf("group-chat service %s: the occupant ID key must be %d bytes, not %d", o.Domain, OccupantIDKeySize, len(o.OccupantIDKey))
	}
	s.registerIQ()
	for _, a := range s.policy.Admins {
		s.admins[a] = true
	}
	if s.store != nil {
		s.writer = archive.NewWriter(s.store.AppendMUCHistory, s.log)
	}
	if err := s.load(ctx); err != nil {
		return nil, fmt.Errorf("group-chat service %s: %w", o.Domain, err)
	}
	return s, nil
}

// Register creates the service and hooks it into the router: it becomes
// the component for its domain, learns when local sessions end, and is
// listed as an item of the server's service discovery.
func Register(ctx context.Context, r *router.Router, o Options) (*Service, error) {
	o.Router = r
	s, err := New(ctx, o)
	if err != nil {
		return nil, err
	}
	r.RegisterComponent(s.domain, s.Handle)
	r.OnUnbind(s.Unbound)
	r.AddItem(router.Item{JID: s.domain, Name: ServiceName})
	return s, nil
}

// Domain returns the service's domain.
func (s *Service) Domain() string { return s.domain }

// Run stores room history in the background, in batches, until ctx
// ends, then stores what is left. While Run is not running, each message
// is stored as it is sent.
func (s *Service) Run(ctx context.Context) {
	if s.writer == nil {
		<-ctx.Done()
		return
	}
	s.writer.Run(ctx)
}

// Handle is the router's component handler: it takes every stanza
// addressed to the service's domain or a JID at it.
func (s *Service) Handle(ctx context.Context, el *stanza.Element) {
	if el.From() == "" {
		return
	}
	from, err := s.r.ParseJID(el.From())
	if err != nil {
		return
	}
	to, err := s.r.ParseJID(el.To())
	if err != nil {
		s.r.Bounce(ctx, el, stanza.ErrText("jid-malformed", "invalid to address"))
		return
	}
	t := task{ctx: context.WithoutCancel(ctx), el: el, from: from, to: to}
	if to.Localpart() == "" {
		s.handleService(t)
		return
	}
	s.dispatch(t)
}

// Unbound is the router's unbind hook: a local session that ended leaves
// every room it was in, as if it had sent unavailable presence.
func (s *Service) Unbound(ctx context.Context, res *router.Resource) {
	full := res.JID.String()
	s.joinedMu.Lock()
	rooms := s.joined[full]
	delete(s.joined, full)
	s.joinedMu.Unlock()
	for r := range rooms {
		p := stanza.New("", "presence", "type", "unavailable", "from", full, "to", r.addr)
		s.dispatch(task{ctx: context.WithoutCancel(ctx), el: p, from: res.JID, to: r.jid})
	}
}

// dispatch queues t on its room, creating the room for a join that may
// create it.
func (s *Service) dispatch(t task) {
	for {
		r, err := s.roomFor(t)
		if err != nil {
			s.refuse(t, err)
			return
		}
		if r == nil || r.enqueue(t) {
			return
		}
	}
}

// roomFor returns the room t is addressed to. A join to a room that does
// not exist creates it if the sender may create rooms (XEP-0045 §10.1.1);
// other stanzas to unknown rooms get item-not-found, or nothing when they
// expect no answer.
func (s *Service) roomFor(t task) (*room, error) {
	s.mu.RLock()
	r := s.rooms[t.to.Localpart()]
	s.mu.RUnlock()
	if r != nil {
		return r, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roomForLocked(t)
}

// roomForLocked is roomFor with s.mu held.
func (s *Service) roomForLocked(t task) (*room, error) {
	name := t.to.Localpart()
	if r := s.rooms[name]; r != nil {
		return r, nil
	}
	if t.el.Kind() != "presence" || t.el.Type() != "" {
		if isOccupantPing(t) {
			// A client that believes it is in a room that is gone
			// (after a restart, say) learns that it must join again;
			// item-not-found would mean it still is (XEP-0410).
			return nil, errNotInRoom
		}
		if expectsAnswer(t.el) {
			return nil, stanza.ErrText("item-not-found", "no such room")
		}
		return nil, nil
	}
	if t.to.Resourcepart() == "" {
		return nil, stanza.ErrText("jid-malformed", "join the room at room@service/nickname")
	}
	creator := t.from.Bare().String()
	if err := s.mayCreate(t.from); err != nil {
		return nil, err
	}
	if max := s.policy.MaxRoomsPerUser; max > 0 && !s.admins[creator] {
		n := 0
		for _, r := range s.rooms {
			if r.creator == creator {
				n++
			}
		}
		if n >= max {
			return nil, stanza.ErrText("not-allowed", fmt.Sprintf("you have created %d rooms, the most allowed", n))
		}
	}
	r := newRoom(s, t.to.Bare(), newRoomConfig(s.policy))
	r.creator = creator
	r.fresh, r.creatorReal = true, t.from.String()
	r.publishSummary()
	s.rooms[name] = r
	return r, nil
}

// mayCreate applies Policy.Create to a would-be creator.
func (s *Service) mayCreate(from jid.JID) error {
	if s.admins[from.Bare().String()] {
		return nil
	}
	switch s.policy.Create {
	case CreateAnyone:
		return nil
	case CreateLocal:
		if s.r.Serves(from.Domainpart()) {
			return nil
		}
		return stanza.ErrText("not-allowed", "only users of this server may create rooms")
	}
	return stanza.ErrText("not-allowed", "only administrators may create rooms")
}

// removeRoom takes a room out of the service. Tasks still queued for it
// are handled as if they had just arrived, but ahead of any that arrive
// later: they are queued on the room's successor (the room a join among
// them creates) before the service lock is released, so that a sender's
// later stanza cannot overtake its earlier one.
func (s *Service) removeRoom(r *room) {
	s.mu.Lock()
	r.qmu.Lock()
	r.closed = true
	pending := r.queue
	r.queue = nil
	r.qmu.Unlock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	var (
		next    *room
		start   bool
		refused []refusal
	)
	for _, t := range pending {
		nr, err := s.roomForLocked(t)
		switch {
		case err != nil:
			refused = append(refused, refusal{t, err})
		case nr != nil:
			start = nr.adopt(t) || start
			next = nr
		}
	}
	s.mu.Unlock()
	for _, f := range refused {
		s.refuse(f.t, f.err)
	}
	if start {
		next.run()
	}
}

// refusal is a task to answer with an error.
type refusal struct {
	t   task
	err error
}

// track records that a real full JID is in a room, so that the end of
// its session can take it out.
func (s *Service) track(full string, r *room) {
	s.joinedMu.Lock()
	defer s.joinedMu.Unlock()
	m := s.joined[full]
	if m == nil {
		m = make(map[*room]struct{})
		s.joined[full] = m
	}
	m[r] = struct{}{}
}

// untrack forgets that a real full JID is in a room.
func (s *Service) untrack(full string, r *room) {
	s.joinedMu.Lock()
	defer s.joinedMu.Unlock()
	if m := s.joined[full]; m != nil {
		delete(m, r)
		if len(m) == 0 {
			delete(s.joined, full)
		}
	}
}

// handleService answers stanzas to the service itself: service discovery.
func (s *Service) handleService(t task) {
	switch t.el.Kind() {
	case "iq":
		if typ := t.el.Type(); typ != "get" && typ != "set" {
			return
		}
		res, err := s.serviceIQ.Dispatch(t, t.el)
		s.reply(t, res, err)
	case "message":
		if t.el.Type() != "error" {
			s.refuse(t, stanza.ErrText("service-unavailable", "the group-chat service itself takes no messages; write to a room"))
		}
	}
}

// reply answers an IQ request with a result carrying payload, or err.
func (s *Service) reply(t task, payload *stanza.Element, err error) {
	if errors.Is(err, router.ErrAnswered) {
		return
	}
	if err != nil {
		s.refuse(t, err)
		return
	}
	res := stanza.Result(t.el)
	if payload != nil {
		res.Append(payload)
	}
	s.r.Deliver(t.ctx, res)
}

// refuse answers t's stanza with err, a stanza.Error (any other error is
// internal-server-error); errors are never answered.
func (s *Service) refuse(t task, err error) {
	var se stanza.Error
	if !errors.As(err, &se) {
		s.log.Error().Err(err).Str("to", t.el.To()).Msg("group-chat request failed")
		se = stanza.Err("internal-server-error")
	}
	s.r.Bounce(t.ctx, t.el, se)
}
