package compliance

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"parley/config"
	"parley/module"
	"parley/router"
	"parley/stanza"
)

// hookPriority runs the archive's hooks after the refusals of blocking
// and spoofing and before anything delivers a copy (carbons) or archives
// for users.
const hookPriority = 200

// Spec declares the compliance archive as a server module, enabled by
// archive.enabled; its instance is the *Archive, which the group-chat
// service records room messages through.
func Spec() module.Spec {
	return module.Spec{
		Name:    "compliance",
		Enabled: func(cfg *config.Config) bool { return cfg.Archive.Enabled },
		Setup: func(h *module.Host) (any, error) {
			cfg := h.Config
			locals := append([]string(nil), cfg.Server.Domains...)
			if cfg.MUC.Domain != "" {
				locals = append(locals, cfg.MUC.Domain)
			}
			dr := map[string]time.Duration{}
			for d, r := range cfg.Archive.DomainRetention {
				dr[d] = r.Duration
			}
			a, err := Open(Options{
				Dir:                cfg.ArchiveDir(),
				LocalDomains:       locals,
				Retention:          cfg.Archive.Retention.Duration,
				DomainRetention:    dr,
				RequirePlaintext:   cfg.Archive.RequirePlaintext,
				OnFailure:          cfg.Archive.OnFailure,
				CheckpointInterval: cfg.Archive.CheckpointInterval.Duration,
				Audit:              h.Audit,
				Log:                h.Log,
			})
			if err != nil {
				return nil, err
			}
			Register(h.Router, a, cfg.MUC.Domain)
			h.Go(a.Run)
			return a, nil
		},
	}
}

// hooks archives what passes the router.
type hooks struct {
	r    *router.Router
	a    *Archive
	muc  string   // the local group-chat domain, whose rooms archive their own messages
	seen *seenSet // recent messages of remote rooms, archived once
}

// Register archives, through a, every message with content that local
// clients send and that arrives from other servers and components;
// groupchat messages to the rooms of mucDomain are left to the rooms
// (RecordRoom).
func Register(r *router.Router, a *Archive, mucDomain string) {
	h := &hooks{r: r, a: a, muc: mucDomain, seen: newSeenSet(4096)}
	r.Hook(router.FromSession, hookPriority, h.fromSession)
	r.Hook(router.FromRemote, hookPriority, h.fromRemote)
}

// archivable reports whether a stanza is a message the hooks look at.
func archivable(el *stanza.Element) bool {
	return el.Kind() == "message" && el.Type() != "error"
}

func (h *hooks) fromSession(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if !archivable(el) {
		return router.Continue
	}
	domain := ev.To.Domainpart()
	dir := Local
	switch {
	case el.To() == "":
		// To the sender's own account.
	case h.muc != "" && domain == h.muc:
		return router.Continue // the room archives it, once, with the real addresses
	case !h.r.Serves(domain) && !h.r.IsComponent(domain):
		dir = Outbound
	}
	to := el.To()
	if to == "" {
		to = ev.Session.Bare
	}
	if v := h.record(ctx, dir, el.From(), to, el); v != router.Continue {
		return v
	}
	if el.Type() == "groupchat" {
		// A room elsewhere reflects it back: it is archived already.
		for _, k := range ownKeys(ev.ToBare(), el) {
			h.seen.add(k)
		}
	}
	return router.Continue
}

// ownKeys identifies a local user's message to room so that its
// reflection by the room is recognised: by the ids the sender gave it
// (its id and its XEP-0359 origin ID, which rooms keep when they reflect
// a message) together with its body, so that another occupant's message
// that happens to reuse the id is still archived.
func ownKeys(room string, el *stanza.Element) []string {
	h := fnv.New64a()
	h.Write([]byte(el.ChildText("", "body")))
	sum := strconv.FormatUint(h.Sum64(), 16)
	var keys []string
	if id := el.ID(); id != "" {
		keys = append(keys, room+"\x00own\x00id:"+id+"\x00"+sum)
	}
	if o := el.Child("urn:xmpp:sid:0", "origin-id"); o != nil && o.Attr("id") != "" {
		keys = append(keys, room+"\x00own\x00origin:"+o.Attr("id")+"\x00"+sum)
	}
	return keys
}

func (h *hooks) fromRemote(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if !archivable(el) {
		return router.Continue
	}
	if h.muc != "" && ev.To.Domainpart() == h.muc {
		return router.Continue // the room archives it, once, with the real addresses
	}
	if el.Type() == "groupchat" {
		// A local user's own message reflected by a remote room was
		// archived when it left.
		for _, k := range ownKeys(bareOf(el.From()), el) {
			if h.seen.has(k) {
				if err := h.a.Check(el); err != nil {
					return h.refuse(ctx, el, err)
				}
				return router.Continue
			}
		}
		// A remote room sends each local occupant a copy: archive one.
		// The copies come from the same occupant JID; an id alone is
		// not enough, since occupants choose them and may reuse them.
		if id := roomMessageID(el); id != "" && !h.seen.add(el.From()+"\x00"+id) {
			if err := h.a.Check(el); err != nil {
				return h.refuse(ctx, el, err)
			}
			return router.Continue
		}
	}
	return h.record(ctx, Inbound, el.From(), el.To(), el)
}

// record archives el, or bounces it as the archive's policy says.
func (h *hooks) record(ctx context.Context, dir Direction, from, to string, el *stanza.Element) router.Verdict {
	if err := h.a.Record(dir, from, to, from, el); err != nil {
		return h.refuse(ctx, el, err)
	}
	return router.Continue
}

func (h *hooks) refuse(ctx context.Context, el *stanza.Element, err error) router.Verdict {
	var se stanza.Error
	if !errors.As(err, &se) {
		se = stanza.ErrText("internal-server-error", err.Error())
	}
	h.r.Bounce(ctx, el, se)
	return router.Handled
}

// RecordPrivate archives a private message between occupants of a local
// room before the room passes it on: from and to occupant JIDs, sender
// and recipient their real full JIDs.
func (a *Archive) RecordPrivate(room, from, to, sender, recipient string, el *stanza.Element) error {
	return a.record(Room, from, to, sender, recipient, el)
}

// RecordRoom archives a message of a local room before the room sends it
// to its occupants: from the occupant JID, to the room, written by
// sender (a real full JID). An error is the stanza error to refuse the
// message with.
func (a *Archive) RecordRoom(room, from, sender string, el *stanza.Element) error {
	return a.Record(Room, from, room, sender, el)
}

// roomMessageID identifies a room message across its copies: the stanza
// ID the room gave it (XEP-0359), or its id.
func roomMessageID(el *stanza.Element) string {
	room := bareOf(el.From())
	for _, c := range el.ChildrenNamed("urn:xmpp:sid:0", "stanza-id") {
		if c.Attr("by") == room {
			return "sid:" + c.Attr("id")
		}
	}
	if id := el.ID(); id != "" {
		return "id:" + id
	}
	return ""
}

// seenSet remembers the last n keys added.
type seenSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
	ring []string
	next int
}

func newSeenSet(n int) *seenSet {
	return &seenSet{keys: make(map[string]struct{}, n), ring: make([]string, n)}
}

// has reports whether key was added (and not forgotten since).
func (s *seenSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[key]
	return ok
}

// add adds key and reports whether it was new.
func (s *seenSet) add(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[key]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.keys, old)
	}
	s.ring[s.next] = key
	s.next = (s.next + 1) % len(s.ring)
	s.keys[key] = struct{}{}
	return true
}
