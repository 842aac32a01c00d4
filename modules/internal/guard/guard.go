// Package guard holds the request checks feature modules share: IQ shape
// validation and presence-based access control.
package guard

import (
	"context"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"

	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Get checks that iq is a get whose payload is named local, as every
// query-only protocol requires: a set is bad-request and an unknown element
// in a known namespace feature-not-implemented (RFC 6120 §8.3.3.3).
func Get(iq *router.IQ, local string) error {
	if iq.Payload.Local != local {
		return stanza.ErrText("feature-not-implemented", fmt.Sprintf("unknown element <%s/> in %s", iq.Payload.Local, iq.Payload.Space))
	}
	if iq.Set() {
		return stanza.ErrText("bad-request", iq.Payload.Space+" only supports iq get")
	}
	return nil
}

// SeesPresence reports whether requester may learn about the presence of
// the local account user: the account itself, its server, or a contact
// with a presence subscription ("from" or "both" on the user's roster).
func SeesPresence(ctx context.Context, rosters storage.Rosters, user, requester jid.JID) (bool, error) {
	if requester.Bare().Equal(user.Bare()) {
		return true, nil
	}
	if requester.Localpart() == "" && requester.Resourcepart() == "" && requester.Domainpart() == user.Domainpart() {
		return true, nil
	}
	item, err := rosters.RosterItem(ctx, user.Bare().String(), requester.Bare().String())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check presence subscription of %s to %s: %w", requester.Bare(), user.Bare(), err)
	}
	return item.Subscription == "from" || item.Subscription == "both", nil
}
