// Package register implements In-Band Registration (XEP-0077) for the
// server's own accounts, with invitations (XEP-0401, XEP-0445):
//
//   - before authentication, on encrypted streams, a client asks for the
//     registration form and submits a username and password, with an
//     invitation token unless [register] open is set; the token comes in
//     the form's token field or, earlier on the stream, in a <preauth/>
//     request. Unless [register] enabled is set, the feature is not
//     offered and requests are refused with not-allowed;
//   - an authenticated user may always change their password (§3.3) and
//     remove their account (§3.2), which deletes it as "parley deluser"
//     does and ends every stream of the account.
//
// Accounts are made, changed and deleted through package account, as on
// the command line.
package register

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"parley/archive"
	"parley/audit"
	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/streamfeature"
)

// Namespaces.
const (
	// NS is the XEP-0077 namespace, of the iq payload and of the disco
	// feature.
	NS = "jabber:iq:register"
	// NSFeature is the namespace of the XEP-0077 stream feature.
	NSFeature = "http://jabber.org/features/iq-register"
	// NSInvite is the namespace of the stream feature saying that
	// invitation tokens are accepted (XEP-0401).
	NSInvite = "urn:xmpp:invite"
	// NSPreauth is the namespace of the <preauth/> request that hands
	// the server a token before registering (XEP-0401, XEP-0445).
	NSPreauth = "urn:xmpp:pars:0"
)

// Spec is the register module: always on, since users may always change
// their password and remove their account; registration of new accounts
// follows [register].
func Spec() module.Spec {
	return module.Spec{
		Name: "register",
		Setup: func(h *module.Host) (any, error) {
			c := h.Config.Register
			m := New(h.Store, h.Archive, Options{
				Enabled:           c.Enabled,
				Open:              c.Open,
				MaxPerAddress:     c.MaxPerAddress,
				Per:               c.Per.Duration,
				MinPasswordLength: c.MinPasswordLength,
				UploadDir:         h.Config.UploadDir(),
				Audit:             h.Audit,
				Log:               h.Log,
			})
			m.Register(h.Router, h.Features)
			h.Go(m.Run)
			return m, nil
		},
	}
}

// Options configure the module.
type Options struct {
	// Enabled offers registration of new accounts.
	Enabled bool
	// Open lets anyone register; otherwise an invitation is needed.
	Open bool
	// MaxPerAddress registrations from one address within Per; 0 means
	// no limit.
	MaxPerAddress int
	Per           time.Duration
	// MinPasswordLength is the fewest characters of a password chosen in
	// band.
	MinPasswordLength int
	// UploadDir holds uploaded files, those of a removed account going
	// too.
	UploadDir string
	// Audit records accounts registered, passwords changed and accounts
	// removed; nil records nothing.
	Audit *audit.Log
	Log   zerolog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Module is the register module.
type Module struct {
	r       *router.Router
	store   storage.Store
	archive *archive.Writer[storage.ArchivedMessage]
	o       Options
	limit   *limiter

	// removals are the accounts being removed, by bare JID: their
	// stanzas are refused until storage has forgotten them.
	mu        sync.Mutex
	removals  map[string]*removal
	nremovals atomic.Int32   // len(removals), read without the lock
	pending   sync.WaitGroup // removals not finished
}

// New returns the module; Register puts it on the router.
func New(store storage.Store, arch *archive.Writer[storage.ArchivedMessage], o Options) *Module {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinPasswordLength < 1 {
		o.MinPasswordLength = 1
	}
	if o.Per <= 0 {
		o.Per = time.Hour
	}
	return &Module{store: store, archive: arch, o: o, limit: newLimiter(o.MaxPerAddress, o.Per), removals: make(map[string]*removal)}
}

// record records ev, by the account itself, in the audit log.
func (m *Module) record(ev audit.Event) {
	ev.Actor = ev.Target
	if err := m.o.Audit.Record(ev); err != nil {
		m.o.Log.Error().Err(err).Str("user", ev.Target).Str("action", ev.Action).Msg("recording in the audit log failed")
	}
}

// hookPriority runs the hooks that refuse the stanzas of an account being
// removed before any other, so that no feature stores anything for it.
const hookPriority = 10000

// Register registers the handlers of authenticated users with r and, when
// registration is enabled, the stream features and handlers of streams
// before authentication with features.
func (m *Module) Register(r *router.Router, features *streamfeature.Registry) {
	m.r = r
	r.HandleIQ(router.TargetAccount, NS, m.handleAccount)
	r.HandleIQ(router.TargetServer, NS, m.handleServer)
	r.AddFeature(router.TargetServer, NS)
	r.Hook(router.FromSession, hookPriority, m.fromRemoved)
	r.Hook(router.ToAccount, hookPriority, m.toRemoved)
	r.OnUnbind(m.unbound)
	// Registration requests are answered even while registration is off,
	// with not-allowed, rather than ending the stream of a client that
	// tries without looking at the stream features.
	features.HandleIQ(NS, m.handleRegistration)
	if m.o.Enabled {
		features.Add(streamfeature.Unauthenticated, stanza.New(NSFeature, "register"))
		features.Add(streamfeature.Unauthenticated, stanza.New(NSInvite, "register"))
		features.HandleIQ(NSPreauth, m.handlePreauth)
	}
}

// Run forgets expired invitations now and then until ctx ends, then
// waits for account removals under way to finish.
func (m *Module) Run(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := m.store.DeleteExpiredInvitations(ctx, m.o.Now()); err != nil && ctx.Err() == nil {
			m.o.Log.Error().Err(err).Msg("deleting expired invitations failed")
		} else if n > 0 {
			m.o.Log.Info().Int64("invitations", n).Msg("deleted expired invitations")
		}
		select {
		case <-ctx.Done():
			m.pending.Wait()
			return
		case <-t.C:
		}
	}
}
