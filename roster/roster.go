// Package roster implements rosters and presence (RFC 6121): the
// jabber:iq:roster namespace with roster versioning (XEP-0237), the
// presence subscription state machine of RFC 6121 §3 and Appendix A
// (including pre-approval), and presence broadcast, probes and directed
// presence (§4). It is one module: Register hooks it into the router as the
// router's presence handler.
package roster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/streamfeature"
)

// NS is the roster namespace.
const NS = "jabber:iq:roster"

// Limits on roster item fields; longer values are refused with
// not-acceptable (RFC 6121 §2.3.3).
const (
	MaxNameLength  = 1024 // bytes of an item's name attribute
	MaxGroupLength = 1024 // bytes of one group name
)

// Store is the storage the module needs.
type Store interface {
	storage.Rosters
	storage.Subscriptions
}

// Module is the roster and presence module. It implements
// router.PresenceHandler.
type Module struct {
	r     *router.Router
	store Store
	cache *cachedStore // the same store, with online users' rosters in memory
	log   zerolog.Logger

	// locks serialize read-modify-write of one user's roster items; a
	// user maps to one stripe. No lock is held while stanzas are
	// delivered, so handlers of two users never wait on each other.
	locks [64]sync.Mutex

	idPrefix string
	ids      atomic.Uint64
}

var _ router.PresenceHandler = (*Module)(nil)

// New returns the module without registering it.
func New(r *router.Router, store Store, log zerolog.Logger) *Module {
	var b [4]byte
	rand.Read(b[:])
	cache := newCachedStore(store, 1<<17)
	return &Module{r: r, store: cache, cache: cache, log: log, idPrefix: "push-" + hex.EncodeToString(b[:]) + "-"}
}

// Register creates the module and hooks it into r: the jabber:iq:roster
// handler for accounts, the presence handler, and the unbind hook that
// turns a vanished resource into unavailable presence.
func Register(r *router.Router, store Store, log zerolog.Logger) *Module {
	m := New(r, store, log)
	r.HandleIQ(router.TargetAccount, NS, m.handleIQ)
	r.SetPresenceHandler(m)
	r.OnUnbind(m.unbound)
	return m
}

// lock locks user's roster stripe and returns the unlock function.
func (m *Module) lock(user string) func() {
	h := fnv.New32a()
	h.Write([]byte(user))
	mu := &m.locks[h.Sum32()%uint32(len(m.locks))]
	mu.Lock()
	return mu.Unlock
}

func (m *Module) nextID() string {
	return m.idPrefix + strconv.FormatUint(m.ids.Add(1), 10)
}

// push sends a roster push carrying item at version ver to every
// interested resource of user (RFC 6121 §2.1.6).
func (m *Module) push(ctx context.Context, user string, item *stanza.Element, ver int64) {
	q := stanza.New(NS, "query", "ver", strconv.FormatInt(ver, 10)).Append(item)
	for _, res := range m.r.Resources(user) {
		if !res.Interested() {
			continue
		}
		iq := stanza.New("", "iq", "type", "set", "id", m.nextID(), "to", res.JID.String()).Append(q)
		m.r.Send(ctx, res, iq)
	}
}

// itemElement renders a stored roster item.
func itemElement(it storage.RosterItem) *stanza.Element {
	el := stanza.New(NS, "item", "jid", it.JID)
	if it.Name != "" {
		el.SetAttr("name", it.Name)
	}
	sub := it.Subscription
	if sub == "" {
		sub = "none"
	}
	el.SetAttr("subscription", sub)
	if it.Ask {
		el.SetAttr("ask", "subscribe")
	}
	if it.PreApproved {
		el.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(stanza.New(NS, "group").AppendText(g))
	}
	return el
}

// unbound handles a resource that is gone: if it was available or sent
// directed presence, its contacts and directed-presence targets learn it
// is unavailable exactly as if it had said so (RFC 6121 §4.5.2).
func (m *Module) unbound(ctx context.Context, res *router.Resource) {
	p := stanza.New("", "presence", "type", "unavailable", "from", res.JID.String())
	m.unavailable(ctx, res, p)
	if user := res.JID.Bare().String(); len(m.r.Resources(user)) == 0 {
		m.cache.forget(user)
	}
}

// Spec declares rosters and presence (RFC 6121) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "roster", Setup: func(h *module.Host) (any, error) {
		// Roster versioning (XEP-0237) and subscription pre-approval
		// (RFC 6121 §3.4) are announced as stream features.
		h.Features.Add(streamfeature.Authenticated, stanza.New("urn:xmpp:features:rosterver", "ver"))
		h.Features.Add(streamfeature.Authenticated, stanza.New("urn:xmpp:features:pre-approval", "sub"))
		return Register(h.Router, h.Store, h.Log), nil
	}}
}
