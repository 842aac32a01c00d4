package muc_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"parley/muc"
	"parley/router"
	"parley/stanza"
)

// countingSession is a router session that only counts what it is sent.
type countingSession struct{ n *atomic.Int64 }

func (s countingSession) Send(*stanza.Element) bool { s.n.Add(1); return true }
func (countingSession) Close(string, string)        {}

// everyAccount is an account checker for which every account exists.
type everyAccount struct{}

func (everyAccount) AccountExists(context.Context, string) (bool, error) { return true, nil }

// BenchmarkRoomFanout measures group chat fan-out through the real
// router: one occupant posts to a room of 10, 100 or 500 occupants, each
// bound to an in-memory session; every copy a session receives is a
// delivery.
func BenchmarkRoomFanout(b *testing.B) {
	for _, size := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("occupants=%d", size), func(b *testing.B) {
			ctx := context.Background()
			const domain, service = "bench.test", "conference.bench.test"
			r := router.New([]string{domain}, everyAccount{}, zerolog.Nop())
			svc, err := muc.Register(ctx, r, muc.Options{
				Domain: service,
				Log:    zerolog.Nop(),
				Policy: muc.Policy{MaxOccupants: 1000, HistoryLength: 20, Defaults: muc.RoomDefaults{History: true}},
			})
			if err != nil {
				b.Fatal(err)
			}
			var delivered atomic.Int64
			room := "room@" + service
			for i := range size {
				full := fmt.Sprintf("u%d@%s/r", i, domain)
				j, err := r.ParseJID(full)
				if err != nil {
					b.Fatal(err)
				}
				res := r.Bind(ctx, j, countingSession{&delivered})
				res.SetPresence(stanza.New("", "presence"))
				svc.Handle(ctx, stanza.New("", "presence", "from", full, "to", fmt.Sprintf("%s/n%d", room, i)).
					Append(stanza.New(muc.NS, "x")))
			}
			msg, err := stanza.Parse(fmt.Sprintf("<message from='u0@%s/r' to='%s' type='groupchat' id='m'>"+
				"<body>A message of ordinary length, as people type them in a busy room.</body></message>", domain, room))
			if err != nil {
				b.Fatal(err)
			}
			delivered.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				svc.Handle(ctx, msg)
			}
			b.StopTimer()
			if got, want := delivered.Load(), int64(b.N*size); got != want {
				b.Fatalf("%d deliveries, want %d", got, want)
			}
			b.ReportMetric(float64(delivered.Load())/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
