// Package avatarconv keeps an account's avatar the same in personal
// eventing (User Avatar, XEP-0084) and in its vCard (vCard-Based
// Avatars, XEP-0153), as XEP-0398 describes, and puts the avatar's hash
// in the presence its clients send.
//
//   - When a client publishes avatar metadata, the image of its first
//     <info/> without a URL is taken from the data node, checked against
//     its SHA-1 ID, and stored as the vCard's PHOTO (TYPE and BINVAL).
//     Metadata without such an info removes the PHOTO.
//   - When a client stores a vCard with an embedded PHOTO, the image is
//     published to the data node and then described in the metadata node
//     (ID the image's SHA-1; bytes, type, and width and height for PNG
//     and JPEG), which notifies the metadata's subscribers. A vCard
//     without one disables the published avatar with empty metadata.
//   - Every available presence a client sends, broadcast or directed (a
//     room join), carries <x xmlns='vcard-temp:x:update'><photo/></x>
//     with the avatar's SHA-1 (empty for none), added or corrected;
//     a client's empty <photo/> is left alone (XEP-0398 §4). The hash of
//     each account with a bound resource is kept in memory: read from
//     the vCard on the first presence, then updated on every change. As
//     XEP-0398 §5 says, the server does not resend presence when the
//     avatar changes: the client's next presence carries the new hash.
//
// What the converter changes itself is not converted back, so nothing
// loops; an image already in place is not written again.
package avatarconv

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/module"
	"parley/modules/pep"
	"parley/modules/vcard"
	"parley/pubsub"
	"parley/router"
	"parley/stanza"
)

// Name is the module's name.
const Name = "avatarconv"

// Spec declares the avatar converter as a server module; it needs the
// pep and vcard modules, set up before it.
func Spec() module.Spec {
	return module.Spec{Name: Name, Setup: func(h *module.Host) (any, error) {
		svc, _ := h.Instance(pep.Name).(*pubsub.Service)
		cards, _ := h.Instance(vcard.Name).(*vcard.Store)
		if svc == nil || cards == nil {
			return nil, errors.New("needs the pep and vcard modules")
		}
		return Register(h.Router, svc, cards, h.Log), nil
	}}
}

// Converter converts avatars between personal eventing and vCards and
// stamps presence with their hash.
type Converter struct {
	r     *router.Router
	svc   *pubsub.Service
	cards *vcard.Store
	log   zerolog.Logger

	seed  maphash.Seed
	locks [64]sync.Mutex // per account: one conversion at a time

	mu     sync.Mutex
	hashes map[string]string // bare JID -> avatar SHA-1, "" for none
	gen    uint64            // counts hash changes, so a slow load does not cache a stale hash
}

// Register installs the converter: it observes the metadata node and
// vCards, stamps presence from local sessions, and advertises XEP-0398 on
// accounts.
func Register(r *router.Router, svc *pubsub.Service, cards *vcard.Store, log zerolog.Logger) *Converter {
	c := &Converter{r: r, svc: svc, cards: cards, log: log, seed: maphash.MakeSeed(), hashes: make(map[string]string)}
	svc.Observe(c.published)
	cards.Observe(c.cardStored)
	r.Hook(router.FromSession, 0, c.presence)
	r.OnUnbind(func(_ context.Context, res *router.Resource) {
		if len(r.Resources(res.Bare)) == 0 {
			c.forget(res.Bare)
		}
	})
	r.OnAccountDeleted(func(_ context.Context, bare jid.JID) { c.forget(bare.String()) })
	r.AddFeature(router.TargetAccount, Feature)
	return c
}

// convertingKey marks the context of the converter's own publishes, which
// its observer ignores.
type convertingKey struct{}

func (c *Converter) lock(user jid.JID) func() {
	m := &c.locks[maphash.String(c.seed, user.String())%uint64(len(c.locks))]
	m.Lock()
	return m.Unlock
}

// Hash returns the SHA-1 of user's avatar in hex, "" if it has none: the
// remembered one, or the one of its vCard, remembered while user has a
// bound resource.
func (c *Converter) Hash(ctx context.Context, user jid.JID) (string, error) {
	key := user.Bare().String()
	c.mu.Lock()
	h, ok := c.hashes[key]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	card, err := c.cards.Get(ctx, user)
	if err != nil {
		return "", err
	}
	if a, ok := fromVCard(card); ok {
		h = a.hash()
	}
	c.mu.Lock()
	if cur, ok := c.hashes[key]; ok {
		h = cur
	} else if c.gen == gen && len(c.r.Resources(key)) > 0 {
		c.hashes[key] = h
	}
	c.mu.Unlock()
	return h, nil
}

// setHash records user's new avatar hash, if it is remembered.
func (c *Converter) setHash(user jid.JID, h string) {
	key := user.Bare().String()
	c.mu.Lock()
	c.gen++
	if _, ok := c.hashes[key]; ok {
		c.hashes[key] = h
	}
	c.mu.Unlock()
}

func (c *Converter) forget(bare string) {
	c.mu.Lock()
	delete(c.hashes, bare)
	c.mu.Unlock()
}

