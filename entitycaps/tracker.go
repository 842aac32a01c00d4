package entitycaps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/stanza"
)

// Set is a feature list as a set.
type Set map[string]struct{}

// Has reports whether the set holds feature.
func (s Set) Has(feature string) bool {
	_, ok := s[feature]
	return ok
}

// Limits bound the tracker's memory.
type Limits struct {
	// Vers is how many verified hashes are cached; the oldest learned is
	// forgotten first.
	Vers int
	// JIDs is how many addresses are tracked at once; beyond it an
	// address tracked before is forgotten for each new one.
	JIDs int
	// Queries is how many disco#info queries may wait for an answer at
	// once; an address advertising an unknown hash beyond it is taken
	// to have no features.
	Queries int
	// QueryTimeout is how long an unanswered disco#info query waits
	// before the next entity advertising the same hash is asked.
	QueryTimeout time.Duration
}

// DefaultLimits returns the limits a zero Limits field takes.
func DefaultLimits() Limits {
	return Limits{Vers: 10000, JIDs: 200000, Queries: 1000, QueryTimeout: 30 * time.Second}
}

// Store keeps verified hashes across restarts: storage.Documents, under
// the user "" (the server) and the kind "entitycaps", keyed by hash, each
// the disco#info answer that verified it.
type Store interface {
	Document(ctx context.Context, user, kind, key string) ([]byte, error)
	PutDocument(ctx context.Context, user, kind, key string, data []byte) error
}

// storeKind is the Documents kind of verified hashes.
const storeKind = "entitycaps"

// Tracker follows the capabilities of the addresses whose presence it is
// shown. It is safe for concurrent use.
type Tracker struct {
	send    func(ctx context.Context, el *stanza.Element)
	learned func(ctx context.Context, full jid.JID, features Set)
	limits  Limits
	log     zerolog.Logger
	store   Store // may be nil

	mu      sync.Mutex
	vers    map[string]Set   // verified hash -> features
	order   []string         // hashes in the order learned, for eviction
	jids    map[string]state // full JID -> what it advertises
	queries map[string]*query
	byVer   map[string]*query // hash -> query in flight
}

// state is what a full JID advertises, once resolved: the features of a
// verified hash, or features of its own (an unverifiable or mismatched
// answer, or none without caps).
type state struct {
	fs       Set
	resolved bool
}

// query is a disco#info request in flight for one hash.
type query struct {
	id, ver, node, hash string
	querier, target     jid.JID
	waiting             []jid.JID // further addresses advertising ver
	timer               *time.Timer
}

// New returns a tracker that sends its disco#info queries with send and
// calls learned (outside its lock) once a queried address's features
// become known. Verified hashes are kept in store too, when it is not
// nil. Zero limits take their defaults.
func New(send func(ctx context.Context, el *stanza.Element), learned func(ctx context.Context, full jid.JID, features Set), store Store, limits Limits, log zerolog.Logger) *Tracker {
	def := DefaultLimits()
	if limits.Vers <= 0 {
		limits.Vers = def.Vers
	}
	if limits.JIDs <= 0 {
		limits.JIDs = def.JIDs
	}
	if limits.Queries <= 0 {
		limits.Queries = def.Queries
	}
	if limits.QueryTimeout <= 0 {
		limits.QueryTimeout = def.QueryTimeout
	}
	return &Tracker{
		send: send, learned: learned, store: store, limits: limits, log: log,
		vers: make(map[string]Set), jids: make(map[string]state),
		queries: make(map[string]*query), byVer: make(map[string]*query),
	}
}

// Features returns the features of full and whether they are known.
func (t *Tracker) Features(full jid.JID) (Set, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.jids[full.String()]
	if !ok || !st.resolved {
		return nil, false
	}
	return st.fs, true
}

// Forget drops what is known of full (it went offline).
func (t *Tracker) Forget(full jid.JID) {
	t.mu.Lock()
	delete(t.jids, full.String())
	t.mu.Unlock()
}

