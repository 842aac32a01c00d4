package muc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/internal/testutil"
	"parley/muc"
	"parley/router"
	"parley/stanza"
)

// TestRoomConcurrentSenders has several occupants post to one room at once,
// from their own goroutines as client streams do, while others join and
// leave: every occupant must get every message, each sender's in the
// order sent, and all occupants the same order overall.
func TestRoomConcurrentSenders(t *testing.T) {
	const (
		domain     = "load.test"
		occupants  = 20
		senders    = 5
		perSender  = 300
		roomJIDStr = "busy@conference." + domain
	)
	ctx := context.Background()
	r := router.New([]string{domain}, everyAccount{}, zerolog.Nop())
	svc, err := muc.Register(ctx, r, muc.Options{
		Domain: "conference." + domain,
		Log:    zerolog.Nop(),
		Policy: muc.Policy{MaxOccupants: 100, HistoryLength: 10, Defaults: muc.RoomDefaults{History: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sessions := make([]*testutil.RecordingSession, occupants+1)
	fulls := make([]string, occupants+1)
	bind := func(i int) {
		fulls[i] = fmt.Sprintf("u%d@%s/r", i, domain)
		j, _ := r.ParseJID(fulls[i])
		sessions[i] = &testutil.RecordingSession{}
		r.Bind(ctx, j, sessions[i]).SetPresence(stanza.New("", "presence"))
	}
	joinRoom := func(i int) {
		svc.Handle(ctx, stanza.New("", "presence", "from", fulls[i], "to", fmt.Sprintf("%s/n%d", roomJIDStr, i)).
			Append(stanza.New(muc.NS, "x").Append(stanza.New(muc.NS, "history", "maxstanzas", "0"))))
	}
	for i := range occupants + 1 {
		bind(i)
	}
	for i := range occupants {
		joinRoom(i)
	}
	for _, s := range sessions {
		s.Sent()
	}

	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perSender {
				svc.Handle(ctx, stanza.New("", "message", "from", fulls[s], "to", roomJIDStr, "type", "groupchat").
					Append(stanza.New("", "body").AppendText(fmt.Sprintf("%d:%d", s, k))))
			}
		}()
	}
	// Someone comes and goes meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			joinRoom(occupants)
			svc.Handle(ctx, stanza.New("", "presence", "type", "unavailable", "from", fulls[occupants], "to", roomJIDStr))
		}
	}()
	wg.Wait()
	// A busy room's queue may still be running on a goroutine of its own;
	// tasks run in order, so once the room answers a ping it has handled
	// every message.
	svc.Handle(ctx, stanza.New("", "iq", "type", "get", "id", "sync", "from", fulls[0], "to", roomJIDStr).
		Append(stanza.New("urn:xmpp:ping", "ping")))
	got := make([][]*stanza.Element, occupants)
	deadline := time.Now().Add(testutil.Timeout)
	for synced := false; !synced; {
		if time.Now().After(deadline) {
			t.Fatal("the room did not answer the ping")
		}
		time.Sleep(time.Millisecond)
		for i := range got {
			got[i] = append(got[i], sessions[i].Sent()...)
		}
		for _, el := range got[0] {
			synced = synced || (el.Local == "iq" && el.ID() == "sync")
		}
	}
	for i := range got {
		got[i] = append(got[i], sessions[i].Sent()...)
	}

	var first []string
	for i := range occupants {
		var bodies []string
		next := make([]int, senders)
		for _, el := range got[i] {
			if el.Local != "message" {
				continue
			}
			b := el.ChildText("", "body")
			var s, k int
			fmt.Sscanf(b, "%d:%d", &s, &k)
			if k != next[s] {
				t.Fatalf("occupant %d got message %d of sender %d, want %d", i, k, s, next[s])
			}
			next[s]++
			bodies = append(bodies, b)
		}
		if len(bodies) != senders*perSender {
			t.Fatalf("occupant %d got %d messages, want %d", i, len(bodies), senders*perSender)
		}
		if i == 0 {
			first = bodies
		} else if strings.Join(bodies, ",") != strings.Join(first, ",") {
			t.Fatalf("occupant %d saw the messages in another order than occupant 0", i)
		}
	}
}

// TestRoomVanishingKeepsOrder has a user enter a temporary room and post
// at once while its last occupant leaves: whether the join lands before
// the room vanishes or creates it afresh, the user's message must never
// overtake its join (it would get item-not-found from a room it is
// entering).
func TestRoomVanishingKeepsOrder(t *testing.T) {
	const domain = "order.test"
	ctx := context.Background()
	r := router.New([]string{domain}, everyAccount{}, zerolog.Nop())
	svc, err := muc.Register(ctx, r, muc.Options{
		Domain: "conference." + domain,
		Log:    zerolog.Nop(),
		Policy: muc.Policy{MaxOccupants: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	sessions := make([]*testutil.RecordingSession, 2)
	fulls := make([]string, 2)
	for i := range sessions {
		fulls[i] = fmt.Sprintf("u%d@%s/r", i, domain)
		j, _ := r.ParseJID(fulls[i])
		sessions[i] = &testutil.RecordingSession{}
		r.Bind(ctx, j, sessions[i]).SetPresence(stanza.New("", "presence"))
	}
	for round := range 500 {
		room := fmt.Sprintf("r%d@conference.%s", round, domain)
		svc.Handle(ctx, stanza.New("", "presence", "from", fulls[0], "to", room+"/a"))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			svc.Handle(ctx, stanza.New("", "presence", "type", "unavailable", "from", fulls[0], "to", room+"/a"))
		}()
		go func() {
			defer wg.Done()
			svc.Handle(ctx, stanza.New("", "presence", "from", fulls[1], "to", room+"/b"))
			svc.Handle(ctx, stanza.New("", "message", "type", "groupchat", "from", fulls[1], "to", room).
				Append(stanza.New("", "body").AppendText("hi")))
			svc.Handle(ctx, stanza.New("", "presence", "type", "unavailable", "from", fulls[1], "to", room+"/b"))
		}()
		wg.Wait()
		deadline := time.Now().Add(testutil.Timeout)
		for done := false; !done; {
			for _, el := range sessions[1].Sent() {
				if el.Type() == "error" {
					t.Fatalf("round %d: %s", round, el)
				}
				done = done || (el.Local == "presence" && el.Type() == "unavailable")
			}
			if !done {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: u1 never left", round)
				}
				time.Sleep(time.Millisecond)
			}
		}
		sessions[0].Sent()
	}
}
