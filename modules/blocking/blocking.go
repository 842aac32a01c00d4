// Package blocking implements the Blocking Command (XEP-0191) with spam
// and abuse reports kept in the block list (XEP-0377): a user blocks
// addresses from any client, nothing from them reaches the user any more,
// the user appears offline to them, and what the user sends them is
// refused.
package blocking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/internal/usercache"
	"parley/module"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Namespaces.
const (
	NS          = "urn:xmpp:blocking"
	NSErrors    = "urn:xmpp:blocking:errors"
	NSReporting = "urn:xmpp:reporting:1"
)

// MaxItems bounds a user's block list.
const MaxItems = 1000

// documentKind is how a block list is stored among a user's documents.
const documentKind = "blocklist"

// hookPriority puts blocking before the archive and carbons: blocked
// stanzas are neither archived nor copied (XEP-0313 §5.1.2).
const hookPriority = 500

// Store is the storage the module needs.
type Store interface {
	storage.Documents
	storage.Rosters
}

// interestedKey marks a resource that asked for the block list, and so
// gets pushes.
type interestedKey struct{}

// passKey marks a context in which the module itself sends stanzas (an
// error from a blocked address, presence to one) that its own checks must
// let through.
type passKey struct{}

// list is one user's block list: blocked JIDs (normalized) with the
// report given for each, if any.
type list struct {
	items map[string]*stanza.Element // JID -> <report/> or nil
}

func (l *list) blocks(j jid.JID) bool {
	if l == nil || len(l.items) == 0 {
		return false
	}
	// XEP-0191 §3.2 with the XEP-0016 order: full JID, bare JID,
	// domain/resource, domain.
	candidates := [4]string{j.String(), j.Bare().String(), "", j.Domainpart()}
	if r := j.Resourcepart(); r != "" {
		candidates[2] = j.Domainpart() + "/" + r
	}
	for _, c := range candidates {
		if _, ok := l.items[c]; ok && c != "" {
			return true
		}
	}
	return false
}

// Module keeps block lists and enforces them.
type Module struct {
	r     *router.Router
	store Store
	log   zerolog.Logger

	lists *usercache.Cache[*list] // loaded lists; an empty list is cached too
	locks sync.Map                // user -> *sync.Mutex, serializing changes
}

// maxCached bounds the cache of lists; past it, the cache starts over.
const maxCached = 100000

// Spec declares the Blocking Command as a server module.
func Spec() module.Spec {
	return module.Spec{Name: "blocking", Setup: func(h *module.Host) (any, error) {
		return Register(h.Router, h.Store, h.Log), nil
	}}
}

// Register installs blocking in r.
func Register(r *router.Router, store Store, log zerolog.Logger) *Module {
	m := &Module{r: r, store: store, log: log, lists: usercache.New[*list](maxCached)}
	r.HandleIQ(router.TargetAccount, NS, m.handleIQ)
	r.AddFeature(router.TargetServer, NS)
	r.AddFeature(router.TargetServer, NSReporting)
	r.Hook(router.FromSession, hookPriority, m.outgoing)
	r.Hook(router.ToAccount, hookPriority, m.incoming)
	r.Hook(router.ToRemote, hookPriority, m.leaving)
	r.Hook(router.Replay, hookPriority, m.replayed)
	// A deleted account's list is gone from storage; an account created
	// under the same name starts with an empty one.
	r.OnAccountDeleted(func(_ context.Context, bare jid.JID) { m.lists.Forget(bare.String()) })
	return m
}

// get returns user's block list, loading it once.
func (m *Module) get(ctx context.Context, user string) *list {
	return m.lists.Get(user, func(user string) *list { return m.load(ctx, user) })
}

func (m *Module) load(ctx context.Context, user string) *list {
	l := &list{items: make(map[string]*stanza.Element)}
	data, err := m.store.Document(ctx, user, documentKind, "")
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			m.log.Error().Err(err).Str("user", user).Msg("loading the block list failed")
		}
		return l
	}
	el, err := stanza.ParseBytes(data)
	if err != nil {
		m.log.Error().Err(err).Str("user", user).Msg("stored block list unreadable")
		return l
	}
	for _, it := range el.ChildrenNamed(NS, "item") {
		l.items[it.Attr("jid")] = it.Child(NSReporting, "report")
	}
	return l
}

// save stores l as user's block list and caches it.
func (m *Module) save(ctx context.Context, user string, l *list) error {
	doc := stanza.New(NS, "blocklist")
	for _, j := range l.sorted() {
		doc.Append(item(j, l.items[j]))
	}
	if err := m.store.PutDocument(ctx, user, documentKind, "", doc.Bytes()); err != nil {
		return err
	}
	m.lists.Put(user, l)
	return nil
}

