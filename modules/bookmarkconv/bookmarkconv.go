// Package bookmarkconv keeps an account's chat room bookmarks the same in
// the three places clients of different generations keep them (XEP-0411,
// XEP-0402 §"Compatibility"): the XEP-0048 <storage/> in private XML
// storage (XEP-0049), the XEP-0402 node with one item per room, and the
// XEP-0048 node of personal eventing (through XEP-0223).
//
// The XEP-0402 node is where conferences live:
//
//   - When a client stores bookmarks in private storage, each conference
//     is published to the XEP-0402 node (an item whose content changed,
//     or a new one) and the node's other items are retracted, so that the
//     node matches; the node is created whitelisted, keeping as many
//     items as the server allows. The XEP-0048 node gets the whole list,
//     which notifies its subscribers.
//   - When a client publishes or retracts on the XEP-0402 node, the
//     private <storage/> is rewritten with the node's conferences (URL
//     bookmarks and other content are kept), and so is the XEP-0048
//     node's item if the account has that node.
//   - When a client publishes the XEP-0048 node, the list replaces the
//     XEP-0402 node's items as a private storage set does, unless the
//     publish created the node: a client that found no such node knew no
//     bookmarks to remove, so its list is added to the others. Retracting
//     its item empties the list.
//
// Bookmarks an account kept in private storage before the bridge existed
// are converted when the account next comes online, if it has no
// XEP-0402 node yet.
//
// Names, autojoin, nicknames, passwords and extension elements carry
// over. What the bridge changes itself is not bridged back, so nothing
// loops. If a client made the XEP-0402 node readable by others, the
// bridge does not publish to it, as XEP-0411 requires.
package bookmarkconv

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/modules/pep"
	"parley/modules/private"
	"parley/pubsub"
	"parley/router"
	"parley/stanza"
)

// Name is the module's name.
const Name = "bookmarkconv"

// Spec declares the bookmarks bridge as a server module; it needs the
// pep and private modules, set up before it.
func Spec() module.Spec {
	return module.Spec{Name: Name, Setup: func(h *module.Host) (any, error) {
		svc, _ := h.Instance(pep.Name).(*pubsub.Service)
		priv, _ := h.Instance(private.Name).(*private.Storage)
		if svc == nil || priv == nil {
			return nil, errors.New("needs the pep and private modules")
		}
		return Register(h.Router, svc, priv, h.Log), nil
	}}
}

// Bridge converts bookmarks between their three forms.
type Bridge struct {
	svc  *pubsub.Service
	priv *private.Storage
	log  zerolog.Logger

	seed  maphash.Seed
	locks [64]sync.Mutex // per account: one conversion at a time

	mu      sync.Mutex
	checked map[string]bool // bare JIDs with a bound resource whose stored bookmarks were looked at
}

// Register installs the bridge: it observes private storage and personal
// eventing, and advertises XEP-0411 and XEP-0402's compatibility features
// on accounts.
func Register(r *router.Router, svc *pubsub.Service, priv *private.Storage, log zerolog.Logger) *Bridge {
	b := &Bridge{svc: svc, priv: priv, log: log, seed: maphash.MakeSeed(), checked: make(map[string]bool)}
	priv.Observe(NSLegacy, b.privateStored)
	svc.Observe(b.published)
	r.OnAvailable(b.available)
	r.OnUnbind(func(_ context.Context, res *router.Resource) {
		if len(r.Resources(res.Bare)) == 0 {
			b.mu.Lock()
			delete(b.checked, res.Bare)
			b.mu.Unlock()
		}
	})
	for _, f := range []string{FeatureConversion, FeatureCompat, FeatureCompatPEP} {
		r.AddFeature(router.TargetAccount, f)
	}
	return b
}

// bridgingKey marks the context of the bridge's own changes, which its
// observers ignore.
type bridgingKey struct{}

func bridging(ctx context.Context) bool { return ctx.Value(bridgingKey{}) != nil }

func (b *Bridge) lock(user jid.JID) func() {
	m := &b.locks[maphash.String(b.seed, user.String())%uint64(len(b.locks))]
	m.Lock()
	return m.Unlock
}

// nativeOptions are the publish-options of the bridge's publishes to the
// XEP-0402 node: it keeps every room, for the owner only (XEP-0411 §5).
func nativeOptions() pubsub.PublishOptions {
	return pubsub.PublishOptions{"pubsub#access_model": {pubsub.AccessWhitelist}, "pubsub#max_items": {"max"}}
}

// legacyOptions are those of its publishes to the XEP-0048 node.
func legacyOptions() pubsub.PublishOptions {
	return pubsub.PublishOptions{"pubsub#access_model": {pubsub.AccessWhitelist}}
}

// privateStored follows a client's private storage set of bookmarks.
func (b *Bridge) privateStored(ctx context.Context, user jid.JID, stored *stanza.Element) {
	list := stored.Child(NSLegacy, "storage")
	if list == nil {
		return // not a bookmarks list
	}
	user = user.Bare()
	ctx = context.WithValue(ctx, bridgingKey{}, true)
	defer b.lock(user)()
	confs, _ := splitLegacy(list)
	if err := b.syncNative(ctx, user, confs, true); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks from private storage not converted")
		return
	}
	if err := b.rewriteLegacy(ctx, user, true); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks: XEP-0048 node not updated")
	}
}

