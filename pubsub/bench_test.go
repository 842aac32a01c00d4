package pubsub

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/entitycaps"
	"parley/router"
	"parley/stanza"
	"parley/storage"
	"parley/storage/sqlite"
)

// writingSession serializes what it is sent into a buffered writer, as
// a client stream's writer does, and counts it.
type writingSession struct {
	w *bufio.Writer
	n int
}

func (s *writingSession) Send(el *stanza.Element) bool {
	el.WriteTo(s.w)
	s.w.Flush()
	s.n++
	return true
}

func (s *writingSession) Close(string, string) {}

// BenchmarkPublishFanOut publishes one item to a node of an account
// with contacts mutual contacts, each online with one resource that
// asks for the node's notifications and one that does not: the cost of
// one publish and its notifications, up to their serialization.
func BenchmarkPublishFanOut(b *testing.B) {
	for _, contacts := range []int{10, 100} {
		b.Run(fmt.Sprintf("contacts=%d", contacts), func(b *testing.B) {
			benchmarkPublishFanOut(b, contacts)
		})
	}
}

func benchmarkPublishFanOut(b *testing.B, contacts int) {
	ctx := context.Background()
	s, owner, payload, sessions := fanOutSetup(b, contacts)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for range b.N {
		if _, err := s.Publish(ctx, owner, benchNode, "current", payload, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	checkNotified(b, sessions, b.N+1)
	// Wall time includes waiting for the disk (each publish is stored
	// with synchronous=FULL); CPU time is what the fan-out costs.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*contacts), "cpu-ns/notification")
}

// BenchmarkNotifyFanOut sends the notifications of one publish, as
// BenchmarkPublishFanOut does, without storing the item: the cost of
// finding the recipients and of building, routing and serializing
// their notifications.
func BenchmarkNotifyFanOut(b *testing.B) {
	for _, contacts := range []int{10, 100} {
		b.Run(fmt.Sprintf("contacts=%d", contacts), func(b *testing.B) {
			ctx := context.Background()
			s, owner, payload, sessions := fanOutSetup(b, contacts)
			n, err := s.loadNode(ctx, owner, benchNode)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				s.notify(ctx, owner, n, s.itemsEvent(n, Item{ID: "current", Payload: payload}, false))
			}
			b.StopTimer()
			checkNotified(b, sessions, b.N+1)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*contacts), "ns/notification")
		})
	}
}

// benchNode is the node the fan-out benchmarks publish to.
const benchNode = "http://jabber.org/protocol/tune"

// checkNotified fails b unless every session got n notifications.
func checkNotified(b *testing.B, sessions []*writingSession, n int) {
	for _, sess := range sessions {
		if sess.n != n {
			b.Fatalf("a +notify resource got %d notifications, want %d", sess.n, n)
		}
	}
}

// fanOutSetup starts a service whose account owner has contacts mutual
// contacts, each online with one resource asking for benchNode's
// notifications (whose sessions it returns) and one not, and publishes
// payload once.
func fanOutSetup(b *testing.B, contacts int) (*Service, jid.JID, *stanza.Element, []*writingSession) {
	ctx := context.Background()
	const domain = "bench.test"
	const nodeName = benchNode
	store, err := sqlite.Open(ctx, b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	r := router.New([]string{domain}, store, zerolog.Nop())
	s := New(r, store, Limits{MaxNodes: 10, MaxItems: 10, MaxItemSize: 1 << 16}, zerolog.Nop())
	s.Register(r)

	// Two capabilities hashes the server has verified before: with and
	// without the node's +notify.
	hashes := make(map[bool]string)
	for _, notify := range []bool{true, false} {
		q := stanza.New(entitycaps.NSDiscInfo, "query")
		q.Append(stanza.New(entitycaps.NSDiscInfo, "identity", "category", "client", "type", "pc", "name", "bench"))
		q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", entitycaps.NSDiscInfo))
		if notify {
			q.Append(stanza.New(entitycaps.NSDiscInfo, "feature", "var", nodeName+"+notify"))
		}
		ver, err := entitycaps.Ver(q)
		if err != nil {
			b.Fatal(err)
		}
		if err := store.PutDocument(ctx, "", "entitycaps", ver, q.Bytes()); err != nil {
			b.Fatal(err)
		}
		hashes[notify] = ver
	}
	owner := jid.MustParse("owner@" + domain)
	if err := store.CreateAccount(ctx, "owner@"+domain, nil); err != nil {
		b.Fatal(err)
	}
	var sessions []*writingSession
	for i := range contacts {
		contact := fmt.Sprintf("contact%d@%s", i, domain)
		if err := store.CreateAccount(ctx, contact, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := store.PutRosterItem(ctx, owner.String(), storage.RosterItem{JID: contact, Subscription: "both"}); err != nil {
			b.Fatal(err)
		}
		if _, err := store.PutRosterItem(ctx, contact, storage.RosterItem{JID: owner.String(), Subscription: "both"}); err != nil {
			b.Fatal(err)
		}
		for _, notify := range []bool{true, false} {
			full := jid.MustParse(fmt.Sprintf("%s/r%v", contact, notify))
			sess := &writingSession{w: bufio.NewWriterSize(io.Discard, 4096)}
			res := r.Bind(ctx, full, sess)
			p := stanza.New("", "presence").Append(stanza.New(entitycaps.NS, "c", "hash", "sha-1", "node", "urn:bench", "ver", hashes[notify]))
			res.SetPresence(p)
			if _, ok := s.caps.Observe(ctx, full.Bare(), full, p); !ok {
				b.Fatalf("capabilities of %s not known", full)
			}
			if notify {
				sessions = append(sessions, sess)
			}
		}
	}
	payload := stanza.New(nodeName, "tune").Append(stanza.New(nodeName, "title").AppendText("a title of some sixty characters, as tunes have them"))
	if _, err := s.Publish(ctx, owner, nodeName, "current", payload, nil); err != nil {
		b.Fatal(err)
	}
	return s, owner, payload, sessions
}

// processCPU returns the CPU time (user and system) the process used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