// Observe reads the capabilities of available presence p from full,
// and returns its features when they are known at once. Otherwise it
// asks full (from querier, an address whose answers reach Response) and
// calls learned when the answer comes. An address's first presence
// without capabilities makes its features known and empty; later
// presence without them leaves them as they were.
func (t *Tracker) Observe(ctx context.Context, querier, full jid.JID, p *stanza.Element) (Set, bool) {
	c := p.Child(NS, "c")
	key := full.String()
	t.mu.Lock()
	if _, tracked := t.jids[key]; !tracked && len(t.jids) >= t.limits.JIDs {
		// Make room: forget one address, any (most likely one whose
		// server never said it went offline).
		for k := range t.jids {
			delete(t.jids, k)
			break
		}
	}
	if c == nil || c.Attr("ver") == "" || c.Attr("hash") == "" {
		if st, ok := t.jids[key]; ok && c == nil {
			// A presence update without capabilities changes nothing
			// (clients should repeat them, some do not).
			t.mu.Unlock()
			return st.fs, st.resolved
		}
		// No capabilities, or only legacy ones (no hash): nothing to
		// learn.
		t.jids[key] = state{fs: Set{}, resolved: true}
		t.mu.Unlock()
		return Set{}, true
	}
	ver, hash, node := c.Attr("ver"), c.Attr("hash"), c.Attr("node")
	if hash == "sha-1" {
		if _, ok := t.vers[ver]; !ok && t.store != nil && t.byVer[ver] == nil {
			t.mu.Unlock()
			fs, found := t.load(ctx, ver)
			t.mu.Lock()
			if found {
				t.cacheLocked(ver, fs)
			}
		}
		if fs, ok := t.vers[ver]; ok {
			t.jids[key] = state{fs: fs, resolved: true}
			t.mu.Unlock()
			return fs, true
		}
		if old, ok := t.jids[key]; ok && !old.resolved && t.byVer[ver] != nil {
			t.mu.Unlock()
			return nil, false // already waiting for this hash
		}
		t.jids[key] = state{}
		if q := t.byVer[ver]; q != nil {
			if !q.target.Equal(full) {
				q.waiting = append(q.waiting, full)
			}
			t.mu.Unlock()
			return nil, false
		}
	} else {
		t.jids[key] = state{}
	}
	if len(t.queries) >= t.limits.Queries {
		t.jids[key] = state{fs: Set{}, resolved: true}
		t.mu.Unlock()
		t.log.Debug().Int("limit", t.limits.Queries).Msg("entity capabilities: too many queries waiting; taking an address to have no features")
		return Set{}, true
	}
	q := t.startLocked(querier, full, ver, hash, node)
	t.mu.Unlock()
	t.ask(ctx, q)
	return nil, false
}

// load reads a verified hash from the store, checking it again.
func (t *Tracker) load(ctx context.Context, ver string) (Set, bool) {
	data, err := t.store.Document(ctx, "", storeKind, ver)
	if err != nil {
		return nil, false // not stored, or unreadable: ask
	}
	q, err := stanza.ParseBytes(data)
	if err != nil {
		return nil, false
	}
	if got, err := Ver(q); err != nil || got != ver {
		return nil, false
	}
	return toSet(Features(q)), true
}

// startLocked registers a query for ver to full.
func (t *Tracker) startLocked(querier, full jid.JID, ver, hash, node string) *query {
	q := &query{id: newID(), ver: ver, hash: hash, node: node, querier: querier, target: full}
	t.queries[q.id] = q
	if hash == "sha-1" {
		t.byVer[ver] = q
	}
	q.timer = time.AfterFunc(t.limits.QueryTimeout, func() { t.expire(q) })
	return q
}

func (t *Tracker) ask(ctx context.Context, q *query) {
	iq := stanza.New("", "iq", "type", "get", "id", q.id, "from", q.querier.String(), "to", q.target.String())
	qe := stanza.New(NSDiscInfo, "query")
	if q.node != "" {
		qe.SetAttr("node", q.node+"#"+q.ver)
	}
	t.send(ctx, iq.Append(qe))
}

