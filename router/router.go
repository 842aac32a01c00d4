// Package router is parley's single place of delivery: client sessions
// register their resources with it, every stanza passes through Route, and
// it decides between local delivery, a feature handler, offline storage, a
// component (group chat) or a remote server. Features register IQ handlers,
// disco features and hooks; none are special-cased here.
package router

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// Target says which kind of address an IQ handler serves.
type Target int

// IQ targets.
const (
	// TargetServer is the server itself: iq to a served domain.
	TargetServer Target = iota
	// TargetAccount is a local account: iq to a user's bare JID (or with
	// no to, from the account's own client), answered by the server on the
	// user's behalf.
	TargetAccount

	numTargets
)

// IQ is an iq get or set given to a handler.
type IQ struct {
	Stanza  *stanza.Element // the full request, from stamped
	Payload *stanza.Element // its single child element
	From    jid.JID         // sender
	To      jid.JID         // server domain or account bare JID
	// Resource is the sending local resource, or nil if the request came
	// from elsewhere (another local user is still local: see From).
	Resource *Resource

	ctx context.Context
}

// Own reports whether the request comes from the addressed account itself.
func (iq *IQ) Own() bool { return iq.From.Bare().Equal(iq.To) }

// Set reports whether the request is of type set.
func (iq *IQ) Set() bool { return iq.Stanza.Type() == "set" }

// IQHandler answers an IQ. It returns the payload of the result (nil for an
// empty result) or an error; a stanza.Error is sent as is, ErrAnswered
// says the handler sent the response itself, other errors are sent as
// internal-server-error.
type IQHandler func(ctx context.Context, iq *IQ) (*stanza.Element, error)

// ErrAnswered is returned by an IQHandler that sent the response itself,
// after other stanzas that must precede it (archive query results, say).
var ErrAnswered = errors.New("iq answered by its handler")

// PresenceHandler implements presence semantics (RFC 6121 §3-4).
type PresenceHandler interface {
	// OutboundPresence handles presence sent by a local client (from
	// stamped): broadcasts, directed presence and subscription requests.
	OutboundPresence(ctx context.Context, from *Resource, p *stanza.Element)
	// InboundPresence handles presence addressed to an existing local
	// account (to is the bare or full JID).
	InboundPresence(ctx context.Context, to jid.JID, p *stanza.Element)
}

// AccountChecker tells whether a local account exists.
type AccountChecker interface {
	AccountExists(ctx context.Context, user string) (bool, error)
}

// Handler receives stanzas for a domain the router does not serve itself
// (a component such as group chat, or the federation layer).
type Handler func(ctx context.Context, el *stanza.Element)

// Router routes stanzas. Handlers, hooks and service discovery features,
// identities and items are registered before the first stream is served.
type Router struct {
	log      zerolog.Logger
	accounts AccountChecker
	domains  map[string]struct{}

	iq             [numTargets]IQMux[*IQ]
	features       map[Target][]string
	identities     map[Target][]Identity
	items          []Item
	nodes          map[Target][]NodeProvider
	infoForms      map[Target][]*stanza.Element
	presence       PresenceHandler
	hooks          hooks
	available      []func(context.Context, *Resource)
	bound          []func(context.Context, *Resource)
	unbound        []func(context.Context, *Resource)
	accountDeleted []func(context.Context, jid.JID)
	components     map[string]Handler
	remote         Handler

	mu    sync.RWMutex
	users map[string][]*Resource // bare JID -> bound resources

	routed atomic.Uint64 // stanzas routed, a measure of activity
	jids   *jidCache
}

