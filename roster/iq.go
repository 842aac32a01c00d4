package roster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// handleIQ answers roster gets and sets (RFC 6121 §2). Only the account
// itself may read or change its roster.
func (m *Module) handleIQ(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if !iq.Own() {
		return nil, stanza.ErrText("forbidden", "only the account itself may access its roster")
	}
	if iq.Payload.Local != "query" {
		return nil, stanza.ErrText("bad-request", "the roster payload is <query xmlns='jabber:iq:roster'/>")
	}
	if iq.Set() {
		return nil, m.set(ctx, iq)
	}
	return m.get(ctx, iq)
}

// get returns the roster, or an empty result when the client's cached
// version is current (XEP-0237), and marks the resource interested.
func (m *Module) get(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Resource != nil {
		iq.Resource.SetInterested()
	}
	user := iq.To.String()
	items, ver, err := m.store.Roster(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("roster get: %w", err)
	}
	v := strconv.FormatInt(ver, 10)
	if iq.Payload.HasAttr("ver") && iq.Payload.Attr("ver") == v {
		return nil, nil // unchanged: the client's cached copy is current
	}
	q := stanza.New(NS, "query", "ver", v)
	for _, it := range items {
		q.Append(itemElement(it))
	}
	return q, nil
}

// set adds, updates or removes one item (RFC 6121 §2.3-2.5).
func (m *Module) set(ctx context.Context, iq *router.IQ) error {
	items := iq.Payload.ChildrenNamed(NS, "item")
	if len(items) != 1 {
		return stanza.ErrText("bad-request", "a roster set carries exactly one item")
	}
	el := items[0]
	contact, err := jid.Parse(el.Attr("jid"))
	if err != nil || el.Attr("jid") == "" {
		return stanza.ErrText("bad-request", "the item needs a valid jid")
	}
	if contact.Resourcepart() != "" {
		return stanza.ErrText("bad-request", "roster items are bare JIDs")
	}
	user := iq.To.Bare()
	if contact.Equal(user) {
		return stanza.ErrText("not-allowed", "the account's own JID cannot be a roster item")
	}
	// Any other subscription value, ask and approved are the server's to
	// set and are ignored (RFC 6121 §2.1.2).
	if el.Attr("subscription") == "remove" {
		return m.remove(ctx, user, contact)
	}
	item, err := parseItem(el)
	if err != nil {
		return err
	}
	item.JID = contact.String()
	item, ver, err := m.update(ctx, user.String(), item)
	if err != nil {
		return fmt.Errorf("roster set: %w", err)
	}
	m.push(ctx, user.String(), itemElement(item), ver)
	return nil
}

// update stores item with name and groups from the client and the
// subscription state the server keeps, and returns it with the new
// roster version.
func (m *Module) update(ctx context.Context, user string, item storage.RosterItem) (storage.RosterItem, int64, error) {
	defer m.lock(user)()
	old, exists, err := m.load(ctx, user, item.JID)
	if err != nil {
		return item, 0, err
	}
	if exists {
		item = stateOf(old).apply(item)
	} else {
		item.Subscription, item.PendingIn = "none", old.PendingIn
	}
	ver, err := m.store.PutRosterItem(ctx, user, item)
	return item, ver, err
}

// parseItem reads the name and groups of a roster set item, checking
// them per RFC 6121 §2.3.3.
func parseItem(el *stanza.Element) (storage.RosterItem, error) {
	it := storage.RosterItem{Name: el.Attr("name")}
	if len(it.Name) > MaxNameLength {
		return it, stanza.ErrText("not-acceptable", "the item name is too long")
	}
	seen := make(map[string]bool)
	for _, g := range el.ChildrenNamed(NS, "group") {
		name := g.Text()
		switch {
		case name == "":
			return it, stanza.ErrText("not-acceptable", "a group name is empty")
		case len(name) > MaxGroupLength:
			return it, stanza.ErrText("not-acceptable", "a group name is too long")
		case seen[name]:
			return it, stanza.ErrText("bad-request", "the item lists a group twice")
		}
		seen[name] = true
		it.Groups = append(it.Groups, name)
	}
	sort.Strings(it.Groups)
	return it, nil
}

// remove deletes the item for contact, pushes the removal and cancels the
// subscriptions and requests between the two (RFC 6121 §2.5.2).
func (m *Module) remove(ctx context.Context, user, contact jid.JID) error {
	old, ver, err := m.delete(ctx, user.String(), contact.String())
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.ErrText("item-not-found", "the contact is not in the roster")
	}
	if err != nil {
		return fmt.Errorf("roster remove: %w", err)
	}
	m.log.Debug().Str("user", user.String()).Str("contact", contact.String()).Msg("roster item removed")
	m.push(ctx, user.String(), stanza.New(NS, "item", "jid", contact.String(), "subscription", "remove"), ver)

	s := stateOf(old)
	if s.To || s.PendingOut {
		p := stanza.New("", "presence", "type", "unsubscribe", "from", user.String(), "to", contact.String())
		m.r.DeliverPresence(ctx, contact, p)
	}
	if s.From || s.PendingIn {
		p := stanza.New("", "presence", "type", "unsubscribed", "from", user.String(), "to", contact.String())
		m.r.DeliverPresence(ctx, contact, p)
		if s.From {
			m.sendUnavailable(ctx, user, contact)
		}
	}
	return nil
}

// delete removes user's item for contact with any request pending from
// the contact, and returns the removed item and the new roster version.
func (m *Module) delete(ctx context.Context, user, contact string) (storage.RosterItem, int64, error) {
	defer m.lock(user)()
	old, err := m.store.RosterItem(ctx, user, contact)
	if err != nil {
		return old, 0, err
	}
	ver, err := m.store.DeleteRosterItem(ctx, user, contact)
	if err == nil && old.PendingIn {
		err = m.store.DeletePendingSubscription(ctx, user, contact)
	}
	return old, ver, err
}
