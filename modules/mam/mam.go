// Package mam implements Message Archive Management (XEP-0313) for
// accounts: every one-to-one message with a body is archived for each
// local party, as it passes through the router, and marked with the
// archive's unique and stable stanza ID (XEP-0359) on its way to the
// recipient; each of a user's clients can then page through the archive
// (XEP-0059) by correspondent, time and ID, and set what is archived.
package mam

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/archive"
	"parley/config"
	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Namespaces.
const (
	NS         = archive.NS
	NSExtended = archive.NSExtended
	NSStanzaID = archive.NSStanzaID
	NSForward  = archive.NSForward
	NSRSM      = archive.NSRSM
	nsHints    = "urn:xmpp:hints"
)

// Store is the storage the module needs.
type Store interface {
	storage.Archives
	storage.Documents
	storage.Rosters
}

// Module archives messages and answers archive queries.
type Module struct {
	r       *router.Router
	store   Store
	writer  *archive.Writer[storage.ArchivedMessage]
	log     zerolog.Logger
	cfg     config.MAM
	prefs   *prefsCache
	maxPage int
}

// Spec declares the message archive as a server module, enabled by
// mam.enabled.
func Spec() module.Spec {
	return module.Spec{
		Name:    "mam",
		Enabled: func(cfg *config.Config) bool { return cfg.MAM.Enabled },
		Setup: func(h *module.Host) (any, error) {
			m := Register(h.Router, h.Store, h.Archive, h.Config.MAM, h.Log)
			if h.Config.MAM.Retention.Duration > 0 {
				h.Go(m.prune)
			}
			return m, nil
		},
	}
}

// Register archives one-to-one messages of local accounts through w into
// store and answers their archive queries and preferences.
func Register(r *router.Router, store Store, w *archive.Writer[storage.ArchivedMessage], cfg config.MAM, log zerolog.Logger) *Module {
	m := &Module{r: r, store: store, writer: w, log: log, cfg: cfg, maxPage: cfg.MaxPage}
	m.prefs = newPrefsCache(store, cfg.Default)
	if m.maxPage <= 0 {
		m.maxPage = 250
	}
	// Outgoing messages are archived before anything else may change
	// them; incoming ones after blocking and the like had their say,
	// just before a resource is chosen (low priority), so the stanza ID
	// is on every copy delivered.
	r.Hook(router.FromSession, 100, m.outgoing)
	r.Hook(router.ToAccount, -100, m.incoming)
	r.HandleIQ(router.TargetAccount, NS, m.handleIQ)
	r.AddFeature(router.TargetAccount, NS)
	r.AddFeature(router.TargetAccount, NSExtended)
	r.AddFeature(router.TargetAccount, NSStanzaID)
	r.OnUnbind(func(_ context.Context, res *router.Resource) {
		if len(r.Resources(res.Bare)) == 0 {
			m.prefs.forget(res.Bare)
		}
	})
	return m
}

// archivable reports whether a message is kept in archives (XEP-0313
// §5.1.1): chat and normal messages with a body, unless hinted otherwise
// (XEP-0334), and any message with a <store/> hint.
func archivable(el *stanza.Element) bool {
	if el.Kind() != "message" {
		return false
	}
	switch el.Type() {
	case "", "normal", "chat":
	default:
		return false
	}
	hinted := false
	for _, c := range el.Children {
		c, ok := c.(*stanza.Element)
		if !ok || c.Space != nsHints {
			continue
		}
		switch c.Local {
		case "no-store", "no-permanent-store":
			return false
		case "store":
			hinted = true
		}
	}
	return hinted || el.Child("", "body") != nil
}

// outgoing archives a message a local user sends, in the sender's archive.
func (m *Module) outgoing(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if !archivable(el) || el.To() == "" {
		return router.Continue
	}
	owner := ev.Session.Bare
	if !m.prefs.archives(ctx, owner, ev.ToBare()) {
		return router.Continue
	}
	id := m.archive(owner, ev.To.String(), el)
	// The sender's other clients get the ID with their sent carbons
	// (XEP-0313 §3), never the recipient.
	archive.NoteID(ev, owner, id)
	return router.Continue
}

// incoming archives a message to a local user, in the recipient's
// archive, and marks it with the archive's stanza ID.
func (m *Module) incoming(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Kind() != "message" {
		return router.Continue
	}
	owner := ev.ToBare()
	// XEP-0359 §3: a stanza ID claiming to be from the recipient's own
	// archive can only be forged; it is removed before delivery.
	stripOwnStanzaIDs(el, owner)
	if !archivable(el) {
		return router.Continue
	}
	from, err := m.r.ParseJID(el.From())
	if err != nil || el.From() == "" {
		return router.Continue
	}
	if !m.prefs.archives(ctx, owner, from.Bare().String()) {
		return router.Continue
	}
	id := m.archive(owner, from.String(), el)
	el.Append(stanza.New(NSStanzaID, "stanza-id", "by", owner, "id", id))
	return router.Continue
}

// archive queues el for the owner's archive and returns its stanza ID.
func (m *Module) archive(owner, with string, el *stanza.Element) string {
	id := archive.NewID()
	m.writer.Append(storage.ArchivedMessage{
		Archive: owner,
		ID:      id,
		With:    with,
		Stanza:  el.Bytes(),
		Stamp:   time.Now().UTC(),
	})
	return id
}

// stripOwnStanzaIDs removes <stanza-id/> elements by the given JID.
func stripOwnStanzaIDs(el *stanza.Element, by string) {
	for i := 0; i < len(el.Children); i++ {
		c, ok := el.Children[i].(*stanza.Element)
		if ok && c.Space == NSStanzaID && c.Local == "stanza-id" && c.Attr("by") == by {
			el.Children = append(el.Children[:i:i], el.Children[i+1:]...)
			i--
		}
	}
}

// prune removes archived messages older than the retention period, once
// an hour, until ctx ends.
func (m *Module) prune(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		cutoff := time.Now().Add(-m.cfg.Retention.Duration)
		if n, err := m.store.PruneArchives(ctx, cutoff); err != nil && ctx.Err() == nil {
			m.log.Error().Err(err).Msg("pruning archives failed")
		} else if n > 0 {
			m.log.Info().Int64("messages", n).Time("before", cutoff).Msg("pruned archived messages past retention")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bareOf parses a JID attribute and returns its bare form, or "".
func bareOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return ""
	}
	return j.Bare().String()
}