// New returns a router for the served domains.
func New(domains []string, accounts AccountChecker, log zerolog.Logger) *Router {
	r := &Router{
		log:        log,
		accounts:   accounts,
		domains:    make(map[string]struct{}),
		features:   make(map[Target][]string),
		identities: make(map[Target][]Identity),
		nodes:      make(map[Target][]NodeProvider),
		infoForms:  make(map[Target][]*stanza.Element),
		components: make(map[string]Handler),
		users:      make(map[string][]*Resource),
		jids:       newJIDCache(1 << 16),
	}
	for _, d := range domains {
		r.domains[d] = struct{}{}
	}
	return r
}

// Serves reports whether domain is one of the server's own domains.
func (r *Router) Serves(domain string) bool {
	_, ok := r.domains[domain]
	return ok
}

// Domains returns the served domains, sorted.
func (r *Router) Domains() []string {
	out := make([]string, 0, len(r.domains))
	for d := range r.domains {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// HandleIQ registers the handler for iq get/set with a payload in
// namespace ns sent to target.
func (r *Router) HandleIQ(target Target, ns string, h IQHandler) {
	r.iq[target].Handle(ns, func(iq *IQ, _ *stanza.Element) (*stanza.Element, error) {
		return h(iq.ctx, iq)
	})
}

// AddFeature adds a service discovery feature advertised for target.
func (r *Router) AddFeature(target Target, feature string) {
	r.features[target] = append(r.features[target], feature)
}

// Features returns the disco features advertised for target, sorted.
func (r *Router) Features(target Target) []string {
	out := append([]string(nil), r.features[target]...)
	sort.Strings(out)
	return out
}

// SetPresenceHandler installs the presence implementation.
func (r *Router) SetPresenceHandler(h PresenceHandler) { r.presence = h }

// OnAvailable registers a hook run after a resource's initial available
// presence has been broadcast.
func (r *Router) OnAvailable(f func(context.Context, *Resource)) {
	r.available = append(r.available, f)
}

// OnBind registers a hook run after a resource is bound: once per
// session, not again when a session under stream management is resumed.
func (r *Router) OnBind(f func(context.Context, *Resource)) {
	r.bound = append(r.bound, f)
}

// OnUnbind registers a hook run after a resource is removed (its stream
// ended or was replaced).
func (r *Router) OnUnbind(f func(context.Context, *Resource)) {
	r.unbound = append(r.unbound, f)
}

// OnAccountDeleted registers a hook run after an account was deleted
// from storage, for what features keep elsewhere (uploaded files, say).
func (r *Router) OnAccountDeleted(f func(ctx context.Context, bare jid.JID)) {
	r.accountDeleted = append(r.accountDeleted, f)
}

// AccountDeleted runs the OnAccountDeleted hooks for bare, whose account
// was just deleted.
func (r *Router) AccountDeleted(ctx context.Context, bare jid.JID) {
	for _, f := range r.accountDeleted {
		f(ctx, bare)
	}
}

// RegisterComponent routes every stanza addressed to domain (or any JID
// at it) to h.
func (r *Router) RegisterComponent(domain string, h Handler) { r.components[domain] = h }

// IsComponent reports whether domain is a component's (a local service
// such as the group-chat service, or an external component).
func (r *Router) IsComponent(domain string) bool {
	_, ok := r.components[domain]
	return ok
}

// SetRemote installs the handler for stanzas to domains that are neither
// served nor components (federation). Without one such stanzas bounce with
// remote-server-not-found.
func (r *Router) SetRemote(h Handler) { r.remote = h }

// Bind registers a resource. A resource already bound under the same full
// JID is unbound and its stream closed with a conflict error.
func (r *Router) Bind(ctx context.Context, full jid.JID, s Session) *Resource {
	bare := full.Bare().String()
	res := &Resource{JID: full, Bare: bare, Session: s, bound: true}
	r.mu.Lock()
	var old *Resource
	list := r.users[bare]
	for i, o := range list {
		if o.JID.Resourcepart() == full.Resourcepart() {
			old = o
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	r.users[bare] = append(list, res)
	r.mu.Unlock()
	if old != nil {
		old.Session.Close("conflict", "replaced by a new connection for the same resource")
		r.afterUnbind(ctx, old)
	}
	for _, f := range r.bound {
		f(ctx, res)
	}
	return res
}

// Unbind removes a resource whose stream ended. It is a no-op if the
// resource was already replaced.
func (r *Router) Unbind(ctx context.Context, res *Resource) {
	bare := res.Bare
	r.mu.Lock()
	list := r.users[bare]
	found := false
	for i, o := range list {
		if o == res {
			found = true
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.users, bare)
	} else {
		r.users[bare] = list
	}
	r.mu.Unlock()
	if found {
		r.afterUnbind(ctx, res)
	}
}

func (r *Router) afterUnbind(ctx context.Context, res *Resource) {
	res.mu.Lock()
	res.bound = false
	res.mu.Unlock()
	for _, f := range r.unbound {
		f(ctx, res)
	}
}

// ResourceAvailable runs the available hooks for res; the presence module
// calls it after broadcasting a resource's initial presence.
func (r *Router) ResourceAvailable(ctx context.Context, res *Resource) {
	for _, f := range r.available {
		f(ctx, res)
	}
}

// Resources returns the bound resources of a bare JID.
func (r *Router) Resources(bare string) []*Resource {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Resource(nil), r.users[bare]...)
}

// Lookup returns the resource bound to a full JID, or nil.
func (r *Router) Lookup(full jid.JID) *Resource {
	return r.lookup(full.Bare().String(), full.Resourcepart())
}

// lookup returns the resource named resource of the bare JID bare, or nil.
func (r *Router) lookup(bare, resource string) *Resource {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, res := range r.users[bare] {
		if res.JID.Resourcepart() == resource {
			return res
		}
	}
	return nil
}

// Online returns how many resources are bound.
func (r *Router) Online() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, l := range r.users {
		n += len(l)
	}
	return n
}

// Bound returns the bare JIDs that have at least one bound resource,
// sorted.
func (r *Router) Bound() []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.users))
	for bare, l := range r.users {
		if len(l) > 0 {
			out = append(out, bare)
		}
	}
	r.mu.RUnlock()
	sort.Strings(out)
	return out
}

