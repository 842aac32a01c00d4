package pubsub

import (
	"context"
	"errors"
	"slices"

	"mellium.im/xmpp/jid"

	"parley/stanza"
	"parley/storage"
)

// mayRetrieve checks that requester may retrieve the items of owner's
// node with configuration cfg, and be notified of them: the owner always;
// others as the access model says (XEP-0060 §4.5), with the errors of
// XEP-0060 §6.5.9.
func (s *Service) mayRetrieve(ctx context.Context, owner jid.JID, cfg Config, requester jid.JID) error {
	if requester.Bare().Equal(owner) {
		return nil
	}
	if cfg.AccessModel == AccessOpen || slices.Contains(cfg.Members, requester.Bare().String()) {
		return nil
	}
	if cfg.AccessModel == AccessWhitelist {
		return stanza.ErrText("forbidden", "only the owner may retrieve the items of this node")
	}
	item, err := s.store.RosterItem(ctx, owner.String(), requester.Bare().String())
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	found := err == nil
	if allowed(cfg, item, found) {
		return nil
	}
	if cfg.AccessModel == AccessRoster {
		return errPubSub("not-authorized", "only contacts in the allowed roster groups may retrieve these items", "not-in-roster-group")
	}
	return errPubSub("not-authorized", "only contacts with a presence subscription may retrieve these items", "presence-subscription-required")
}

// allowed reports whether the contact of a roster item (found says
// whether there is one) passes the access model of cfg.
func allowed(cfg Config, item storage.RosterItem, found bool) bool {
	switch cfg.AccessModel {
	case AccessOpen:
		return true
	case AccessPresence:
		return found && (item.Subscription == "from" || item.Subscription == "both")
	case AccessRoster:
		if !found {
			return false
		}
		for _, g := range item.Groups {
			if slices.Contains(cfg.RosterGroups, g) {
				return true
			}
		}
	}
	return false
}

// notified reports whether the roster contact of item receives
// notifications of a node with configuration cfg: members; contacts with
// a presence subscription, for the open and presence models; contacts in
// the allowed groups for the roster model.
func notified(cfg Config, item storage.RosterItem) bool {
	if slices.Contains(cfg.Members, item.JID) {
		return true
	}
	switch cfg.AccessModel {
	case AccessOpen, AccessPresence:
		return item.Subscription == "from" || item.Subscription == "both"
	case AccessRoster:
		return allowed(cfg, item, true)
	}
	return false
}
