package entitycaps

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/stanza"
)

type recorder struct {
	mu      sync.Mutex
	sent    []*stanza.Element
	learned map[string]Set
}

func (r *recorder) send(_ context.Context, el *stanza.Element) {
	r.mu.Lock()
	r.sent = append(r.sent, el)
	r.mu.Unlock()
}

func (r *recorder) learn(_ context.Context, full jid.JID, fs Set) {
	r.mu.Lock()
	r.learned[full.String()] = fs
	r.mu.Unlock()
}

func (r *recorder) take() []*stanza.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

func info(features ...string) *stanza.Element {
	q := stanza.New(NSDiscInfo, "query")
	q.Append(stanza.New(NSDiscInfo, "identity", "category", "client", "type", "phone"))
	for _, f := range features {
		q.Append(stanza.New(NSDiscInfo, "feature", "var", f))
	}
	return q
}

func presence(hash, ver string) *stanza.Element {
	return stanza.New("", "presence").Append(stanza.New(NS, "c", "hash", hash, "node", "urn:n", "ver", ver))
}

func answer(q *stanza.Element, body *stanza.Element) *stanza.Element {
	r := stanza.New("", "iq", "type", "result", "id", q.ID(), "from", q.To(), "to", q.From())
	if body != nil {
		r.Append(body)
	}
	return r
}

func TestTracker(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{learned: make(map[string]Set)}
	tr := New(rec.send, rec.learn, nil, Limits{Vers: 2, JIDs: 5, QueryTimeout: 100 * time.Millisecond}, zerolog.Nop())
	owner := jid.MustParse("owner@a.test")
	p1, p2, p3 := jid.MustParse("x@b.test/1"), jid.MustParse("y@b.test/2"), jid.MustParse("z@b.test/3")
	good := info("urn:f+notify", "urn:g")
	ver, _ := Ver(good)

	// Two addresses with an unknown hash: one query, to the first.
	if _, ok := tr.Observe(ctx, owner, p1, presence("sha-1", ver)); ok {
		t.Fatal("unknown hash known")
	}
	tr.Observe(ctx, owner, p2, presence("sha-1", ver))
	sent := rec.take()
	if len(sent) != 1 || sent[0].To() != p1.String() || sent[0].From() != owner.String() ||
		sent[0].Child(NSDiscInfo, "query").Attr("node") != "urn:n#"+ver {
		t.Fatalf("queries sent: %v", sent)
	}
	// An answer from someone else is not taken.
	forged := answer(sent[0], good)
	forged.SetAttr("from", p3.String())
	if tr.Response(ctx, forged) {
		t.Error("answer from the wrong address taken")
	}
	// A mismatched answer is good for its sender only; the next
	// address advertising the hash is asked.
	bad := info("urn:evil+notify")
	if !tr.Response(ctx, answer(sent[0], bad)) {
		t.Fatal("answer not taken")
	}
	if fs, ok := tr.Features(p1); !ok || !fs.Has("urn:evil+notify") {
		t.Errorf("p1 features %v, %v", fs, ok)
	}
	if tr.Known(ver) {
		t.Error("mismatched answer cached")
	}
	sent = rec.take()
	if len(sent) != 1 || sent[0].To() != p2.String() {
		t.Fatalf("after mismatch, queries: %v", sent)
	}
	tr.Response(ctx, answer(sent[0], good))
	if fs, ok := tr.Features(p2); !ok || !fs.Has("urn:f+notify") || !tr.Known(ver) {
		t.Errorf("p2 features %v, %v", fs, ok)
	}
	if fs := rec.learned[p2.String()]; !fs.Has("urn:g") {
		t.Errorf("learned not called for p2: %v", rec.learned)
	}
	// Now cached: no query.
	if fs, ok := tr.Observe(ctx, owner, p3, presence("sha-1", ver)); !ok || !fs.Has("urn:g") {
		t.Errorf("cached hash: %v, %v", fs, ok)
	}
	if sent := rec.take(); len(sent) != 0 {
		t.Errorf("query for a cached hash: %v", sent)
	}

	// Later presence without caps changes nothing; a first one makes
	// the features known and empty.
	if fs, ok := tr.Observe(ctx, owner, p1, stanza.New("", "presence")); !ok || !fs.Has("urn:evil+notify") {
		t.Errorf("update without caps: %v, %v", fs, ok)
	}
	tr.Forget(p1)
	if fs, ok := tr.Observe(ctx, owner, p1, stanza.New("", "presence")); !ok || len(fs) != 0 {
		t.Errorf("no caps: %v, %v", fs, ok)
	}
	// An error answer: empty features.
	other := info("urn:other")
	over, _ := Ver(other)
	tr.Observe(ctx, owner, p1, presence("sha-1", over))
	sent = rec.take()
	errAnswer := stanza.New("", "iq", "type", "error", "id", sent[0].ID(), "from", p1.String())
	if !tr.Response(ctx, errAnswer) {
		t.Fatal("error answer not taken")
	}
	if fs, ok := tr.Features(p1); !ok || len(fs) != 0 {
		t.Errorf("after error: %v, %v", fs, ok)
	}
	// An unanswered query times out and the next is asked.
	third := info("urn:third")
	tver, _ := Ver(third)
	tr.Observe(ctx, owner, p1, presence("sha-1", tver))
	tr.Observe(ctx, owner, p2, presence("sha-1", tver))
	if sent := rec.take(); len(sent) != 1 || sent[0].To() != p1.String() {
		t.Fatalf("queries: %v", sent)
	}
	time.Sleep(300 * time.Millisecond)
	if sent := rec.take(); len(sent) != 1 || sent[0].To() != p2.String() {
		t.Fatalf("after timeout, queries: %v", sent)
	}
	// Forgotten addresses are unknown.
	tr.Forget(p3)
	if _, ok := tr.Features(p3); ok {
		t.Error("forgotten address known")
	}
	// Beyond the address limit, older addresses make room.
	for i := range 10 {
		tr.Observe(ctx, owner, jid.MustParse("n@b.test/"+string(rune('a'+i))), stanza.New("", "presence"))
	}
	if _, ok := tr.Features(jid.MustParse("n@b.test/j")); !ok {
		t.Error("newest address not tracked")
	}
	tr.mu.Lock()
	n := len(tr.jids)
	tr.mu.Unlock()
	if n > 5 {
		t.Errorf("%d addresses tracked, limit 5", n)
	}
}