// CloseAll closes every bound stream, for shutdown.
func (r *Router) CloseAll(condition, text string) {
	r.mu.RLock()
	var all []*Resource
	for _, l := range r.users {
		all = append(all, l...)
	}
	r.mu.RUnlock()
	for _, res := range all {
		res.Session.Close(condition, text)
	}
}

// AccountExists reports whether a local account exists; a bound resource
// proves it without asking storage.
func (r *Router) AccountExists(ctx context.Context, bare jid.JID) bool {
	if len(r.Resources(bare.String())) > 0 {
		return true
	}
	ok, err := r.accounts.AccountExists(ctx, bare.String())
	if err != nil {
		r.log.Error().Err(err).Str("user", bare.String()).Msg("account lookup failed")
		return false
	}
	return ok
}

// Route delivers a stanza sent by a local client resource. Its from
// attribute must already be stamped with the resource's full JID.
func (r *Router) Route(ctx context.Context, from *Resource, el *stanza.Element) {
	var ev *Event
	if r.HasHooks(FromSession) {
		ev = &Event{Point: FromSession, Stanza: el, Session: from}
		if t := el.To(); t != "" {
			if p, err := r.jids.parseBare(t); err == nil {
				ev.To, ev.toBare = p.j, p.bare
			}
		}
		if r.run(ctx, ev) != Continue {
			return
		}
	}
	r.route(ctx, from, el, ev)
}

// reroutedKey marks a context in which a stanza is routed again.
type reroutedKey struct{}

// Rerouting returns a context for routing a stanza again that was routed
// before: one a session that ended hands back because its client never
// acknowledged it. Hooks that act once per stanza (notifications) see it
// with Rerouted.
func Rerouting(ctx context.Context) context.Context {
	return context.WithValue(ctx, reroutedKey{}, true)
}

