package mam

import (
	"context"
	"errors"
	"slices"

	"parley/internal/usercache"
	"parley/stanza"
)

// prefsKind is the document kind archiving preferences are stored as.
const prefsKind = "mam-prefs"

// maxPrefsJIDs bounds the always and never lists together.
const maxPrefsJIDs = 1000

// prefs is one account's archiving preferences (XEP-0313 §6.1).
type prefs struct {
	def    string   // always, roster or never
	always []string // bare JIDs always archived, sorted
	never  []string // bare JIDs never archived, sorted
}

// prefsCache keeps the preferences of accounts in use, so archiving a
// message reads no storage. Accounts without stored preferences cost one
// entry of the server default.
type prefsCache struct {
	store Store
	def   string

	cache *usercache.Cache[*prefs]
}

// maxCachedPrefs bounds the cache; past it, the cache starts over.
const maxCachedPrefs = 100000

func newPrefsCache(store Store, def string) *prefsCache {
	if def == "" {
		def = "always"
	}
	return &prefsCache{store: store, def: def, cache: usercache.New[*prefs](maxCachedPrefs)}
}

// get returns the preferences of user, loading them once.
func (c *prefsCache) get(ctx context.Context, user string) *prefs {
	return c.cache.Get(user, func(user string) *prefs { return c.load(ctx, user) })
}

func (c *prefsCache) load(ctx context.Context, user string) *prefs {
	p := &prefs{def: c.def}
	data, err := c.store.Document(ctx, user, prefsKind, "")
	if err != nil {
		return p
	}
	el, err := stanza.ParseBytes(data)
	if err != nil {
		return p
	}
	stored, err := parsePrefs(el)
	if err != nil {
		return p
	}
	return stored
}

// set stores and caches new preferences for user.
func (c *prefsCache) set(ctx context.Context, user string, p *prefs) error {
	if err := c.store.PutDocument(ctx, user, prefsKind, "", p.element().Bytes()); err != nil {
		return err
	}
	c.cache.Put(user, p)
	return nil
}

// forget drops a user's cached preferences.
func (c *prefsCache) forget(user string) {
	c.cache.Forget(user)
}

// archives reports whether a message between owner and the bare JID with
// is archived in owner's archive.
func (c *prefsCache) archives(ctx context.Context, owner, with string) bool {
	p := c.get(ctx, owner)
	if _, ok := slices.BinarySearch(p.never, with); ok {
		return false
	}
	if _, ok := slices.BinarySearch(p.always, with); ok {
		return true
	}
	switch p.def {
	case "always":
		return true
	case "roster":
		_, err := c.store.RosterItem(ctx, owner, with)
		return err == nil
	}
	return false
}

// errPrefs is a preferences element that cannot be accepted.
var errPrefs = errors.New("invalid preferences")

// parsePrefs reads a <prefs/> element.
func parsePrefs(el *stanza.Element) (*prefs, error) {
	p := &prefs{def: el.Attr("default")}
	switch p.def {
	case "always", "roster", "never":
	default:
		return nil, errPrefs
	}
	list := func(name string) ([]string, error) {
		var out []string
		if l := el.Child(NS, name); l != nil {
			for _, j := range l.ChildrenNamed(NS, "jid") {
				b := bareOf(j.Text())
				if b == "" {
					return nil, errPrefs
				}
				out = append(out, b)
			}
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	var err error
	if p.always, err = list("always"); err != nil {
		return nil, err
	}
	if p.never, err = list("never"); err != nil {
		return nil, err
	}
	if len(p.always)+len(p.never) > maxPrefsJIDs {
		return nil, errPrefs
	}
	return p, nil
}

// element renders the preferences as a <prefs/> element.
func (p *prefs) element() *stanza.Element {
	el := stanza.New(NS, "prefs", "default", p.def)
	always := stanza.New(NS, "always")
	for _, j := range p.always {
		always.Append(stanza.New(NS, "jid").AppendText(j))
	}
	never := stanza.New(NS, "never")
	for _, j := range p.never {
		never.Append(stanza.New(NS, "jid").AppendText(j))
	}
	return el.Append(always, never)
}

// errPrefsStanza is the stanza error for unacceptable preferences.
func errPrefsStanza(err error) error {
	if errors.Is(err, errPrefs) {
		return stanza.ErrText("bad-request", "preferences need a default of always, roster or never, valid JIDs, and at most 1000 of them")
	}
	return err
}
