package pubsub

import (
	"context"
	"errors"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"

	"parley/entitycaps"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// notifyFeature is the entity capabilities feature by which a resource
// asks for a node's notifications (XEP-0163 §4.3.1).
func notifyFeature(node string) string { return node + "+notify" }

// viewer is a resource that receives notifications: what it has been
// sent the last items of.
type viewer struct {
	done map[string]struct{} // node names whose last item was delivered
}

// viewerKey keys a local resource's viewer state (router.Resource.Value).
type viewerKey struct{}

// notify sends payload (an <items/>, <purge/>, ...) in an event
// notification to every resource that should receive the node's events.
func (s *Service) notify(ctx context.Context, owner jid.JID, n node, payload *stanza.Element) {
	s.send(ctx, owner, s.recipients(ctx, owner, n), payload)
}

// send delivers one notification of payload from owner to each of to.
// The notifications share their <event/> element, serialized once
// (stanza.Element.Freeze), and differ only in their addressee and id.
func (s *Service) send(ctx context.Context, owner jid.JID, to []jid.JID, payload *stanza.Element) {
	if len(to) == 0 {
		return
	}
	from := owner.String()
	event := stanza.New(NSEvent, "event").Append(payload)
	if len(to) > 1 {
		event.Freeze()
	}
	base := newItemID() + "-"
	for i, full := range to {
		m := stanza.New("", "message", "from", from, "to", full.String(), "type", "headline", "id", base+strconv.Itoa(i))
		s.r.Deliver(ctx, m.Append(event))
	}
}

// eventMessage builds a notification from owner to full; a non-zero
// stamp adds a delay (XEP-0203), as a last published item carries.
func eventMessage(owner, full jid.JID, payload *stanza.Element, stamp time.Time) *stanza.Element {
	m := stanza.New("", "message", "from", owner.String(), "to", full.String(), "type", "headline", "id", newItemID())
	m.Append(stanza.New(NSEvent, "event").Append(payload))
	if !stamp.IsZero() {
		m.Append(stanza.New(stanza.NSDelay, "delay", "from", owner.String(), "stamp", stamp.UTC().Format(stanza.StampLayout)))
	}
	return m
}

// recipients returns the available resources that receive the events of
// owner's node: the owner's own, and those of the contacts the access
// model admits, local and remote, each only if its capabilities ask for
// the node's notifications.
func (s *Service) recipients(ctx context.Context, owner jid.JID, n node) []jid.JID {
	feature := notifyFeature(n.name)
	var out []jid.JID
	local := func(bare string) {
		for _, res := range s.r.Resources(bare) {
			if res.Available() && s.wants(res.JID, feature) {
				out = append(out, res.JID)
			}
		}
	}
	local(owner.String())
	view, err := s.rosterView(ctx, owner)
	if err != nil {
		s.log.Error().Err(err).Str("user", owner.String()).Msg("pep: roster for notifications")
		return out
	}
	// The remote resources that sent the owner presence, by bare JID.
	var remotes map[string][]jid.JID
	s.mu.Lock()
	for f := range s.remotes[owner.String()] {
		if full, err := jid.Parse(f); err == nil {
			if remotes == nil {
				remotes = make(map[string][]jid.JID)
			}
			remotes[full.Bare().String()] = append(remotes[full.Bare().String()], full)
		}
	}
	s.mu.Unlock()
	contact := func(c rosterContact) {
		if !notified(n.cfg, c.item) {
			return
		}
		if c.local {
			local(c.item.JID)
			return
		}
		for _, full := range remotes[c.item.JID] {
			if s.wants(full, feature) {
				out = append(out, full)
			}
		}
	}
	for _, c := range view.contacts {
		contact(c)
	}
	for _, m := range n.cfg.Members {
		// Members beyond the roster: local ones only, the only ones
		// whose resources the service knows without their presence.
		if _, ok := view.index[m]; ok {
			continue
		}
		if j, err := s.r.ParseJID(m); err == nil {
			contact(rosterContact{item: storage.RosterItem{JID: j.Bare().String()}, local: s.r.Serves(j.Domainpart())})
		}
	}
	return out
}

// rosterView is an account's roster as notifications need it, valid as
// long as the roster keeps its version.
type rosterView struct {
	ver      int64
	contacts []rosterContact
	index    map[string]int // bare JID -> position in contacts
}

// rosterContact is one roster item and whether its contact is an
// account of this server.
type rosterContact struct {
	item  storage.RosterItem
	local bool
}

// maxRosterViews bounds the rosters kept for notifications.
const maxRosterViews = 10000

// rosterView returns owner's roster, read again from storage only when
// its version changed since the last call: a publish costs one small
// read instead of the whole roster's.
func (s *Service) rosterView(ctx context.Context, owner jid.JID) (*rosterView, error) {
	key := owner.String()
	ver, err := s.store.RosterVersion(ctx, key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	v := s.views[key]
	s.mu.Unlock()
	if v != nil && v.ver == ver {
		return v, nil
	}
	items, ver, err := s.store.Roster(ctx, key)
	if err != nil {
		return nil, err
	}
	v = &rosterView{ver: ver, contacts: make([]rosterContact, 0, len(items)), index: make(map[string]int, len(items))}
	for _, it := range items {
		c, err := s.r.ParseJID(it.JID)
		if err != nil {
			continue
		}
		v.index[it.JID] = len(v.contacts)
		v.contacts = append(v.contacts, rosterContact{item: it, local: s.r.Serves(c.Domainpart()) && c.Localpart() != ""})
	}
	s.mu.Lock()
	if _, ok := s.views[key]; !ok && len(s.views) >= maxRosterViews {
		for k := range s.views {
			delete(s.views, k) // any: it is read again when needed
			break
		}
	}
	s.views[key] = v
	s.mu.Unlock()
	return v, nil
}

// wants reports whether full's capabilities include feature.
func (s *Service) wants(full jid.JID, feature string) bool {
	fs, ok := s.caps.Features(full)
	return ok && fs.Has(feature)
}

// notifyNodes returns the node names of the +notify features of fs.
func notifyNodes(fs entitycaps.Set) []string {
	var out []string
	for f := range fs {
		if len(f) > len("+notify") && f[len(f)-len("+notify"):] == "+notify" {
			out = append(out, f[:len(f)-len("+notify")])
		}
	}
	return out
}

// fresh returns the nodes of fs's +notify features not yet in done, and
// adds them to it.
func fresh(done map[string]struct{}, fs entitycaps.Set) []string {
	var out []string
	for _, n := range notifyNodes(fs) {
		if _, ok := done[n]; !ok {
			done[n] = struct{}{}
			out = append(out, n)
		}
	}
	return out
}

// sendLast sends to full the last item of each of owner's nodes named in
// names that would notify full's account of its items, unless the node
// never sends its last item. With PEP's implicit subscriptions a
// resource subscribes when it comes online, so on_sub and
// on_sub_and_presence both send it then.
func (s *Service) sendLast(ctx context.Context, owner, full jid.JID, names []string) {
	nodes, err := s.store.PubSubNodes(ctx, owner.String())
	if err != nil {
		s.log.Error().Err(err).Str("user", owner.String()).Msg("pep: nodes for last items")
		return
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	self := owner.Equal(full.Bare())
	var (
		contact      storage.RosterItem
		found, asked bool
	)
	for _, sn := range nodes {
		if !want[sn.Node] {
			continue
		}
		cfg, err := decodeConfig(sn.Config)
		if err != nil || cfg.SendLast == SendLastNever {
			continue
		}
		if !self {
			// Others get the last items of the nodes that would
			// notify them.
			if !asked {
				contact, err = s.store.RosterItem(ctx, owner.String(), full.Bare().String())
				if err != nil && !errors.Is(err, storage.ErrNotFound) {
					s.log.Error().Err(err).Str("user", owner.String()).Msg("pep: roster item for last items")
					return
				}
				found, asked = err == nil, true
				if !found {
					contact = storage.RosterItem{JID: full.Bare().String()}
				}
			}
			if !notified(cfg, contact) {
				continue
			}
		}
		items, err := s.items(ctx, owner, sn.Node, nil, 1)
		if err != nil {
			s.log.Error().Err(err).Str("user", owner.String()).Str("node", sn.Node).Msg("pep: last item")
			continue
		}
		if len(items) == 0 {
			continue
		}
		n := node{name: sn.Node, cfg: cfg}
		s.r.Deliver(ctx, eventMessage(owner, full, s.itemsEvent(n, items[0], false), items[0].Stamp))
	}
}

// localAvailable handles available presence broadcast by a local
// resource: once its capabilities are known, it gets the last items of
// the nodes it asks for, of its own account and of the local contacts
// it is subscribed to.
func (s *Service) localAvailable(ctx context.Context, res *router.Resource, p *stanza.Element) {
	if fs, ok := s.caps.Observe(ctx, res.JID.Bare(), res.JID, p); ok {
		s.deliverLocal(ctx, res, fs)
	}
}

func (s *Service) deliverLocal(ctx context.Context, res *router.Resource, fs entitycaps.Set) {
	if !res.Available() {
		return
	}
	v, _ := res.Value(viewerKey{}).(*viewer)
	if v == nil {
		v = &viewer{done: make(map[string]struct{})}
		res.SetValue(viewerKey{}, v)
	}
	s.mu.Lock()
	names := fresh(v.done, fs)
	s.mu.Unlock()
	if len(names) == 0 {
		return
	}
	self := res.JID.Bare()
	s.sendLast(ctx, self, res.JID, names)
	items, _, err := s.store.Roster(ctx, self.String())
	if err != nil {
		s.log.Error().Err(err).Str("user", self.String()).Msg("pep: roster for last items")
		return
	}
	for _, it := range items {
		if it.Subscription != "to" && it.Subscription != "both" {
			continue
		}
		contact, err := jid.Parse(it.JID)
		if err != nil || !s.r.Serves(contact.Domainpart()) || contact.Localpart() == "" {
			continue
		}
		s.sendLast(ctx, contact, res.JID, names)
	}
}

// localGone forgets a local resource that went unavailable or away.
func (s *Service) localGone(res *router.Resource) {
	res.SetValue(viewerKey{}, nil)
	s.caps.Forget(res.JID)
}

// remoteAvailable handles available presence from a remote contact's
// resource full to the local owner: the resource may receive the owner's
// notifications, and gets the last items it asks for once its
// capabilities are known.
func (s *Service) remoteAvailable(ctx context.Context, owner, full jid.JID, p *stanza.Element) {
	s.mu.Lock()
	m := s.remotes[owner.String()]
	if m == nil {
		m = make(map[string]*viewer)
		s.remotes[owner.String()] = m
	}
	if _, ok := m[full.String()]; !ok {
		if s.nRemote >= maxRemotes {
			s.evictRemoteLocked()
		}
		m[full.String()] = &viewer{done: make(map[string]struct{})}
		s.nRemote++
	}
	s.mu.Unlock()
	if fs, ok := s.caps.Observe(ctx, owner, full, p); ok {
		s.deliverRemote(ctx, owner, full, fs)
	}
}

func (s *Service) deliverRemote(ctx context.Context, owner, full jid.JID, fs entitycaps.Set) {
	s.mu.Lock()
	v := s.remotes[owner.String()][full.String()]
	var names []string
	if v != nil {
		names = fresh(v.done, fs)
	}
	s.mu.Unlock()
	if len(names) > 0 {
		s.sendLast(ctx, owner, full, names)
	}
}

// evictRemoteLocked forgets one remote resource, any, to make room: one
// whose server never said it went offline, most likely.
func (s *Service) evictRemoteLocked() {
	for owner, m := range s.remotes {
		for full := range m {
			delete(m, full)
			s.nRemote--
			if len(m) == 0 {
				delete(s.remotes, owner)
			}
			return
		}
	}
}

// remoteGone forgets a remote resource that went unavailable.
func (s *Service) remoteGone(owner, full jid.JID) {
	s.mu.Lock()
	if m := s.remotes[owner.String()]; m != nil {
		if _, ok := m[full.String()]; ok {
			delete(m, full.String())
			s.nRemote--
		}
		if len(m) == 0 {
			delete(s.remotes, owner.String())
		}
	}
	s.mu.Unlock()
	s.caps.Forget(full)
}

// capsLearned is called when the capabilities of full become known.
func (s *Service) capsLearned(ctx context.Context, full jid.JID, fs entitycaps.Set) {
	if s.r.Serves(full.Domainpart()) {
		if res := s.r.Lookup(full); res != nil {
			s.deliverLocal(ctx, res, fs)
		}
		return
	}
	s.mu.Lock()
	var owners []string
	for owner, m := range s.remotes {
		if _, ok := m[full.String()]; ok {
			owners = append(owners, owner)
		}
	}
	s.mu.Unlock()
	for _, o := range owners {
		if owner, err := jid.Parse(o); err == nil {
			s.deliverRemote(ctx, owner, full, fs)
		}
	}
}

// subscribed sends the last items of owner's nodes to the available
// resources of contact, whose presence subscription owner has just
// approved (the subscription of PEP, XEP-0163 §4.3.2): local resources,
// and remote ones whose presence the owner receives.
func (s *Service) subscribed(ctx context.Context, owner, contact jid.JID) {
	var to []jid.JID
	if s.r.Serves(contact.Domainpart()) {
		for _, res := range s.r.Resources(contact.String()) {
			if res.Available() {
				to = append(to, res.JID)
			}
		}
	} else {
		s.mu.Lock()
		for f := range s.remotes[owner.String()] {
			if full, err := jid.Parse(f); err == nil && full.Bare().Equal(contact) {
				to = append(to, full)
			}
		}
		s.mu.Unlock()
	}
	for _, full := range to {
		if fs, ok := s.caps.Features(full); ok {
			s.sendLast(ctx, owner, full, notifyNodes(fs))
		}
	}
}

// accountDeleted forgets the remote contacts of a deleted account.
func (s *Service) accountDeleted(owner jid.JID) {
	s.mu.Lock()
	s.nRemote -= len(s.remotes[owner.String()])
	delete(s.remotes, owner.String())
	delete(s.views, owner.String())
	s.mu.Unlock()
	s.forgetConfigs(owner.String(), "")
}