func (l *list) sorted() []string {
	out := make([]string, 0, len(l.items))
	for j := range l.items {
		out = append(out, j)
	}
	slices.Sort(out)
	return out
}

func item(j string, report *stanza.Element) *stanza.Element {
	it := stanza.New(NS, "item", "jid", j)
	if report != nil {
		it.Append(report)
	}
	return it
}

// lock serializes the changes of one user's list.
func (m *Module) lock(user string) func() {
	mu, _ := m.locks.LoadOrStore(user, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

// blockedBy reports whether the local user owner blocked the address s.
func (m *Module) blockedBy(ctx context.Context, owner string, s string) bool {
	if s == "" {
		return false
	}
	j, err := m.r.ParseJID(s)
	if err != nil {
		return false
	}
	return m.get(ctx, owner).blocks(j)
}

// localUser returns the bare JID of s if it is an account of this
// server, or "".
func (m *Module) localUser(s string) string {
	j, err := m.r.ParseJID(s)
	if err != nil || j.Localpart() == "" || !m.r.Serves(j.Domainpart()) {
		return ""
	}
	return j.Bare().String()
}

// incoming enforces the recipient's list on stanzas to a local account
// (XEP-0191 §3.3), and the sender's list on presence the server sends
// for a local user (broadcasts and probe answers).
func (m *Module) incoming(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if ctx.Value(passKey{}) != nil {
		return router.Continue
	}
	owner := ev.ToBare()
	if m.blockedBy(ctx, owner, el.From()) {
		switch el.Kind() {
		case "message":
			m.r.Bounce(ctx, el, stanza.Err("service-unavailable"))
		case "iq":
			if t := el.Type(); t == "get" || t == "set" {
				m.r.Bounce(ctx, el, stanza.Err("service-unavailable"))
			}
		}
		return router.Drop
	}
	return m.senderBlocked(ctx, ev)
}

// replayed drops a stored stanza, such as an offline message, whose
// sender the recipient blocked after it was stored: blocking stops
// delivery of what the blocked entity sent (XEP-0191 §3.3), whenever it
// was sent. Nobody is told: the sender was told nothing wrong when the
// message was stored.
func (m *Module) replayed(ctx context.Context, ev *router.Event) router.Verdict {
	if !m.blockedBy(ctx, ev.Resource.Bare, ev.Stanza.From()) {
		return router.Continue
	}
	return router.Drop
}

// leaving enforces the sender's list on presence the server sends for a
// local user to another server.
func (m *Module) leaving(ctx context.Context, ev *router.Event) router.Verdict {
	return m.senderBlocked(ctx, ev)
}

// senderBlocked drops presence from a local user to an address the user
// blocked: the user appears offline to it.
func (m *Module) senderBlocked(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	if el.Kind() != "presence" || ctx.Value(passKey{}) != nil {
		return router.Continue
	}
	sender := m.localUser(el.From())
	if sender != "" && m.blockedBy(ctx, sender, el.To()) {
		return router.Drop
	}
	return router.Continue
}

// outgoing refuses what a user sends to an address the user blocked
// (XEP-0191 §3.4).
func (m *Module) outgoing(ctx context.Context, ev *router.Event) router.Verdict {
	el := ev.Stanza
	to := el.To()
	if to == "" || !m.blockedBy(ctx, ev.Session.Bare, to) {
		return router.Continue
	}
	if el.Kind() == "presence" {
		return router.Drop
	}
	// The error comes "from" the blocked address: it must pass the
	// user's own list on its way back.
	m.r.Bounce(context.WithValue(ctx, passKey{}, true), el, stanza.Error{Condition: "not-acceptable", Extra: stanza.New(NSErrors, "blocked")})
	return router.Handled
}

// handleIQ answers the block list, block and unblock (XEP-0191 §3).
func (m *Module) handleIQ(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if !iq.Own() || iq.Resource == nil {
		return nil, stanza.ErrText("forbidden", "only a client of the account may use its block list")
	}
	user := iq.To.Bare().String()
	switch p := iq.Payload; {
	case p.Local == "blocklist" && !iq.Set():
		iq.Resource.SetValue(interestedKey{}, true)
		out := stanza.New(NS, "blocklist")
		l := m.get(ctx, user)
		for _, j := range l.sorted() {
			out.Append(item(j, l.items[j]))
		}
		return out, nil
	case p.Local == "block" && iq.Set():
		return nil, m.block(ctx, iq, user)
	case p.Local == "unblock" && iq.Set():
		return nil, m.unblock(ctx, iq, user)
	}
	return nil, stanza.ErrText("bad-request", "expected a blocklist get, or a block or unblock set")
}

// parseItems reads the items of a block or unblock, normalized.
func parseItems(p *stanza.Element) ([]string, []*stanza.Element, error) {
	var jids []string
	var reports []*stanza.Element
	for _, it := range p.ChildrenNamed(NS, "item") {
		j, err := jid.Parse(strings.TrimSpace(it.Attr("jid")))
		if err != nil || it.Attr("jid") == "" {
			return nil, nil, stanza.ErrText("jid-malformed", "item jid "+it.Attr("jid")+" is not a valid JID")
		}
		report := it.Child(NSReporting, "report")
		if report != nil {
			switch report.Attr("reason") {
			case "urn:xmpp:reporting:spam", "urn:xmpp:reporting:abuse":
			default:
				return nil, nil, stanza.ErrText("bad-request", "a report's reason is urn:xmpp:reporting:spam or urn:xmpp:reporting:abuse")
			}
			if len(report.ChildText(NSReporting, "text")) > 4096 {
				return nil, nil, stanza.ErrText("not-acceptable", "a report's text is limited to 4096 bytes")
			}
		}
		jids = append(jids, j.String())
		reports = append(reports, report)
	}
	return jids, reports, nil
}

func (m *Module) block(ctx context.Context, iq *router.IQ, user string) error {
	jids, reports, err := parseItems(iq.Payload)
	if err != nil {
		return err
	}
	if len(jids) == 0 {
		return stanza.ErrText("bad-request", "block at least one item")
	}
	unlock := m.lock(user)
	defer unlock()
	old := m.get(ctx, user)
	l := &list{items: make(map[string]*stanza.Element, len(old.items)+len(jids))}
	for j, r := range old.items {
		l.items[j] = r
	}
	var added []string
	for i, j := range jids {
		if _, had := l.items[j]; !had {
			added = append(added, j)
		}
		if reports[i] != nil || l.items[j] == nil {
			l.items[j] = reports[i]
		}
	}
	if len(l.items) > MaxItems {
		return stanza.ErrText("resource-constraint", "a block list holds at most 1000 addresses")
	}
	if err := m.save(ctx, user, l); err != nil {
		return err
	}
	for i, j := range jids {
		if r := reports[i]; r != nil {
			m.log.Info().Str("user", user).Str("blocked", j).Str("reason", r.Attr("reason")).Msg("report of spam or abuse")
		}
	}
	m.push(ctx, user, iq.Payload)
	for _, j := range added {
		m.presenceTo(ctx, user, j, true)
	}
	return nil
}

func (m *Module) unblock(ctx context.Context, iq *router.IQ, user string) error {
	jids, _, err := parseItems(iq.Payload)
	if err != nil {
		return err
	}
	unlock := m.lock(user)
	defer unlock()
	old := m.get(ctx, user)
	l := &list{items: make(map[string]*stanza.Element, len(old.items))}
	var removed []string
	for j, r := range old.items {
		if len(jids) == 0 || slices.Contains(jids, j) {
			removed = append(removed, j)
			continue
		}
		l.items[j] = r
	}
	if err := m.save(ctx, user, l); err != nil {
		return err
	}
	m.push(ctx, user, iq.Payload)
	for _, j := range removed {
		m.presenceTo(ctx, user, j, false)
	}
	return nil
}

// push sends the change to every resource that asked for the list.
func (m *Module) push(ctx context.Context, user string, change *stanza.Element) {
	payload := stanza.New(NS, change.Local)
	for _, it := range change.ChildrenNamed(NS, "item") {
		payload.Append(stanza.New(NS, "item", "jid", it.Attr("jid")))
	}
	for _, res := range m.r.Resources(user) {
		if res.Value(interestedKey{}) == nil {
			continue
		}
		m.r.Send(ctx, res, stanza.New("", "iq", "type", "set", "id", pushID(), "to", res.JID.String()).Append(payload))
	}
}

// presenceTo tells a newly blocked address that the user went offline,
// or a newly unblocked one the user's current presence, when it may see
// the user's presence (a subscription "from" or "both").
func (m *Module) presenceTo(ctx context.Context, user, target string, blocked bool) {
	t, err := jid.Parse(target)
	if err != nil || t.Localpart() == "" {
		return
	}
	item, err := m.store.RosterItem(ctx, user, t.Bare().String())
	if err != nil || (item.Subscription != "from" && item.Subscription != "both") {
		return
	}
	pctx := context.WithValue(ctx, passKey{}, true)
	for _, res := range m.r.Resources(user) {
		if !res.Available() {
			continue
		}
		var p *stanza.Element
		if blocked {
			p = stanza.New("", "presence", "type", "unavailable")
		} else if cur := res.Presence(); cur != nil {
			p = cur.ShallowCopy()
		} else {
			continue
		}
		p.SetAttr("from", res.JID.String()).SetAttr("to", target)
		m.r.DeliverPresence(pctx, t, p)
	}
}

// pushID returns a fresh id for a push.
func pushID() string {
	var b [6]byte
	rand.Read(b[:])
	return "block-" + hex.EncodeToString(b[:])
}