// Rerouted reports whether ctx routes a stanza again (see Rerouting).
func Rerouted(ctx context.Context) bool { return ctx.Value(reroutedKey{}) != nil }

// Deliver routes a stanza generated by the server or an internal
// component; from must be set.
func (r *Router) Deliver(ctx context.Context, el *stanza.Element) {
	r.route(ctx, nil, el, nil)
}

// Inbound routes a stanza arriving from a remote server or an external
// component, after the FromRemote hooks; from must be set.
func (r *Router) Inbound(ctx context.Context, el *stanza.Element) {
	if r.HasHooks(FromRemote) {
		ev := Event{Point: FromRemote, Stanza: el}
		if t := el.To(); t != "" {
			ev.To, _ = r.jids.parse(t)
		}
		if r.run(ctx, &ev) != Continue {
			return
		}
	}
	r.route(ctx, nil, el, nil)
}

// Send delivers el to one resource through the Deliver hooks. It reports
// false if a hook kept it from the resource or the stream no longer
// accepts stanzas.
func (r *Router) Send(ctx context.Context, res *Resource, el *stanza.Element) bool {
	if r.HasHooks(Deliver) {
		ev := Event{Point: Deliver, Stanza: el, Resource: res, To: res.JID}
		if r.run(ctx, &ev) != Continue {
			return false
		}
	}
	return res.Session.Send(el)
}

// Replay delivers a stanza kept in storage for res's account, such as an
// offline message, through the Replay hooks and then as Send does. It
// reports whether the stanza is done with: delivered, or dropped by a
// hook (a contact blocked since it was stored, say). False means the
// session refused it, and it should stay stored.
func (r *Router) Replay(ctx context.Context, res *Resource, el *stanza.Element) bool {
	if r.HasHooks(Replay) {
		ev := Event{Point: Replay, Stanza: el, Resource: res, To: res.JID}
		if r.run(ctx, &ev) != Continue {
			return true
		}
	}
	return r.Send(ctx, res, el)
}

// bounce answers el with an error, unless el is itself an error.
func (r *Router) bounce(ctx context.Context, el *stanza.Element, e stanza.Error) {
	if reply := stanza.ErrorReply(el, e); reply != nil && reply.To() != "" {
		r.route(ctx, nil, reply, nil)
	}
}

// Bounce answers el with the stanza error e (never answering an error).
func (r *Router) Bounce(ctx context.Context, el *stanza.Element, e stanza.Error) {
	r.bounce(ctx, el, e)
}

// ParseJID parses and normalizes an address, remembering recent ones.
func (r *Router) ParseJID(s string) (jid.JID, error) { return r.jids.parse(s) }

// Routed returns how many stanzas the router has handled.
func (r *Router) Routed() uint64 { return r.routed.Load() }

// route routes el; ev, if not nil, is the event the stanza's earlier
// hooks saw, reused for the later points.
func (r *Router) route(ctx context.Context, from *Resource, el *stanza.Element, ev *Event) {
	r.routed.Add(1)
	kind := el.Kind()
	toAttr := el.To()
	if toAttr == "" {
		if from == nil {
			r.log.Debug().Str("stanza", kind).Msg("dropping server stanza without to")
			return
		}
		switch kind {
		case "message":
			r.routeLocalUser(ctx, from, from.JID.Bare(), from.Bare, el, ev)
		case "presence":
			r.outboundPresence(ctx, from, jid.JID{}, el)
		case "iq":
			r.handleIQ(ctx, from, TargetAccount, from.JID.Bare(), el)
		}
		return
	}
	parsed, err := r.jids.parseBare(toAttr)
	to := parsed.j
	if err != nil {
		r.bounce(ctx, el, stanza.ErrText("jid-malformed", "invalid to address"))
		return
	}
	domain := to.Domainpart()
	if r.Serves(domain) {
		if to.Localpart() == "" {
			r.routeServer(ctx, from, to, el)
			return
		}
		if kind == "presence" && from != nil && r.presence != nil {
			r.outboundPresence(ctx, from, to, el)
			return
		}
		r.routeLocalUser(ctx, from, to, parsed.bare, el, ev)
		return
	}
	if kind == "presence" && from != nil && r.presence != nil {
		// Directed and subscription presence to remote entities passes
		// through the presence module, which calls DeliverRemote.
		r.outboundPresence(ctx, from, to, el)
		return
	}
	r.DeliverRemote(ctx, domain, el)
}

