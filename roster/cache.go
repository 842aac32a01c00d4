package roster

import (
	"context"
	"sync"

	"parley/storage"
)

// cachedStore keeps the rosters of online users in memory. Every login
// reads its roster twice (the roster request and the initial presence
// broadcast) and every probe reads a contact's item; serving those from
// memory takes the database off the login path. Writes go to storage
// first and then drop the cached roster, and a roster read from storage
// is only kept if no write happened meanwhile (per-user generations), so
// the cache never holds a stale roster.
type cachedStore struct {
	Store

	mu      sync.Mutex
	rosters map[string]*cachedRoster
	gens    map[string]uint64 // bumped on every write, kept while cached
	max     int
}

type cachedRoster struct {
	items []storage.RosterItem
	index map[string]int
	ver   int64
}

func newCachedStore(s Store, max int) *cachedStore {
	return &cachedStore{Store: s, rosters: make(map[string]*cachedRoster), gens: make(map[string]uint64), max: max}
}

// load returns the cached roster of user, reading it from storage if
// needed.
func (c *cachedStore) load(ctx context.Context, user string) (*cachedRoster, error) {
	c.mu.Lock()
	if r, ok := c.rosters[user]; ok {
		c.mu.Unlock()
		return r, nil
	}
	gen := c.gens[user]
	c.mu.Unlock()
	items, ver, err := c.Store.Roster(ctx, user)
	if err != nil {
		return nil, err
	}
	r := &cachedRoster{items: items, index: make(map[string]int, len(items)), ver: ver}
	for i, it := range items {
		r.index[it.JID] = i
	}
	c.mu.Lock()
	if c.gens[user] == gen {
		if len(c.rosters) >= c.max {
			clear(c.rosters)
			clear(c.gens)
		}
		c.rosters[user] = r
	}
	c.mu.Unlock()
	return r, nil
}

// invalidate drops user's cached roster after a write.
func (c *cachedStore) invalidate(user string) {
	c.mu.Lock()
	delete(c.rosters, user)
	c.gens[user]++
	c.mu.Unlock()
}

// forget drops user's roster when the user goes offline.
func (c *cachedStore) forget(user string) {
	c.mu.Lock()
	delete(c.rosters, user)
	c.mu.Unlock()
}

// Roster implements storage.Rosters from the cache.
func (c *cachedStore) Roster(ctx context.Context, user string) ([]storage.RosterItem, int64, error) {
	r, err := c.load(ctx, user)
	if err != nil {
		return nil, 0, err
	}
	return append([]storage.RosterItem(nil), r.items...), r.ver, nil
}

// RosterItem implements storage.Rosters: from the cache when the user's
// roster is cached, otherwise with a single-item read that does not fill
// the cache (probes and subscription requests to offline users must not
// pull their whole rosters into memory).
func (c *cachedStore) RosterItem(ctx context.Context, user, contact string) (storage.RosterItem, error) {
	c.mu.Lock()
	r, ok := c.rosters[user]
	c.mu.Unlock()
	if !ok {
		return c.Store.RosterItem(ctx, user, contact)
	}
	i, ok := r.index[contact]
	if !ok {
		return storage.RosterItem{}, storage.ErrNotFound
	}
	return r.items[i], nil
}

// RosterVersion implements storage.Rosters from the cache.
func (c *cachedStore) RosterVersion(ctx context.Context, user string) (int64, error) {
	r, err := c.load(ctx, user)
	if err != nil {
		return 0, err
	}
	return r.ver, nil
}

// PutRosterItem writes through and drops the cached roster.
func (c *cachedStore) PutRosterItem(ctx context.Context, user string, item storage.RosterItem) (int64, error) {
	defer c.invalidate(user)
	return c.Store.PutRosterItem(ctx, user, item)
}

// DeleteRosterItem writes through and drops the cached roster.
func (c *cachedStore) DeleteRosterItem(ctx context.Context, user, contact string) (int64, error) {
	defer c.invalidate(user)
	return c.Store.DeleteRosterItem(ctx, user, contact)
}
