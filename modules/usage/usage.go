// Package usage keeps usage accounting for charge-back: per account and
// UTC day, logins, messages sent and received (one-to-one between
// accounts of this server, group chat, federated), files uploaded and
// when the account was last seen. `parley usage` reports them per user
// and per domain.
//
// Only messages that carry content count (stanza.MessageContent): chat
// states, receipts and markers do not, nor errors, nor what another hook
// refused or dropped (blocking). Groupchat messages, and private messages
// through this server's group-chat service, count as group chat; others
// to or from another server or an external component as federated. A
// message counts once per account, however many of its resources it
// reaches; group-chat history replayed on joining a room and a room's
// echo of the sender's own message (told by its id or origin-id) are not
// counted as received.
//
// Counting costs the message path an atomic add: the counts gather in
// memory and are added to storage (storage.Usage) in one batch every
// FlushInterval, at midnight UTC and at shutdown. A crash loses the counts
// of the last seconds since the last batch.
package usage

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/upload"
)

// FlushInterval is how often the counts are added to storage.
const FlushInterval = 10 * time.Second

// seenRefresh is how often the last seen time of an account that stays
// online is stored again.
const seenRefresh = 5 * time.Minute

// hookPriority runs the counting hooks after every other hook: what
// another hook refuses or drops (a blocked contact's message, say) is not
// counted.
const hookPriority = -1000

const (
	nsDelay = "urn:xmpp:delay"
	nsSID   = "urn:xmpp:sid:0"
)

// Module counts usage. Its instance in the server is the *Module.
type Module struct {
	r     *router.Router
	store storage.Usage
	log   zerolog.Logger
	muc   string // the group-chat service's domain, "" if none
	now   func() time.Time

	accounts *table

	flushMu sync.Mutex
	day     time.Time // the day of the counts gathered since the last flush
	retired []entry   // taken out of accounts at the last flush, read once more
}

