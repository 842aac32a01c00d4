// Package lastactivity implements Last Activity (XEP-0012): the server's
// uptime, and for a local account how long ago its last resource went
// offline.
package lastactivity

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// NS is the XEP-0012 namespace.
const NS = "jabber:iq:last"

// Store is the storage the module needs: logout records, and rosters to
// decide who may see them.
type Store interface {
	storage.LastActivity
	storage.Rosters
}

type activity struct {
	r       *router.Router
	store   Store
	log     zerolog.Logger
	started time.Time
	// logouts batches the logout records; nil: each is stored at once.
	logouts *logouts
}

// Register answers jabber:iq:last queries to served domains (uptime since
// Register) and to local accounts, records the time an account's last
// resource goes away, and advertises the feature on both targets.
//
// An account query is answered only to the account itself, its server and
// contacts with a presence subscription ("from" or "both"); others get
// forbidden (XEP-0012 §3). The answer is 0 seconds while the account has
// an available resource, item-not-found if it never logged out. The
// recorded status text is empty: by the time a resource is unbound its
// unavailable presence, if any, has already cleared its state.
//
// Register stores each logout as it happens; the server's module (Spec)
// stores them in batches.
func Register(r *router.Router, store Store, log zerolog.Logger) {
	newActivity(r, store, log).register()
}

func newActivity(r *router.Router, store Store, log zerolog.Logger) *activity {
	return &activity{r: r, store: store, log: log, started: time.Now()}
}

func (m *activity) register() {
	m.r.HandleIQ(router.TargetServer, NS, m.server)
	m.r.HandleIQ(router.TargetAccount, NS, m.account)
	m.r.AddFeature(router.TargetServer, NS)
	m.r.AddFeature(router.TargetAccount, NS)
	m.r.OnUnbind(m.unbound)
}

func (m *activity) server(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	return query(time.Since(m.started), ""), nil
}

func (m *activity) account(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if err := guard.Get(iq, "query"); err != nil {
		return nil, err
	}
	ok, err := guard.SeesPresence(ctx, m.store, iq.To, iq.From)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stanza.Err("forbidden")
	}
	for _, res := range m.r.Resources(iq.To.String()) {
		if res.Available() {
			return query(0, ""), nil
		}
	}
	at, status, err := m.lastLogout(ctx, iq.To.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, stanza.ErrText("item-not-found", "no recorded logout")
	}
	if err != nil {
		return nil, err
	}
	return query(time.Since(at), status), nil
}

// unbound records the logout when the account's last resource is gone.
func (m *activity) unbound(ctx context.Context, res *router.Resource) {
	bare := res.JID.Bare().String()
	if len(m.r.Resources(bare)) > 0 {
		return
	}
	at, status := time.Now().UTC(), res.LastStatus()
	if m.logouts != nil {
		m.logouts.note(ctx, storage.Logout{User: bare, At: at, Status: status})
		return
	}
	if err := m.store.SetLastActivity(ctx, bare, at, status); err != nil {
		m.log.Error().Err(err).Str("user", bare).Msg("record last activity failed")
	}
}

// lastLogout returns user's last logout, from the batch not stored yet
// if it is there.
func (m *activity) lastLogout(ctx context.Context, user string) (time.Time, string, error) {
	if m.logouts != nil {
		if l, ok := m.logouts.get(user); ok {
			return l.At, l.Status, nil
		}
	}
	return m.store.LastActivity(ctx, user)
}

func query(d time.Duration, status string) *stanza.Element {
	secs := max(int64(d/time.Second), 0)
	return stanza.New(NS, "query", "seconds", strconv.FormatInt(secs, 10)).AppendText(status)
}

// Spec declares Last Activity (XEP-0012) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "lastactivity", Setup: func(h *module.Host) (any, error) {
		m := newActivity(h.Router, h.Store, h.Log)
		// Logouts are stored in batches: a server whose clients come
		// and go makes one write per batch instead of one per logout.
		m.logouts = newLogouts(h.Store, h.Log)
		m.register()
		h.Router.OnAccountDeleted(func(_ context.Context, bare jid.JID) { m.logouts.forget(bare.String()) })
		h.Go(m.logouts.run)
		return nil, nil
	}}
}
