package c2s_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
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
	testutil.BenchChat(b, a, bob, msg)
}