// Options configure a Module.
type Options struct {
	// MUCDomain is the domain of the group-chat service; messages to and
	// from it count as group chat. Empty: there is none.
	MUCDomain string
	Log       zerolog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// New returns a module that stores its counts in store; Register puts it
// on the router.
func New(store storage.Usage, o Options) *Module {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Module{store: store, log: o.Log, muc: o.MUCDomain, now: o.Now, accounts: newTable(), day: storage.Day(o.Now())}
}

// Register counts what passes r: logins, and messages at the end of the
// FromSession and ToAccount hooks; it forgets deleted accounts.
func (m *Module) Register(r *router.Router) {
	m.r = r
	r.Hook(router.FromSession, hookPriority, m.fromSession)
	r.Hook(router.ToAccount, hookPriority, m.toAccount)
	r.OnBind(m.bound)
	r.OnUnbind(m.unbound)
	// A deleted account's counts go with it (storage skips any that come
	// after).
	r.OnAccountDeleted(func(_ context.Context, bare jid.JID) { m.accounts.forget(bare.String()) })
}

// Spec declares usage accounting as a server module, always on. It
// counts the uploads of the upload service, when that is set up before
// it.
func Spec() module.Spec {
	return module.Spec{Name: "usage", Setup: func(h *module.Host) (any, error) {
		m := New(h.Store, Options{MUCDomain: h.Config.MUC.Domain, Log: h.Log})
		m.Register(h.Router)
		if up, ok := h.Instance("upload").(*upload.Service); ok {
			up.Observe(m.Uploaded)
		}
		h.Go(m.Run)
		return m, nil
	}}
}

// bound counts a login.
func (m *Module) bound(_ context.Context, res *router.Resource) {
	a := m.accounts.get(res.Bare)
	a.add(logins, 1)
	a.see(m.now().UnixNano())
}

// unbound records the time a resource went away.
func (m *Module) unbound(_ context.Context, res *router.Resource) {
	m.accounts.get(res.Bare).see(m.now().UnixNano())
}

// Uploaded counts a file of size bytes that owner (a bare JID) uploaded.
func (m *Module) Uploaded(owner string, size int64) {
	a := m.accounts.get(owner)
	a.add(uploads, 1)
	a.add(uploadBytes, size)
}

// fromSession counts what a local user sends elsewhere than to an
// account of this server, which toAccount counts once the account is
// known to exist.
func (m *Module) fromSession(_ context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Kind() != "message" {
		return router.Continue
	}
	typ := el.Type()
	domain := ev.To.Domainpart()
	if typ == "error" || domain == "" || m.r.Serves(domain) || !stanza.MessageContent(el).Any() {
		return router.Continue
	}
	a := m.accounts.get(ev.Session.Bare)
	switch {
	case typ == "groupchat":
		a.add(groupSent, 1)
		// The room's echo of it is not counted as received.
		a.firstTime(groupMessage{ev.ToBare(), messageID(el, "")})
	case domain == m.muc && m.muc != "":
		a.add(groupSent, 1) // a private message through a room
	default:
		a.add(federatedSent, 1)
	}
	return router.Continue
}

// toAccount counts a message to an existing local account: received by
// it, and sent by its sender when that is a local client.
func (m *Module) toAccount(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Kind() != "message" {
		return router.Continue
	}
	typ := el.Type()
	if typ == "error" || !stanza.MessageContent(el).Any() || router.Rerouted(ctx) {
		return router.Continue
	}
	if ev.Session != nil {
		m.accounts.get(ev.Session.Bare).add(oneToOneSent, 1)
		m.accounts.get(ev.ToBare()).add(oneToOneReceived, 1)
		return router.Continue
	}
	from, _, _ := strings.Cut(el.From(), "/")
	local, domain, ok := strings.Cut(from, "@")
	if !ok {
		domain, local = local, ""
	}
	switch {
	case typ == "groupchat" || (domain == m.muc && m.muc != ""):
		// A room's message, or a private message through a room: a copy
		// reaches each of the account's resources in the room.
		if typ == "groupchat" && el.Child(nsDelay, "delay") != nil {
			return router.Continue // history replayed to a joining occupant
		}
		a := m.accounts.get(ev.ToBare())
		if a.firstTime(groupMessage{from, messageID(el, from)}) {
			a.add(groupReceived, 1)
		}
	case m.r.Serves(domain):
		if local != "" { // not the server's own notices
			m.accounts.get(ev.ToBare()).add(oneToOneReceived, 1)
		}
	default:
		m.accounts.get(ev.ToBare()).add(federatedReceived, 1)
	}
	return router.Continue
}

// messageID identifies a group-chat message: its id, which rooms keep
// from the sender, else its origin-id (XEP-0359), which they keep too,
// else the stanza ID that room gave it (room "": none).
func messageID(el *stanza.Element, room string) string {
	if id := el.ID(); id != "" {
		return id
	}
	var sid string
	for _, n := range el.Children {
		c, ok := n.(*stanza.Element)
		if !ok || c.Space != nsSID {
			continue
		}
		switch {
		case c.Local == "origin-id":
			return "origin " + c.Attr("id")
		case c.Local == "stanza-id" && room != "" && c.Attr("by") == room:
			sid = "stanza " + c.Attr("id")
		}
	}
	return sid
}

// Run adds the counts to storage every FlushInterval and at midnight
// UTC, and once more when ctx ends.
func (m *Module) Run(ctx context.Context) {
	for {
		now := m.now()
		wait := FlushInterval
		if untilMidnight := storage.Day(now).Add(24 * time.Hour).Sub(now); untilMidnight < wait {
			wait = untilMidnight + time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			m.flushLogged(fctx)
			cancel()
			return
		case <-t.C:
			m.flushLogged(ctx)
		}
	}
}

func (m *Module) flushLogged(ctx context.Context) {
	if err := m.Flush(ctx); err != nil {
		m.log.Error().Err(err).Msg("storing usage counts failed; they are kept for the next try")
	}
}

// Flush adds the counts gathered since the last flush to storage, as the
// usage of the day they were gathered on. Accounts online are seen now
// (every seenRefresh, and on each new day). Counts that cannot be stored
// are kept for the next flush.
func (m *Module) Flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := m.now()
	day := m.day
	m.day = storage.Day(now)
	online := m.seeOnline(now, day)

	var recs []storage.UsageRecord
	take := func(e entry) bool {
		rec, ok := e.a.take(day)
		if ok {
			rec.User = e.user
			recs = append(recs, rec)
		}
		return ok
	}
	for _, e := range m.retired {
		take(e)
	}
	m.retired = m.retired[:0]
	for _, e := range m.accounts.entries() {
		if take(e) {
			continue
		}
		if _, on := slices.BinarySearch(online, e.user); !on {
			// Idle and offline: forgotten, after one more look in case
			// a hook was adding to it meanwhile.
			m.accounts.remove(e)
			m.retired = append(m.retired, e)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	if err := m.store.AddUsage(ctx, recs); err != nil {
		for _, rec := range recs {
			m.accounts.get(rec.User).putBack(rec)
		}
		return err
	}
	return nil
}

// seeOnline marks the accounts with a connected resource seen at now,
// those whose last seen time stored is older than seenRefresh or of a day
// before day, and returns the bound accounts, sorted.
func (m *Module) seeOnline(now, day time.Time) []string {
	bound := m.r.Bound()
	for _, user := range bound {
		a := m.accounts.get(user)
		if w := a.written; w != 0 && now.UnixNano()-w < int64(seenRefresh) && !time.Unix(0, w).Before(day) {
			continue
		}
		for _, res := range m.r.Resources(user) {
			if !res.Waiting() {
				a.see(now.UnixNano())
				break
			}
		}
	}
	return bound
}
