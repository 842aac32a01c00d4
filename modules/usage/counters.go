package usage

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley/storage"
)

// counter names one of an account's counters.
type counter int

const (
	logins counter = iota
	oneToOneSent
	oneToOneReceived
	groupSent
	groupReceived
	federatedSent
	federatedReceived
	uploads
	uploadBytes

	numCounters
)

// recentGroup is how many group-chat messages an account remembers, so
// that a message reaching several of its resources, or echoed to its
// sender, counts once.
const recentGroup = 8

// account is what one account did since the last flush. The message path
// only adds to its counters.
type account struct {
	n    [numCounters]atomic.Int64
	seen atomic.Int64 // latest time seen since the last flush, Unix ns; 0: none

	// written is the last seen time stored, Unix ns; only the flush
	// uses it.
	written int64

	mu     sync.Mutex
	recent *[recentGroup]groupMessage // made at the first group-chat message: most idle accounts never need it
	next   int
}

// groupMessage identifies a group-chat message: its room and its id.
type groupMessage struct{ room, id string }

func (a *account) add(c counter, n int64) { a.n[c].Add(n) }

// see records that the account was seen at t (Unix ns).
func (a *account) see(t int64) {
	for {
		old := a.seen.Load()
		if t <= old || a.seen.CompareAndSwap(old, t) {
			return
		}
	}
}

// firstTime remembers the group-chat message m and reports whether it
// was new to the account; an empty id is always new.
func (a *account) firstTime(m groupMessage) bool {
	if m.id == "" {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.recent == nil {
		a.recent = new([recentGroup]groupMessage)
	}
	for _, r := range a.recent {
		if r == m {
			return false
		}
	}
	a.recent[a.next] = m
	a.next = (a.next + 1) % recentGroup
	return true
}

// take moves the counts and the last seen time into a record of day and
// reports whether there was anything. A last seen time outside the day
// (a flush just after midnight) is brought to its nearest end.
func (a *account) take(day time.Time) (storage.UsageRecord, bool) {
	var c storage.UsageCounts
	for i, p := range []*int64{&c.Logins, &c.OneToOneSent, &c.OneToOneReceived, &c.GroupSent, &c.GroupReceived,
		&c.FederatedSent, &c.FederatedReceived, &c.Uploads, &c.UploadBytes} {
		*p = a.n[i].Swap(0)
	}
	rec := storage.UsageRecord{Day: day, UsageCounts: c}
	if seen := a.seen.Swap(0); seen != 0 {
		t := time.Unix(0, seen).UTC()
		if end := day.Add(24*time.Hour - time.Nanosecond); t.After(end) {
			t = end
		} else if t.Before(day) {
			t = day
		}
		rec.LastSeen = t
		a.written = t.UnixNano()
	}
	return rec, !c.Zero() || !rec.LastSeen.IsZero()
}

// putBack adds a record that could not be stored back to the counts.
func (a *account) putBack(rec storage.UsageRecord) {
	c := rec.UsageCounts
	for i, v := range []int64{c.Logins, c.OneToOneSent, c.OneToOneReceived, c.GroupSent, c.GroupReceived,
		c.FederatedSent, c.FederatedReceived, c.Uploads, c.UploadBytes} {
		if v != 0 {
			a.n[i].Add(v)
		}
	}
	if !rec.LastSeen.IsZero() {
		a.see(rec.LastSeen.UnixNano())
	}
}

// numShards is how many parts the table of accounts is split in, each
// with a lock of its own, so that the message path on many cores does
// not contend on one.
const numShards = 64

// table maps bare JIDs to their accounts.
type table struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*account
	_  [64]byte // keeps neighbouring shards' locks off one cache line
}

func newTable() *table {
	t := &table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*account)
	}
	return t
}

func (t *table) shard(user string) *shard {
	return &t.shards[maphash.String(t.seed, user)%numShards]
}

// get returns user's account, creating it.
func (t *table) get(user string) *account {
	s := t.shard(user)
	s.mu.RLock()
	a := s.m[user]
	s.mu.RUnlock()
	if a != nil {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a = s.m[user]; a == nil {
		a = new(account)
		s.m[strings.Clone(user)] = a
	}
	return a
}

// forget drops user's account.
func (t *table) forget(user string) {
	s := t.shard(user)
	s.mu.Lock()
	delete(s.m, user)
	s.mu.Unlock()
}

// entry is one account of the table with its user.
type entry struct {
	user string
	a    *account
}

// entries returns every account of the table.
func (t *table) entries() []entry {
	var out []entry
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for u, a := range s.m {
			out = append(out, entry{u, a})
		}
		s.mu.RUnlock()
	}
	return out
}

// remove drops e from the table, if it is still e's account.
func (t *table) remove(e entry) {
	s := t.shard(e.user)
	s.mu.Lock()
	if s.m[e.user] == e.a {
		delete(s.m, e.user)
	}
	s.mu.Unlock()
}
