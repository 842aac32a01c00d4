package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/dataform"
	"parley/entitycaps"
	"parley/router"
	"parley/stanza"
	"parley/storage"
)

// Namespaces.
const (
	NS       = "http://jabber.org/protocol/pubsub"
	NSOwner  = NS + "#owner"
	NSEvent  = NS + "#event"
	NSErrors = NS + "#errors"
)

// Store is the storage the service uses: nodes and items, rosters for
// access control, and documents for the verified entity capabilities.
type Store interface {
	storage.PubSub
	storage.Rosters
	storage.Documents
}

// Limits bound what one account may keep.
type Limits struct {
	MaxNodes    int // nodes per account
	MaxItems    int // items a node keeps at most; node max_items is clamped to it
	MaxItemSize int // bytes of one item's payload
}

// Item is a published item.
type Item struct {
	ID        string
	Payload   *stanza.Element // nil for an item without payload
	Publisher string          // the JID that published it
	Stamp     time.Time
}

// Event is what an Observer is told: an item published to, or retracted
// from, a node of Owner.
type Event struct {
	Owner     jid.JID
	Node      string
	Item      Item // only Item.ID for a retraction
	Retracted bool
	// Created reports that the publish created the node.
	Created bool
}

// Observer is called after an item is published or retracted, once the
// change is stored, on the goroutine of the request that made it.
type Observer func(ctx context.Context, ev Event)

// Service is the personal eventing service of every local account.
type Service struct {
	store  Store
	r      *router.Router
	caps   *entitycaps.Tracker
	limits Limits
	log    zerolog.Logger

	observers []Observer
	seed      maphash.Seed
	locks     [64]sync.Mutex // per owner, for node creation and counting

	mu      sync.Mutex
	remotes map[string]map[string]*viewer // owner -> remote full JID -> state
	nRemote int
	views   map[string]*rosterView // owner -> roster, for notifications
	configs map[nodeKey]Config     // configurations of nodes read from storage
	confGen uint64                 // incremented whenever a configuration changes
}

// nodeKey names one node of one account.
type nodeKey struct{ owner, node string }

// maxCachedConfigs bounds the node configurations kept in memory.
const maxCachedConfigs = 20000

// maxRemotes bounds the remote contact resources tracked across every
// account.
const maxRemotes = 200000

// New returns the service. Register installs it with the router.
func New(r *router.Router, store Store, limits Limits, log zerolog.Logger) *Service {
	s := &Service{store: store, r: r, limits: limits, log: log, seed: maphash.MakeSeed(), remotes: make(map[string]map[string]*viewer), views: make(map[string]*rosterView), configs: make(map[nodeKey]Config)}
	s.caps = entitycaps.New(func(ctx context.Context, el *stanza.Element) { r.Deliver(ctx, el) }, s.capsLearned, store, entitycaps.Limits{}, log)
	return s
}

// Caps returns the entity capabilities tracker the service filters
// notifications with.
func (s *Service) Caps() *entitycaps.Tracker { return s.caps }

// Observe registers f to be called after every publish and retraction.
// Observers are registered while the server is set up.
func (s *Service) Observe(f Observer) { s.observers = append(s.observers, f) }

