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
func Register(r *router.Router, store Store, log zerolog.Logger) {
	m := &activity{r: r, store: store, log: log, started: time.Now()}
	r.HandleIQ(router.TargetServer, NS, m.server)
	r.HandleIQ(router.TargetAccount, NS, m.account)
	r.AddFeature(router.TargetServer, NS)
	r.AddFeature(router.TargetAccount, NS)
	r.OnUnbind(m.unbound)
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
	at, status, err := m.store.LastActivity(ctx, iq.To.String())
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
	if err := m.store.SetLastActivity(ctx, bare, time.Now().UTC(), res.LastStatus()); err != nil {
		m.log.Error().Err(err).Str("user", bare).Msg("record last activity failed")
	}
}

func query(d time.Duration, status string) *stanza.Element {
	secs := max(int64(d/time.Second), 0)
	return stanza.New(NS, "query", "seconds", strconv.FormatInt(secs, 10)).AppendText(status)
}

// Spec declares Last Activity (XEP-0012) as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "lastactivity", Setup: func(h *module.Host) (any, error) {
		Register(h.Router, h.Store, h.Log)
		return nil, nil
	}}
}