// outboundPresence hands presence from a local client to the presence
// logic, then to the PresenceObserved hooks.
func (r *Router) outboundPresence(ctx context.Context, from *Resource, to jid.JID, el *stanza.Element) {
	if r.presence != nil {
		r.presence.OutboundPresence(ctx, from, el)
	}
	r.ObservePresence(ctx, from, to, el)
}

// DeliverRemote hands a stanza to the component or federation handler
// for domain, bouncing it if there is none.
func (r *Router) DeliverRemote(ctx context.Context, domain string, el *stanza.Element) {
	if h, ok := r.components[domain]; ok {
		h(ctx, el)
		return
	}
	if r.remote != nil {
		if r.HasHooks(ToRemote) {
			ev := Event{Point: ToRemote, Stanza: el}
			ev.To, _ = r.jids.parse(el.To())
			if r.run(ctx, &ev) != Continue {
				return
			}
		}
		r.remote(ctx, el)
		return
	}
	r.bounce(ctx, el, stanza.ErrText("remote-server-not-found", "federation is not enabled on this server"))
}

// DeliverPresence hands presence that the presence module has processed
// to its destination: local delivery to an account, or a remote domain.
func (r *Router) DeliverPresence(ctx context.Context, to jid.JID, el *stanza.Element) {
	if !r.Serves(to.Domainpart()) {
		r.DeliverRemote(ctx, to.Domainpart(), el)
		return
	}
	if to.Localpart() == "" {
		return
	}
	if len(r.Resources(to.Bare().String())) == 0 && r.nothingToDeliver(el) {
		return
	}
	if !r.AccountExists(ctx, to.Bare()) {
		r.presenceToNoSuchUser(ctx, to, el)
		return
	}
	if r.HasHooks(ToAccount) {
		ev := Event{Point: ToAccount, Stanza: el, To: to}
		if r.run(ctx, &ev) != Continue {
			return
		}
	}
	if r.presence != nil {
		r.presence.InboundPresence(ctx, to, el)
	} else {
		r.DeliverToResources(ctx, to, el)
	}
	r.ObservePresence(ctx, nil, to, el)
}

// ObservePresence runs the PresenceObserved hooks: from is the local
// sender of an outbound presence, or nil for inbound presence to to.
func (r *Router) ObservePresence(ctx context.Context, from *Resource, to jid.JID, el *stanza.Element) {
	if r.HasHooks(PresenceObserved) {
		ev := Event{Point: PresenceObserved, Stanza: el, Session: from, To: to}
		r.run(ctx, &ev)
	}
}

// presenceToNoSuchUser handles presence to an account that does not
// exist (RFC 6121 §8.5.1): a probe is answered with unsubscribed from the
// bare JID, so the prober's server cancels the subscription its roster
// still claims (§4.3.2); any other presence is ignored.
func (r *Router) presenceToNoSuchUser(ctx context.Context, to jid.JID, el *stanza.Element) {
	if el.Type() != "probe" {
		return
	}
	from, err := r.ParseJID(el.From())
	if err != nil || el.From() == "" {
		return
	}
	reply := stanza.New("", "presence", "type", "unsubscribed", "from", to.Bare().String(), "to", from.Bare().String())
	r.DeliverPresence(ctx, from.Bare(), reply)
}