func (s *Service) lock(owner string) func() {
	m := &s.locks[maphash.String(s.seed, owner)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// node is a loaded node.
type node struct {
	name string
	cfg  Config
}

// loadNode returns owner's node, or item-not-found (bad-request for no
// node name).
func (s *Service) loadNode(ctx context.Context, owner jid.JID, name string) (node, error) {
	if name == "" {
		return node{}, errPubSub("bad-request", "the request must name a node", "nodeid-required")
	}
	key := nodeKey{owner.String(), name}
	s.mu.Lock()
	cfg, ok := s.configs[key]
	gen := s.confGen
	s.mu.Unlock()
	if ok {
		return node{name: name, cfg: cfg.clone()}, nil
	}
	n, err := s.store.PubSubNode(ctx, owner.String(), name)
	if errors.Is(err, storage.ErrNotFound) {
		return node{}, stanza.ErrText("item-not-found", fmt.Sprintf("no node %q", name))
	}
	if err != nil {
		return node{}, err
	}
	cfg, err = decodeConfig(n.Config)
	if err != nil {
		return node{}, fmt.Errorf("node %q of %s: %w", name, owner, err)
	}
	s.mu.Lock()
	if s.confGen == gen {
		// No configuration changed while it was read: keep it.
		if len(s.configs) >= maxCachedConfigs {
			for k := range s.configs {
				delete(s.configs, k) // any: it is read again when needed
				break
			}
		}
		s.configs[key] = cfg.clone()
	}
	s.mu.Unlock()
	return node{name: name, cfg: cfg}, nil
}

// forgetConfigs drops the kept configurations of owner's node name, or
// of all owner's nodes when name is "", after they changed in storage.
func (s *Service) forgetConfigs(owner, name string) {
	s.mu.Lock()
	s.confGen++
	for k := range s.configs {
		if k.owner == owner && (name == "" || k.node == name) {
			delete(s.configs, k)
		}
	}
	s.mu.Unlock()
}

// createLocked creates a node of owner with cfg, within the node limit.
func (s *Service) createLocked(ctx context.Context, owner jid.JID, name string, cfg Config) error {
	nodes, err := s.store.PubSubNodes(ctx, owner.String())
	if err != nil {
		return err
	}
	if len(nodes) >= s.limits.MaxNodes {
		return stanza.ErrText("policy-violation", fmt.Sprintf("an account may have at most %d nodes (pep.max_nodes)", s.limits.MaxNodes))
	}
	if cfg.MaxItems != MaxItemsMax && cfg.MaxItems > s.limits.MaxItems {
		cfg.MaxItems = s.limits.MaxItems
	}
	err = s.store.CreatePubSubNode(ctx, storage.PubSubNode{Owner: owner.String(), Node: name, Config: cfg.encode(), Created: time.Now().UTC()})
	s.forgetConfigs(owner.String(), name)
	if errors.Is(err, storage.ErrExists) {
		return stanza.ErrText("conflict", fmt.Sprintf("node %q exists", name))
	}
	return err
}

// errPubSub returns a stanza error with a pubsub#errors condition.
func errPubSub(condition, text, app string) error {
	e := stanza.ErrText(condition, text)
	e.Extra = stanza.New(NSErrors, app)
	return e
}

// PublishOptions are publish-options (XEP-0223) by field name, such as
// "pubsub#access_model": {"open"}: the configuration of a node the
// publish creates, and preconditions on an existing one.
type PublishOptions map[string][]string

func (o PublishOptions) form() *stanza.Element {
	if len(o) == 0 {
		return nil
	}
	x := dataform.New("submit", FormPublishOptions)
	for name, vals := range o {
		x.Append(dataform.Field(name, "", "", vals...))
	}
	return x
}

// Publish publishes payload as item id (a new ID when empty) to owner's
// node, creating the node if needed, as the owner does (its
// notifications go out as for any publish), and returns the item's ID.
// Options configure a node it creates and are preconditions on an
// existing one: a mismatch is a conflict stanza.Error.
func (s *Service) Publish(ctx context.Context, owner jid.JID, nodeName, id string, payload *stanza.Element, opts PublishOptions) (string, error) {
	if owner.Localpart() == "" || !s.r.Serves(owner.Domainpart()) {
		return "", fmt.Errorf("publish to %s: not an account of this server", owner.Bare())
	}
	return s.publish(ctx, owner.Bare(), owner.Bare(), nodeName, id, payload, opts.form())
}

func (s *Service) publish(ctx context.Context, owner, publisher jid.JID, name, id string, payload *stanza.Element, opts *stanza.Element) (string, error) {
	if name == "" {
		return "", errPubSub("not-acceptable", "PEP nodes need a name", "nodeid-required")
	}
	var data []byte
	if payload != nil {
		data = payload.Bytes()
	}
	if len(data) > s.limits.MaxItemSize {
		return "", errPubSub("not-acceptable", fmt.Sprintf("items may not exceed %d bytes (pep.max_item_size)", s.limits.MaxItemSize), "payload-too-big")
	}
	unlock := s.lock(owner.String())
	n, err := s.loadNode(ctx, owner, name)
	var se stanza.Error
	created := false
	switch {
	case errors.As(err, &se) && se.Condition == "item-not-found":
		created = true
		cfg := DefaultConfig()
		if opts != nil {
			if err := cfg.applyForm(opts, FormPublishOptions); err != nil {
				unlock()
				return "", err
			}
		}
		if err := s.createLocked(ctx, owner, name, cfg); err != nil {
			unlock()
			return "", err
		}
		n, err = s.loadNode(ctx, owner, name)
	case err == nil && opts != nil:
		field, ferr := n.cfg.matches(opts, s.limits.MaxItems)
		if ferr == nil && field != "" {
			ferr = errPubSub("conflict", fmt.Sprintf("publish-options precondition not met: %s differs from the node's configuration", field), "precondition-not-met")
		}
		err = ferr
	}
	unlock()
	if err != nil {
		return "", err
	}
	if id == "" {
		id = newItemID()
	}
	keep := n.cfg.keep(s.limits.MaxItems)
	if !n.cfg.PersistItems {
		keep = 1 // only the last one, for delivery on presence
	}
	it := storage.PubSubItem{Owner: owner.String(), Node: name, ID: id, Payload: data, Publisher: publisher.String(), Stamp: time.Now().UTC()}
	if _, err := s.store.PublishPubSubItem(ctx, &it, keep); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return "", stanza.ErrText("item-not-found", "the node was deleted")
		}
		return "", err
	}
	item := Item{ID: id, Payload: payload, Publisher: it.Publisher, Stamp: it.Stamp}
	s.notify(ctx, owner, n, s.itemsEvent(n, item, false))
	for _, o := range s.observers {
		o(ctx, Event{Owner: owner, Node: name, Item: item, Created: created})
	}
	return id, nil
}