// docs is an in-memory Store.
type docs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (d *docs) Document(_ context.Context, user, kind, key string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.m[user+"|"+kind+"|"+key]
	if !ok {
		return nil, errors.New("not found")
	}
	return b, nil
}

func (d *docs) PutDocument(_ context.Context, user, kind, key string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[user+"|"+kind+"|"+key] = data
	return nil
}

// TestTrackerStore: a verified hash survives in the store, so that a
// new tracker (a restarted server) knows it without asking; a stored
// answer that does not match its hash is not trusted.
func TestTrackerStore(t *testing.T) {
	ctx := context.Background()
	store := &docs{m: make(map[string][]byte)}
	rec := &recorder{learned: make(map[string]Set)}
	tr := New(rec.send, rec.learn, store, Limits{}, zerolog.Nop())
	owner, p1 := jid.MustParse("owner@a.test"), jid.MustParse("x@b.test/1")
	q := info("urn:f+notify")
	ver, _ := Ver(q)
	tr.Observe(ctx, owner, p1, presence("sha-1", ver))
	tr.Response(ctx, answer(rec.take()[0], q))

	rec2 := &recorder{learned: make(map[string]Set)}
	tr2 := New(rec2.send, rec2.learn, store, Limits{}, zerolog.Nop())
	if fs, ok := tr2.Observe(ctx, owner, p1, presence("sha-1", ver)); !ok || !fs.Has("urn:f+notify") {
		t.Errorf("stored hash: %v, %v", fs, ok)
	}
	if sent := rec2.take(); len(sent) != 0 {
		t.Errorf("asked about a stored hash: %v", sent)
	}
	store.PutDocument(ctx, "", "entitycaps", "forged=", q.Bytes())
	if _, ok := tr2.Observe(ctx, owner, jid.MustParse("y@b.test/2"), presence("sha-1", "forged=")); ok {
		t.Error("a stored answer not matching its hash was trusted")
	}
}

// TestTrackerQueryLimit: beyond the queries in flight, an address with an
// unknown hash is taken to have no features, and nothing is sent.
func TestTrackerQueryLimit(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{learned: make(map[string]Set)}
	tr := New(rec.send, rec.learn, nil, Limits{Queries: 2}, zerolog.Nop())
	owner := jid.MustParse("owner@a.test")
	for i, v := range []string{"a=", "b=", "c="} {
		full := jid.MustParse("x@b.test/" + v[:1])
		fs, ok := tr.Observe(ctx, owner, full, presence("sha-1", v))
		if i < 2 && ok {
			t.Errorf("%s known at once", v)
		}
		if i == 2 && (!ok || len(fs) != 0) {
			t.Errorf("beyond the limit: %v, %v", fs, ok)
		}
	}
	if sent := rec.take(); len(sent) != 2 {
		t.Errorf("%d queries sent, want 2", len(sent))
	}
}
