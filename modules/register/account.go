package register

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmpp/jid"

	"parley/account"
	"parley/audit"
	"parley/router"
	"parley/stanza"
)

// handleAccount answers jabber:iq:register requests a local client sends
// to its own account (or with no to): its registration, a password
// change or the removal of the account. Requests to another account are
// forbidden.
func (m *Module) handleAccount(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Resource == nil || !iq.Own() {
		return nil, stanza.ErrText("forbidden", "only the account itself may manage its registration")
	}
	return m.handleUser(ctx, iq, iq.To)
}

// handleServer answers jabber:iq:register requests sent to the server's
// domain: a local client's own registration, as handleAccount does.
func (m *Module) handleServer(ctx context.Context, iq *router.IQ) (*stanza.Element, error) {
	if iq.Resource == nil {
		return nil, stanza.ErrText("not-allowed", "registration is for clients of this server")
	}
	if iq.From.Domainpart() != iq.To.Domainpart() {
		return nil, stanza.ErrText("forbidden", "the account is registered on "+iq.From.Domainpart())
	}
	return m.handleUser(ctx, iq, iq.From.Bare())
}

// handleUser answers a request of user's own client.
func (m *Module) handleUser(ctx context.Context, iq *router.IQ, user jid.JID) (*stanza.Element, error) {
	if iq.Payload.Local != "query" {
		return nil, stanza.ErrText("bad-request", "unknown element <"+iq.Payload.Local+"/> in "+NS)
	}
	if !iq.Set() {
		// XEP-0077 §3.1: a registered entity gets <registered/> and
		// its username.
		q := stanza.New(NS, "query")
		q.Append(stanza.New(NS, "instructions").AppendText("You are registered. Send a new password to change it, or <remove/> to delete your account."))
		q.Append(stanza.New(NS, "registered"))
		q.Append(stanza.New(NS, "username").AppendText(user.Localpart()))
		q.Append(stanza.New(NS, "password"))
		return q, nil
	}
	s := parseSubmission(iq.Payload)
	if s.remove {
		return nil, m.remove(ctx, iq, user)
	}
	return nil, m.changePassword(ctx, user, iq.From, s)
}

// changePassword sets user's password (XEP-0077 §3.3), as asked from the
// address from. The username must name the account itself.
func (m *Module) changePassword(ctx context.Context, user, from jid.JID, s submission) error {
	if !s.hasUsername || !s.hasPassword || s.username == "" || s.password == "" {
		return stanza.ErrText("bad-request", "a password change needs the username and the new password")
	}
	named, err := account.User(s.username, user.Domainpart())
	if err != nil || named != user.String() {
		return stanza.ErrText("forbidden", "you may change only your own password")
	}
	if err := m.checkPassword(s.password); err != nil {
		return err
	}
	err = account.SetPassword(ctx, m.store, user.String(), s.password)
	if errors.Is(err, account.ErrNotFound) {
		return stanza.ErrText("item-not-found", "the account no longer exists")
	}
	if err != nil {
		return err
	}
	m.o.Log.Info().Str("user", user.String()).Msg("password changed in band")
	m.record(audit.Event{Action: audit.AccountPasswordChanged, Target: user.String(), Detail: "changed in band from " + from.String()})
	return nil
}

// removal is an account being removed: the streams it had, which must all
// end before its data is deleted.
type removal struct {
	user    jid.JID
	closed  map[*router.Resource]bool // resources whose streams were closed
	unbound int                       // how many of them have left the router
	changed chan struct{}             // signalled when unbound grows
}

// Conditions of the streams of a removed account.
const (
	removedCondition = "not-authorized"
	removedText      = "the account was deleted"
)

// removeTimeout bounds the wait for the streams of a removed account to
// end.
const removeTimeout = 10 * time.Second

// remove removes user's account (XEP-0077 §3.2): logins stop at once, the
// requester gets its result, every stream of the account ends, and then
// the account and all its data are deleted as "parley deluser" does.
func (m *Module) remove(ctx context.Context, iq *router.IQ, user jid.JID) error {
	bare := user.String()
	m.mu.Lock()
	if _, ok := m.removals[bare]; ok {
		m.mu.Unlock()
		return stanza.ErrText("unexpected-request", "the account is being removed")
	}
	rm := &removal{user: user, closed: make(map[*router.Resource]bool), changed: make(chan struct{}, 1)}
	m.removals[bare] = rm
	m.nremovals.Add(1)
	m.pending.Add(1)
	m.mu.Unlock()

	// No credentials: no new login while the account goes.
	if err := m.store.SetCredentials(ctx, bare, nil); err != nil {
		m.forgetRemoval(bare)
		m.pending.Done()
		if errors.Is(err, account.ErrNotFound) {
			return stanza.ErrText("item-not-found", "the account no longer exists")
		}
		return err
	}
	res := stanza.Result(iq.Stanza)
	if iq.Stanza.To() == "" {
		res.SetAttr("from", "")
	}
	m.r.Send(ctx, iq.Resource, res)
	m.o.Log.Info().Str("user", bare).Msg("account removal requested in band")
	// The requester's stream ends after this handler returns, so the
	// rest happens beside it.
	go m.finishRemoval(context.WithoutCancel(ctx), rm)
	return router.ErrAnswered
}