// available converts the bookmarks an account kept in private storage
// before the bridge existed when one of its resources becomes available
// and it has no XEP-0402 node yet (XEP-0411 §4), so that clients relying
// on personal eventing find them. It looks once while the account has a
// bound resource.
func (b *Bridge) available(ctx context.Context, res *router.Resource) {
	b.mu.Lock()
	done := b.checked[res.Bare]
	b.checked[res.Bare] = true
	b.mu.Unlock()
	if done {
		return
	}
	user := res.JID.Bare()
	stored, err := b.priv.Get(ctx, user, NSLegacy, "storage")
	if err != nil {
		b.log.Error().Err(err).Str("user", user.String()).Msg("bookmarks: private storage")
		return
	}
	confs, _ := splitLegacy(stored.Child(NSLegacy, "storage"))
	if len(confs) == 0 {
		return
	}
	ctx = context.WithValue(ctx, bridgingKey{}, true)
	defer b.lock(user)()
	if _, err := b.svc.Items(ctx, user, NodeNative, nil, 1); !isCondition(err, "item-not-found") {
		return // converted already, or unreadable
	}
	if err := b.syncNative(ctx, user, confs, false); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("stored bookmarks not converted")
		return
	}
	if err := b.rewriteLegacy(ctx, user, true); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks: XEP-0048 node not updated")
	}
}

// published follows a client's changes to the bookmark nodes.
func (b *Bridge) published(ctx context.Context, ev pubsub.Event) {
	if bridging(ctx) || (ev.Node != NodeNative && ev.Node != NodeLegacy) {
		return
	}
	user := ev.Owner.Bare()
	ctx = context.WithValue(ctx, bridgingKey{}, true)
	defer b.lock(user)()
	if ev.Node == NodeNative {
		if err := b.rewriteLegacy(ctx, user, false); err != nil {
			b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks: XEP-0402 change not converted")
		}
		return
	}
	var list *stanza.Element
	if !ev.Retracted && ev.Item.Payload != nil && ev.Item.Payload.Space == NSLegacy && ev.Item.Payload.Local == "storage" {
		list = ev.Item.Payload
	} else if !ev.Retracted {
		return // not a bookmarks list
	}
	confs, others := splitLegacy(list)
	if err := b.syncNative(ctx, user, confs, !ev.Created); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks from the XEP-0048 node not converted")
		return
	}
	if err := b.priv.Put(ctx, user, NSLegacy, legacyStorage(confs, others)); err != nil {
		b.log.Error().Err(err).Str("user", user.String()).Msg("bookmarks: private storage not updated")
		return
	}
	if err := b.rewriteLegacy(ctx, user, false); err != nil {
		b.log.Warn().Err(err).Str("user", user.String()).Msg("bookmarks: XEP-0048 node not updated")
	}
}

// syncNative makes the XEP-0402 node hold confs: it publishes the new and
// changed ones and, with replace, retracts the rooms not among them.
func (b *Bridge) syncNative(ctx context.Context, user jid.JID, confs []bookmark, replace bool) error {
	current, err := b.native(ctx, user)
	if err != nil {
		return err
	}
	have := make(map[string]bookmark, len(current))
	for _, c := range current {
		have[c.jid] = c
	}
	want := make(map[string]bool, len(confs))
	for _, c := range confs {
		want[c.jid] = true
		if old, ok := have[c.jid]; ok && same(old, c) {
			continue
		}
		if _, err := b.svc.Publish(ctx, user, NodeNative, c.jid, c.native(), nativeOptions()); err != nil {
			return err
		}
	}
	if !replace {
		return nil
	}
	for _, c := range current {
		if want[c.jid] {
			continue
		}
		if err := b.svc.Retract(ctx, user, NodeNative, c.jid, true); err != nil && !isCondition(err, "item-not-found") {
			return err
		}
	}
	return nil
}

// native returns the bookmarks of the XEP-0402 node, oldest first; none
// if there is no such node.
func (b *Bridge) native(ctx context.Context, user jid.JID) ([]bookmark, error) {
	items, err := b.svc.Items(ctx, user, NodeNative, nil, 0)
	if isCondition(err, "item-not-found") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]bookmark, 0, len(items))
	for _, it := range items {
		if c, ok := fromNative(it.ID, it.Payload); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// rewriteLegacy writes the XEP-0402 node's conferences, with the other
// content private storage keeps, to private storage and to the XEP-0048
// node: to that node only if it exists (or with create) and its item
// differs.
func (b *Bridge) rewriteLegacy(ctx context.Context, user jid.JID, create bool) error {
	confs, err := b.native(ctx, user)
	if err != nil {
		return err
	}
	stored, err := b.priv.Get(ctx, user, NSLegacy, "storage")
	if err != nil {
		return err
	}
	_, others := splitLegacy(stored.Child(NSLegacy, "storage"))
	list := legacyStorage(confs, others)
	if err := b.priv.Put(ctx, user, NSLegacy, list); err != nil {
		return err
	}
	items, err := b.svc.Items(ctx, user, NodeLegacy, nil, 1)
	switch {
	case isCondition(err, "item-not-found"):
		if !create {
			return nil
		}
	case err != nil:
		return err
	case len(items) == 1 && items[0].Payload != nil && normalized(items[0].Payload) == list.String():
		return nil
	}
	_, err = b.svc.Publish(ctx, user, NodeLegacy, legacyItemID, list, legacyOptions())
	return err
}

// normalized renders a XEP-0048 <storage/> as the bridge writes it, so
// that lists differing only in form compare equal.
func normalized(list *stanza.Element) string {
	if list.Space != NSLegacy || list.Local != "storage" {
		return ""
	}
	return legacyStorage(splitLegacy(list)).String()
}

// isCondition reports whether err is a stanza error of condition.
func isCondition(err error, condition string) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == condition
}
