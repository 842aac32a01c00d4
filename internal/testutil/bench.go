package testutil

import (
	"testing"

	"parley/stanza"
)

// chatWindow is how many messages a chat benchmark keeps in flight.
const chatWindow = 64

// BenchChat sends msg from one client b.N times, keeping up to 64
// messages in flight, and waits until to has received every one: the
// timed loop of a chat throughput benchmark.
func BenchChat(b *testing.B, from, to *Client, msg string) {
	b.Helper()
	sent := 0
	for i := 0; i < b.N; i++ {
		from.Send(msg)
		sent++
		if sent == chatWindow || i == b.N-1 {
			for ; sent > 0; sent-- {
				to.Expect(func(el *stanza.Element) bool { return el.Local == "message" })
			}
		}
	}
}