// nothingToDeliver reports whether presence for a user with no session
// has no effect, so it can be dropped before asking storage whether the
// account exists: availability reaches nobody, and a probe from a local
// user gets no answer, since the contact has no available resource and
// the two local rosters agree on the subscription (RFC 6121 §4.3.2).
func (r *Router) nothingToDeliver(el *stanza.Element) bool {
	switch el.Type() {
	case "", "unavailable":
		return true
	case "probe":
		from, err := r.ParseJID(el.From())
		return err == nil && r.Serves(from.Domainpart())
	}
	return false
}

// DeliverToResources delivers presence to a full JID's resource, or to
// every available resource of a bare JID.
func (r *Router) DeliverToResources(ctx context.Context, to jid.JID, el *stanza.Element) {
	if to.Resourcepart() != "" {
		if res := r.Lookup(to); res != nil {
			r.Send(ctx, res, el)
		}
		return
	}
	for _, res := range r.Resources(to.String()) {
		if res.Available() {
			r.Send(ctx, res, el)
		}
	}
}

func (r *Router) routeServer(ctx context.Context, from *Resource, to jid.JID, el *stanza.Element) {
	switch el.Kind() {
	case "iq":
		r.handleIQ(ctx, from, TargetServer, to.Domain(), el)
	case "message":
		r.bounce(ctx, el, stanza.ErrText("service-unavailable", "the server does not accept messages"))
	case "presence":
		// Presence to the server itself carries no meaning; ignore it.
	}
}

func (r *Router) routeLocalUser(ctx context.Context, from *Resource, to jid.JID, bare string, el *stanza.Element, ev *Event) {
	switch el.Kind() {
	case "presence":
		r.DeliverPresence(ctx, to, el)
	case "iq":
		if !r.AccountExists(ctx, to.Bare()) {
			r.bounceIQ(ctx, el, stanza.Err("service-unavailable"))
			return
		}
		if r.HasHooks(ToAccount) {
			if ev == nil {
				ev = new(Event)
			}
			*ev = Event{Point: ToAccount, Stanza: el, To: to, Session: from, toBare: bare}
			if r.run(ctx, ev) != Continue {
				return
			}
		}
		if to.Resourcepart() == "" {
			r.handleIQ(ctx, from, TargetAccount, to, el)
			return
		}
		if res := r.lookup(bare, to.Resourcepart()); res != nil {
			r.Send(ctx, res, el)
			return
		}
		r.bounceIQ(ctx, el, stanza.Err("service-unavailable"))
	case "message":
		r.routeMessage(ctx, from, to, bare, el, ev)
	}
}

func (r *Router) bounceIQ(ctx context.Context, el *stanza.Element, e stanza.Error) {
	if t := el.Type(); t == "get" || t == "set" {
		r.bounce(ctx, el, e)
	}
}

