package router

import (
	"sync"

	"mellium.im/xmpp/jid"
)

// jidCache remembers parsed addresses: normalizing a JID (PRECIS, IDNA)
// costs more than routing a stanza, and the addresses in traffic are few
// and repeat. Only valid JIDs are kept; the cache is emptied when full.
type jidCache struct {
	mu  sync.RWMutex
	m   map[string]jid.JID
	max int
}

func newJIDCache(max int) *jidCache {
	return &jidCache{m: make(map[string]jid.JID), max: max}
}

// parse returns the parsed form of s.
func (c *jidCache) parse(s string) (jid.JID, error) {
	c.mu.RLock()
	j, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return j, nil
	}
	j, err := jid.Parse(s)
	if err != nil {
		return j, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[s] = j
	c.mu.Unlock()
	return j, nil
}
