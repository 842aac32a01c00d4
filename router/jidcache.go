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
	m   map[string]parsedJID
	max int
}

// parsedJID is a parsed address with its bare form as a string, which
// routing looks resources up by.
type parsedJID struct {
	j    jid.JID
	bare string
}

func newJIDCache(max int) *jidCache {
	return &jidCache{m: make(map[string]parsedJID), max: max}
}

// parse returns the parsed form of s.
func (c *jidCache) parse(s string) (jid.JID, error) {
	p, err := c.parseBare(s)
	return p.j, err
}

// parseBare returns the parsed form of s and its bare JID as a string.
func (c *jidCache) parseBare(s string) (parsedJID, error) {
	c.mu.RLock()
	p, ok := c.m[s]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	j, err := jid.Parse(s)
	if err != nil {
		return parsedJID{}, err
	}
	p = parsedJID{j: j, bare: j.Bare().String()}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[s] = p
	c.mu.Unlock()
	return p, nil
}