// Items returns the items of owner's node, oldest first: those of ids,
// or every item when ids is empty; with last > 0 only the last that
// many. It does not check access; the owner's own modules call it.
func (s *Service) Items(ctx context.Context, owner jid.JID, nodeName string, ids []string, last int) ([]Item, error) {
	if _, err := s.loadNode(ctx, owner.Bare(), nodeName); err != nil {
		return nil, err
	}
	return s.items(ctx, owner.Bare(), nodeName, ids, last)
}

func (s *Service) items(ctx context.Context, owner jid.JID, nodeName string, ids []string, last int) ([]Item, error) {
	stored, err := s.store.PubSubItems(ctx, owner.String(), nodeName, ids, last)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(stored))
	for _, it := range stored {
		item := Item{ID: it.ID, Publisher: it.Publisher, Stamp: it.Stamp}
		if len(it.Payload) > 0 {
			p, err := stanza.ParseBytes(it.Payload)
			if err != nil {
				return nil, fmt.Errorf("stored item %q of node %q of %s: %w", it.ID, nodeName, owner, err)
			}
			item.Payload = p
		}
		out = append(out, item)
	}
	return out, nil
}

// Retract removes item id from owner's node, notifying the node's
// subscribers if notify is set; item-not-found if there is no such item.
func (s *Service) Retract(ctx context.Context, owner jid.JID, nodeName, id string, notify bool) error {
	n, err := s.loadNode(ctx, owner.Bare(), nodeName)
	if err != nil {
		return err
	}
	return s.retract(ctx, owner.Bare(), n, id, notify)
}

func (s *Service) retract(ctx context.Context, owner jid.JID, n node, id string, notify bool) error {
	err := s.store.RetractPubSubItem(ctx, owner.String(), n.name, id)
	if errors.Is(err, storage.ErrNotFound) {
		return stanza.ErrText("item-not-found", fmt.Sprintf("no item %q", id))
	}
	if err != nil {
		return err
	}
	if notify {
		s.notify(ctx, owner, n, s.itemsEvent(n, Item{ID: id}, true))
	}
	for _, o := range s.observers {
		o(ctx, Event{Owner: owner, Node: n.name, Item: Item{ID: id}, Retracted: true})
	}
	return nil
}

// DeleteNode deletes owner's node and its items, notifying its
// subscribers; item-not-found if there is no such node.
func (s *Service) DeleteNode(ctx context.Context, owner jid.JID, nodeName string) error {
	owner = owner.Bare()
	n, err := s.loadNode(ctx, owner, nodeName)
	if err != nil {
		return err
	}
	recipients := s.recipients(ctx, owner, n)
	err = s.store.DeletePubSubNode(ctx, owner.String(), nodeName)
	s.forgetConfigs(owner.String(), nodeName)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return stanza.ErrText("item-not-found", fmt.Sprintf("no node %q", nodeName))
		}
		return err
	}
	s.send(ctx, owner, recipients, stanza.New(NSEvent, "delete", "node", nodeName))
	return nil
}

// purge removes every item of owner's node and notifies subscribers.
func (s *Service) purge(ctx context.Context, owner jid.JID, n node) error {
	if _, err := s.store.TrimPubSubItems(ctx, owner.String(), n.name, 0); err != nil {
		return err
	}
	s.notify(ctx, owner, n, stanza.New(NSEvent, "purge", "node", n.name))
	return nil
}

// configure replaces the configuration of owner's node with cfg, trimming
// its items to the new limit.
func (s *Service) configure(ctx context.Context, owner jid.JID, n node, cfg Config) error {
	if cfg.MaxItems != MaxItemsMax && cfg.MaxItems > s.limits.MaxItems {
		cfg.MaxItems = s.limits.MaxItems
	}
	err := s.store.SetPubSubNodeConfig(ctx, owner.String(), n.name, cfg.encode())
	s.forgetConfigs(owner.String(), n.name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return stanza.ErrText("item-not-found", fmt.Sprintf("no node %q", n.name))
		}
		return err
	}
	keep := cfg.keep(s.limits.MaxItems)
	if !cfg.PersistItems {
		keep = 1
	}
	_, err = s.store.TrimPubSubItems(ctx, owner.String(), n.name, keep)
	return err
}

// itemsEvent builds the <items/> of a notification for one item.
func (s *Service) itemsEvent(n node, it Item, retract bool) *stanza.Element {
	items := stanza.New(NSEvent, "items", "node", n.name)
	if retract {
		return items.Append(stanza.New(NSEvent, "retract", "id", it.ID))
	}
	item := stanza.New(NSEvent, "item", "id", it.ID)
	if n.cfg.DeliverPayloads && it.Payload != nil {
		item.Append(it.Payload)
	}
	return items.Append(item)
}

func newItemID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
