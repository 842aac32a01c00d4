// Package usercache keeps per-account state that modules read on every
// stanza (block lists, archiving preferences), loaded from storage once per
// account and bounded in size.
package usercache

import "sync"

// Cache maps bare JIDs to values of type V. It is safe for concurrent use.
type Cache[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

// New returns a cache of at most max accounts; past it, the cache starts
// over.
func New[V any](max int) *Cache[V] {
	return &Cache[V]{m: make(map[string]V), max: max}
}

// Get returns user's value, calling load the first time (and again after
// Forget or a restart of the cache).
func (c *Cache[V]) Get(user string, load func(user string) V) V {
	c.mu.RLock()
	v, ok := c.m[user]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = load(user)
	c.Put(user, v)
	return v
}

// Put sets user's value.
func (c *Cache[V]) Put(user string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[user]; !ok && len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[user] = v
}

// Forget drops user's value.
func (c *Cache[V]) Forget(user string) {
	c.mu.Lock()
	delete(c.m, user)
	c.mu.Unlock()
}
