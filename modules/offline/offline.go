// Package offline implements offline message storage (XEP-0160): chat and
// normal messages for an account with no available resource are stored
// durably and delivered, marked with a XEP-0203 delay, when a resource
// next becomes available with a non-negative priority.
package offline

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Feature is the disco feature of XEP-0160.
const Feature = "msgoffline"

// DefaultLimit is how many messages are kept per account unless Config
// says otherwise.
const DefaultLimit = 1000

// Namespaces the storage decision looks at.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates" // XEP-0085
	nsHints      = "urn:xmpp:hints"                        // XEP-0334
)

// Config tunes the module.
type Config struct {
	// Limit is the most messages stored per account; once reached, further
	// messages bounce with service-unavailable. 0 means DefaultLimit.
	Limit int
}

// Module stores and delivers offline messages.
type Module struct {
	r     *router.Router
	store storage.Offline
	log   zerolog.Logger
	limit int

	locks keyedMutex
}

// HookPriority is where offline storage sits among the Undeliverable
// hooks: after those that only observe (push notifications), which run
// first with a higher priority.
const HookPriority = 0

// Register subscribes the module to undeliverable messages, delivers
// stored messages when a resource becomes available, and advertises
// msgoffline on the server.
func Register(r *router.Router, store storage.Offline, log zerolog.Logger, cfg Config) *Module {
	m := &Module{r: r, store: store, log: log, limit: cfg.Limit}
	if m.limit <= 0 {
		m.limit = DefaultLimit
	}
	r.Hook(router.Undeliverable, HookPriority, m.undeliverable)
	r.OnAvailable(m.Available)
	r.AddFeature(router.TargetServer, Feature)
	return m
}

// undeliverable stores a message no resource took; one it does not store
// goes on to the router's bounce.
func (m *Module) undeliverable(ctx context.Context, ev *router.Event) router.Verdict {
	if m.Store(ctx, ev.To, ev.Stanza) {
		return router.Handled
	}
	return router.Continue
}

// Store stores msg for user and reports true, or reports false (the
// router then bounces the message
// with service-unavailable) when the sender asked for no storage
// (XEP-0334 <no-store/>), the account's queue is full, or storage failed.
// A standalone chat state notification is discarded without an error
// (XEP-0085 §5.5, XEP-0160 §3) unless it carries a <store/> hint.
func (m *Module) Store(ctx context.Context, user jid.JID, msg *stanza.Element) bool {
	if t := msg.Type(); t != "" && t != "normal" && t != "chat" {
		return false
	}
	hinted := msg.Child(nsHints, "store") != nil
	if !hinted && chatStateOnly(msg) {
		return true
	}
	if msg.Child(nsHints, "no-store") != nil {
		return false
	}
	bare := user.Bare().String()
	if !m.put(ctx, bare, msg) {
		return false
	}
	// A resource may have become available between the router's check
	// and the store; hand the message over now rather than at the next
	// login.
	if res := m.target(bare); res != nil {
		m.deliver(ctx, res)
	}
	return true
}

// put stores msg unless the account's queue is full.
func (m *Module) put(ctx context.Context, bare string, msg *stanza.Element) bool {
	unlock := m.locks.lock(bare)
	defer unlock()
	log := m.log.With().Str("user", bare).Str("from", msg.From()).Logger()
	n, err := m.store.CountOffline(ctx, bare)
	if err != nil {
		log.Error().Err(err).Msg("offline storage failed")
		return false
	}
	if n >= m.limit {
		log.Info().Int("limit", m.limit).Msg("offline queue full, message bounced")
		return false
	}
	if err := m.store.StoreOffline(ctx, bare, msg.Bytes(), time.Now().UTC()); err != nil {
		log.Error().Err(err).Msg("offline storage failed")
		return false
	}
	log.Debug().Msg("message stored offline")
	return true
}

// Available delivers stored messages to a resource that has just sent
// initial available presence, unless its priority is negative (RFC 6121
// §8.5.2: such a resource receives no messages addressed to the bare JID).
func (m *Module) Available(ctx context.Context, res *router.Resource) {
	if res.Priority() < 0 {
		return
	}
	m.deliver(ctx, res)
}

// deliver sends every stored message to res in order, then deletes those
// the session accepted. The per-account lock keeps two resources from
// both receiving the same messages.
func (m *Module) deliver(ctx context.Context, res *router.Resource) {
	bare := res.JID.Bare().String()
	unlock := m.locks.lock(bare)
	defer unlock()
	log := m.log.With().Str("jid", res.JID.String()).Logger()
	msgs, err := m.store.OfflineMessages(ctx, bare)
	if err != nil {
		log.Error().Err(err).Msg("load offline messages failed")
		return
	}
	var upTo int64
	sent := 0
	for _, om := range msgs {
		el, err := stanza.ParseBytes(om.Stanza)
		if err != nil {
			// Unreadable: delivering it is impossible, keeping it would
			// block the queue forever.
			log.Error().Err(err).Int64("id", om.ID).Msg("dropping unreadable offline message")
			upTo = om.ID
			continue
		}
		el.Append(stanza.New(stanza.NSDelay, "delay",
			"from", res.JID.Domainpart(),
			"stamp", om.Stamp.UTC().Format(stanza.StampLayout)).AppendText("Offline Storage"))
		if !m.r.Replay(ctx, res, el) {
			break
		}
		upTo = om.ID
		sent++
	}
	if upTo == 0 {
		return
	}
	if err := m.store.DeleteOffline(ctx, bare, upTo); err != nil {
		log.Error().Err(err).Msg("delete delivered offline messages failed")
		return
	}
	if sent > 0 {
		log.Info().Int("count", sent).Msg("delivered offline messages")
	}
}

// target returns the available non-negative resource with the highest
// priority, or nil.
func (m *Module) target(bare string) *router.Resource {
	var best *router.Resource
	for _, res := range m.r.Resources(bare) {
		if !res.Available() || res.Priority() < 0 {
			continue
		}
		if best == nil || res.Priority() > best.Priority() {
			best = res
		}
	}
	return best
}

// chatStateOnly reports whether msg is a standalone chat state
// notification: a chat state and nothing else but a thread, hints or
// stanza ids.
func chatStateOnly(msg *stanza.Element) bool {
	state := false
	for _, c := range msg.Elements() {
		switch {
		case c.Space == nsChatStates:
			state = true
		case c.Space == "" && c.Local == "thread":
		case c.Space == nsHints:
		case c.Space == "urn:xmpp:sid:0":
		default:
			return false
		}
	}
	return state
}

// keyedMutex is a set of mutexes by key, each existing only while held or
// awaited.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// Spec declares offline message storage (XEP-0160) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "offline", Setup: func(h *module.Host) (any, error) {
		return Register(h.Router, h.Store, h.Log, Config{}), nil
	}}
}