// finishRemoval ends every stream of the account, waits until they have
// left the router, and deletes the account.
func (m *Module) finishRemoval(ctx context.Context, rm *removal) {
	defer m.pending.Done()
	defer m.forgetRemoval(rm.user.String())
	bare := rm.user.String()
	deadline := time.After(removeTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		left := m.r.Resources(bare)
		for _, res := range left {
			m.mu.Lock()
			first := !rm.closed[res]
			rm.closed[res] = true
			m.mu.Unlock()
			if first {
				res.Session.Close(removedCondition, removedText)
			}
		}
		m.mu.Lock()
		done := len(left) == 0 && rm.unbound >= len(rm.closed)
		m.mu.Unlock()
		if done {
			break
		}
		select {
		case <-rm.changed:
		case <-tick.C:
		case <-deadline:
			m.o.Log.Warn().Str("user", bare).Msg("streams of a removed account did not end in time; deleting it anyway")
			done = true
		}
		if done {
			break
		}
	}
	m.unsubscribeContacts(ctx, rm.user)
	// Messages archived before the streams ended are written now, so
	// that the deletion takes them.
	if m.archive != nil {
		sctx, cancel := context.WithTimeout(ctx, removeTimeout)
		m.archive.Sync(sctx)
		cancel()
	}
	files, err := account.Delete(ctx, m.store, bare, m.o.UploadDir)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		m.o.Log.Error().Err(err).Str("user", bare).Msg("deleting a removed account failed")
		return
	}
	m.r.AccountDeleted(ctx, rm.user)
	m.o.Log.Info().Str("user", bare).Int("files", files).Msg("account deleted in band")
	m.mu.Lock()
	streams := len(rm.closed)
	m.mu.Unlock()
	m.record(audit.Event{Action: audit.AccountDeleted, Target: bare,
		Detail: fmt.Sprintf("removed in band, with its data and %d uploaded files; %d streams ended", files, streams)})
}

// unsubscribeContacts ends the presence subscriptions of user's roster
// before the roster goes, as if the user had cancelled each one (RFC
// 6121 §3.2, §3.3): contacts' rosters then no longer share presence with
// the name, whoever registers it next, and pending requests are denied.
func (m *Module) unsubscribeContacts(ctx context.Context, user jid.JID) {
	items, _, err := m.store.Roster(ctx, user.String())
	if err != nil {
		m.o.Log.Error().Err(err).Str("user", user.String()).Msg("reading the roster of a removed account failed")
		return
	}
	send := func(contact jid.JID, typ string) {
		p := stanza.New("", "presence", "type", typ, "from", user.String(), "to", contact.String())
		m.r.DeliverPresence(ctx, contact, p)
	}
	for _, it := range items {
		contact, err := m.r.ParseJID(it.JID)
		if err != nil {
			continue
		}
		if it.Subscription == "to" || it.Subscription == "both" || it.Ask {
			send(contact, "unsubscribe")
		}
		if it.Subscription == "from" || it.Subscription == "both" || it.PendingIn {
			send(contact, "unsubscribed")
		}
	}
	subs, err := m.store.PendingSubscriptions(ctx, user.String())
	if err != nil {
		m.o.Log.Error().Err(err).Str("user", user.String()).Msg("reading the subscription requests of a removed account failed")
		return
	}
	for _, sub := range subs {
		if contact, err := m.r.ParseJID(sub.From); err == nil {
			if it, err := m.store.RosterItem(ctx, user.String(), contact.String()); err == nil && it.PendingIn {
				continue // answered above
			}
			send(contact, "unsubscribed")
		}
	}
}

// forgetRemoval ends the refusal of user's stanzas.
func (m *Module) forgetRemoval(user string) {
	m.mu.Lock()
	if _, ok := m.removals[user]; ok {
		delete(m.removals, user)
		m.nremovals.Add(-1)
	}
	m.mu.Unlock()
}

// removing returns the removal of the account bare, or nil.
func (m *Module) removing(bare string) *removal {
	if m.nremovals.Load() == 0 {
		return nil // the common case, without a lock
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.removals[bare]
}

// unbound counts a resource of an account being removed that has left
// the router, once the other modules' unbind hooks (last activity, say)
// have run for it: the module is set up after them.
func (m *Module) unbound(_ context.Context, res *router.Resource) {
	rm := m.removing(res.Bare)
	if rm == nil {
		return
	}
	m.mu.Lock()
	if !rm.closed[res] {
		rm.closed[res] = true // ended on its own meanwhile
	}
	rm.unbound++
	m.mu.Unlock()
	select {
	case rm.changed <- struct{}{}:
	default:
	}
}

// fromRemoved drops what the clients of an account being removed still
// send, so that nothing is archived for it.
func (m *Module) fromRemoved(_ context.Context, ev *router.Event) router.Verdict {
	if ev.Session != nil && m.removing(ev.Session.Bare) != nil {
		return router.Drop
	}
	return router.Continue
}

// toRemoved refuses stanzas to an account being removed, so that no
// feature stores them (offline messages, subscription requests,
// archives): requests and messages bounce, the rest is dropped.
func (m *Module) toRemoved(ctx context.Context, ev *router.Event) router.Verdict {
	if m.removing(ev.ToBare()) == nil {
		return router.Continue
	}
	el := ev.Stanza
	switch el.Kind() {
	case "message":
		if t := el.Type(); t != "error" && t != "headline" {
			m.r.Bounce(ctx, el, stanza.Err("service-unavailable"))
		}
	case "iq":
		if t := el.Type(); t == "get" || t == "set" {
			m.r.Bounce(ctx, el, stanza.Err("service-unavailable"))
		}
	}
	return router.Drop
}