// routeMessage applies RFC 6121 §8.5.2-8.5.3 for a message to a local
// account, through the ToAccount, Chosen and Undeliverable hooks.
func (r *Router) routeMessage(ctx context.Context, from *Resource, to jid.JID, bareStr string, el *stanza.Element, ev *Event) {
	typ := el.Type()
	if typ == "" {
		typ = "normal"
	}
	var full *Resource
	if to.Resourcepart() != "" {
		full = r.lookup(bareStr, to.Resourcepart())
	}
	if full == nil {
		switch typ {
		case "error":
			return // RFC 6121 §8.5.2.1.1, §8.5.3.2.1: errors are ignored
		case "groupchat":
			// RFC 6121 §8.5.2.1.1: groupchat to a bare JID is never
			// delivered; nor to a resource that is not online.
			r.bounce(ctx, el, stanza.Err("service-unavailable"))
			return
		}
	}
	if full == nil && len(r.Resources(bareStr)) == 0 && !r.AccountExists(ctx, to.Bare()) {
		// RFC 6121 §8.5.1: a headline to no one is silently ignored.
		if typ != "headline" {
			r.bounce(ctx, el, stanza.Err("service-unavailable"))
		}
		return
	}
	hooked := r.HasHooks(ToAccount) || r.HasHooks(Chosen)
	if hooked {
		if ev == nil {
			ev = new(Event)
		}
		*ev = Event{Point: ToAccount, Stanza: el, To: to, Session: from, toBare: bareStr}
		if r.run(ctx, ev) != Continue {
			return
		}
	}
	var targets []*Resource
	if full != nil {
		if hooked {
			targets = []*Resource{full}
		} else {
			r.Send(ctx, full, el)
			return
		}
	} else {
		// RFC 6121 §8.5.3.2.1: a message to a resource that is not online
		// is treated as addressed to the bare JID.
		targets = r.messageTargets(bareStr, typ)
	}
	if hooked {
		ev.Point, ev.Targets = Chosen, targets
		if r.run(ctx, ev) != Continue {
			return
		}
	}
	if len(targets) > 0 {
		for _, res := range targets {
			r.Send(ctx, res, el)
		}
		return
	}
	if typ == "headline" {
		return
	}
	if r.HasHooks(Undeliverable) {
		if ev == nil {
			ev = new(Event)
		}
		*ev = Event{Point: Undeliverable, Stanza: el, To: to, Session: from, toBare: bareStr}
		if r.run(ctx, ev) != Continue {
			return
		}
	}
	r.bounce(ctx, el, stanza.Err("service-unavailable"))
}

// messageTargets picks the resources a message to a bare JID goes to:
// headline to every available resource with non-negative priority; chat
// and normal to those sharing the highest non-negative priority.
func (r *Router) messageTargets(bare, typ string) []*Resource {
	var out []*Resource
	best := -1
	for _, res := range r.Resources(bare) {
		if !res.Available() {
			continue
		}
		p := res.Priority()
		if p < 0 {
			continue
		}
		if typ == "headline" {
			out = append(out, res)
			continue
		}
		switch {
		case p > best:
			best = p
			out = append(out[:0], res)
		case p == best:
			out = append(out, res)
		}
	}
	return out
}

func (r *Router) handleIQ(ctx context.Context, from *Resource, target Target, to jid.JID, el *stanza.Element) {
	typ := el.Type()
	if typ == "result" || typ == "error" {
		return // responses to the server or an account are consumed here
	}
	reply := func(payload *stanza.Element, err error) {
		if errors.Is(err, ErrAnswered) {
			return
		}
		if err != nil {
			var se stanza.Error
			if !errors.As(err, &se) {
				r.log.Error().Err(err).Str("ns", firstNS(el)).Msg("iq handler failed")
				se = stanza.Err("internal-server-error")
			}
			r.bounce(ctx, el, se)
			return
		}
		res := stanza.Result(el)
		if el.To() == "" && target == TargetAccount {
			res.SetAttr("from", "")
		}
		if payload != nil {
			res.Append(payload)
		}
		if res.To() == "" {
			return
		}
		r.route(ctx, nil, res, nil)
	}
	if typ != "get" && typ != "set" {
		reply(nil, stanza.ErrText("bad-request", "iq type must be get, set, result or error"))
		return
	}
	payload, err := Payload(el)
	if err != nil {
		reply(nil, err)
		return
	}
	if !r.iq[target].Handles(payload.Space) {
		reply(nil, stanza.Err("service-unavailable"))
		return
	}
	fromJID, err := r.ParseJID(el.From())
	if err != nil {
		return
	}
	reply(r.iq[target].Dispatch(&IQ{Stanza: el, Payload: payload, From: fromJID, To: to, Resource: from, ctx: ctx}, el))
}

func firstNS(el *stanza.Element) string {
	if p := el.FirstElement(); p != nil {
		return p.Space
	}
	return ""
}
