package testutil

import (
	"context"

	"parley/stanza"
	"parley/storage"
)

// ErrorCondition returns the defined condition of an error stanza (for
// example "service-unavailable"), or "" if el is not an error.
func ErrorCondition(el *stanza.Element) string {
	if el.Type() != "error" {
		return ""
	}
	e := el.Child("", "error")
	if e == nil {
		return ""
	}
	for _, c := range e.Elements() {
		if c.Space == stanza.NSStanzas && c.Local != "text" {
			return c.Local
		}
	}
	return ""
}

// SetSubscription writes contact into user's roster with the given
// subscription state ("none", "to", "from", "both") directly in storage,
// for tests of features that depend on presence subscriptions. Both are
// bare JIDs.
func (s *Server) SetSubscription(user, contact, subscription string) {
	s.T.Helper()
	item := storage.RosterItem{JID: contact, Subscription: subscription}
	if _, err := s.Store().PutRosterItem(context.Background(), user, item); err != nil {
		s.T.Fatalf("set subscription %s -> %s: %v", user, contact, err)
	}
}
