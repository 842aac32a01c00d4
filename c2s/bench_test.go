package c2s_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
	"parley/stanza"
)

// BenchmarkChatThroughput measures one-to-one messages through a real
// server: TLS in, parse, route, serialize, TLS out.
func BenchmarkChatThroughput(b *testing.B) {
	srv := testutil.StartServer(b, "")
	srv.AddUser("alice", "pw")
	srv.AddUser("bob", "pw")
	a := testutil.Login(b, srv.Addr, "alice", "pw", "r")
	bob := testutil.Login(b, srv.Addr, "bob", "pw", "r")
	msg := fmt.Sprintf("<message to='%s' type='chat' id='x'><body>Hello there, how are you today?</body></message>", bob.JID)
	b.ResetTimer()
	const window = 64
	sent := 0
	for i := 0; i < b.N; i++ {
		a.Send(msg)
		sent++
		if sent == window || i == b.N-1 {
			for ; sent > 0; sent-- {
				bob.Expect(func(el *stanza.Element) bool { return el.Local == "message" })
			}
		}
	}
}