// expire gives up on an unanswered query and asks the next waiting
// address, if any.
func (t *Tracker) expire(q *query) {
	t.mu.Lock()
	if t.queries[q.id] != q {
		t.mu.Unlock()
		return
	}
	delete(t.queries, q.id)
	next := t.nextLocked(q)
	t.mu.Unlock()
	if next != nil {
		t.ask(context.Background(), next)
	}
}

// nextLocked ends q and starts the query of its next waiting address
// that still advertises q's hash, returning it (or nil).
func (t *Tracker) nextLocked(q *query) *query {
	if t.byVer[q.ver] == q {
		delete(t.byVer, q.ver)
	}
	for len(q.waiting) > 0 {
		w := q.waiting[0]
		q.waiting = q.waiting[1:]
		if st, ok := t.jids[w.String()]; ok && !st.resolved {
			n := t.startLocked(q.querier, w, q.ver, q.hash, q.node)
			n.waiting = q.waiting
			return n
		}
	}
	return nil
}

// Response takes an iq result or error answering one of the tracker's
// queries and reports whether it was one (and so is consumed).
func (t *Tracker) Response(ctx context.Context, el *stanza.Element) bool {
	if el.Local != "iq" || (el.Type() != "result" && el.Type() != "error") {
		return false
	}
	t.mu.Lock()
	q := t.queries[el.ID()]
	if q == nil {
		t.mu.Unlock()
		return false
	}
	if from, err := jid.Parse(el.From()); err != nil || !from.Equal(q.target) {
		t.mu.Unlock()
		return false
	}
	delete(t.queries, q.id)
	q.timer.Stop()
	type done struct {
		full jid.JID
		fs   Set
	}
	var learned []done
	var next *query
	var verified *stanza.Element
	res := el.Child(NSDiscInfo, "query")
	key := q.target.String()
	_, tracked := t.jids[key]
	switch {
	case el.Type() == "error" || res == nil:
		if tracked {
			t.jids[key] = state{fs: Set{}, resolved: true}
			learned = append(learned, done{q.target, Set{}})
		}
		next = t.nextLocked(q)
	default:
		fs := toSet(Features(res))
		ver, err := Ver(res)
		if q.hash == "sha-1" && err == nil && ver == q.ver {
			t.cacheLocked(q.ver, fs)
			verified = res
			delete(t.byVer, q.ver)
			for _, w := range append([]jid.JID{q.target}, q.waiting...) {
				if st, ok := t.jids[w.String()]; ok && !st.resolved {
					t.jids[w.String()] = state{fs: fs, resolved: true}
					learned = append(learned, done{w, fs})
				}
			}
			break
		}
		// Unverified: good for the address that said it, not for the
		// hash, which the next one advertising it is asked about.
		if q.hash == "sha-1" {
			t.log.Debug().Str("ver", q.ver).Str("computed", ver).AnErr("error", err).Msg("entity capabilities: answer does not match its hash")
		}
		if tracked {
			t.jids[key] = state{fs: fs, resolved: true}
			learned = append(learned, done{q.target, fs})
		}
		next = t.nextLocked(q)
	}
	t.mu.Unlock()
	if verified != nil && t.store != nil {
		if err := t.store.PutDocument(ctx, "", storeKind, q.ver, verified.Bytes()); err != nil {
			t.log.Warn().Err(err).Msg("entity capabilities: storing a verified hash")
		}
	}
	if next != nil {
		t.ask(ctx, next)
	}
	for _, d := range learned {
		t.learned(ctx, d.full, d.fs)
	}
	return true
}

// cacheLocked remembers a verified hash, forgetting the oldest beyond
// the limit.
func (t *Tracker) cacheLocked(ver string, fs Set) {
	if _, ok := t.vers[ver]; !ok {
		t.order = append(t.order, ver)
	}
	t.vers[ver] = fs
	for len(t.order) > t.limits.Vers {
		delete(t.vers, t.order[0])
		t.order = t.order[1:]
	}
}

// Known reports whether a verified hash is cached.
func (t *Tracker) Known(ver string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.vers[ver]
	return ok
}

func toSet(features []string) Set {
	s := make(Set, len(features))
	for _, f := range features {
		s[f] = struct{}{}
	}
	return s
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return "caps-" + hex.EncodeToString(b[:])
}