// presence adds or corrects the avatar hash of available presence from a
// local session (XEP-0398 §4).
func (c *Converter) presence(ctx context.Context, ev *router.Event) router.Verdict {
	p := ev.Stanza
	if p.Local != "presence" || p.Space != "" || ev.Session == nil || p.HasAttr("type") {
		return router.Continue
	}
	x := p.Child(NSUpdate, "x")
	var photo *stanza.Element
	if x != nil {
		photo = x.Child(NSUpdate, "photo")
	}
	if photo != nil && strings.TrimSpace(photo.Text()) == "" {
		return router.Continue // the client says it has none, or is not ready
	}
	h, err := c.Hash(ctx, ev.Session.JID)
	if err != nil {
		c.log.Error().Err(err).Str("user", ev.Session.Bare).Msg("avatar hash for presence")
		return router.Continue
	}
	if photo != nil && strings.EqualFold(strings.TrimSpace(photo.Text()), h) {
		return router.Continue
	}
	if x == nil {
		x = stanza.New(NSUpdate, "x")
		p.Append(x)
	}
	if photo == nil {
		photo = stanza.New(NSUpdate, "photo")
		x.Append(photo)
	}
	photo.Children = nil
	photo.AppendText(h)
	return router.Continue
}

// published follows a client's publishes and retractions of avatar
// metadata into the vCard (XEP-0398 §3.1).
func (c *Converter) published(ctx context.Context, ev pubsub.Event) {
	if ev.Node != NSMetadata || ctx.Value(convertingKey{}) != nil {
		return
	}
	user := ev.Owner.Bare()
	defer c.lock(user)()
	md := ev.Item.Payload
	if ev.Retracted {
		// The avatar is what the node's last item, if any, describes.
		md = nil
		items, err := c.svc.Items(ctx, user, NSMetadata, nil, 1)
		if err == nil && len(items) == 1 {
			md = items[0].Payload
		}
	} else if md == nil || md.Space != NSMetadata || md.Local != "metadata" {
		return
	}
	var a avatar
	if info := embeddedInfo(md); info != nil {
		var ok bool
		if a, ok = c.image(ctx, user, info); !ok {
			return
		}
	}
	card, err := c.cards.Get(ctx, user)
	if err != nil {
		c.log.Error().Err(err).Msg("avatar: vCard for the new avatar")
		return
	}
	old, had := fromVCard(card)
	switch {
	case len(a.data) == 0 && !had:
	case len(a.data) > 0 && had && old.hash() == a.hash() && old.typ == a.typ:
	default:
		if err := c.cards.Put(ctx, user, withPhoto(card, a)); err != nil {
			c.log.Error().Err(err).Msg("avatar: vCard not updated")
			return
		}
	}
	h := ""
	if len(a.data) > 0 {
		h = a.hash()
	}
	c.setHash(user, h)
}

// image returns the image info describes, from the data node, if its
// SHA-1 is its ID.
func (c *Converter) image(ctx context.Context, user jid.JID, info *stanza.Element) (avatar, bool) {
	id := info.Attr("id")
	items, err := c.svc.Items(ctx, user, NSData, []string{id}, 0)
	if err != nil || len(items) == 0 || items[0].Payload == nil {
		c.log.Warn().Err(err).Str("user", user.String()).Str("id", id).Msg("avatar: metadata names no published data; vCard not updated")
		return avatar{}, false
	}
	data, ok := decodeBase64(items[0].Payload.Text())
	a := avatar{data: data, typ: info.Attr("type")}
	if !ok || len(data) == 0 || !strings.EqualFold(a.hash(), id) {
		c.log.Warn().Str("user", user.String()).Str("id", id).Msg("avatar: data does not match its SHA-1 id; vCard not updated")
		return avatar{}, false
	}
	if a.typ == "" {
		a.typ = "image/png"
	}
	return a, true
}

// cardStored follows a client's vCard into personal eventing (XEP-0398
// §3.2).
func (c *Converter) cardStored(ctx context.Context, user jid.JID, card *stanza.Element) {
	user = user.Bare()
	ctx = context.WithValue(ctx, convertingKey{}, true)
	defer c.lock(user)()
	a, ok := fromVCard(card)
	h := ""
	if ok {
		h = a.hash()
	}
	c.setHash(user, h)
	var current *stanza.Element // the published metadata
	if items, err := c.svc.Items(ctx, user, NSMetadata, nil, 1); err == nil && len(items) == 1 {
		current = items[0].Payload
	}
	info := embeddedInfo(current)
	if !ok {
		if info != nil {
			// The avatar was removed: disable publishing (XEP-0084 §4.6).
			if _, err := c.svc.Publish(ctx, user, NSMetadata, "", stanza.New(NSMetadata, "metadata"), nil); err != nil {
				c.log.Warn().Err(err).Str("user", user.String()).Msg("avatar: removal not published")
			}
		}
		return
	}
	if info != nil && strings.EqualFold(info.Attr("id"), h) {
		return // already published
	}
	if _, err := c.svc.Publish(ctx, user, NSData, h, a.dataPayload(), nil); err != nil {
		c.log.Warn().Err(err).Str("user", user.String()).Msg("avatar: vCard photo not published")
		return
	}
	if _, err := c.svc.Publish(ctx, user, NSMetadata, h, a.metadataPayload(), nil); err != nil {
		c.log.Warn().Err(err).Str("user", user.String()).Msg("avatar: vCard photo metadata not published")
	}
}
