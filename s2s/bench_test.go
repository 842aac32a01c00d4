package s2s_test

import (
	"fmt"
	"testing"

	"parley/internal/testutil"
)

// BenchmarkFederatedChat measures one-to-one messages between users of two
// servers: TLS in, route, the server-to-server link (serialize, TLS,
// parse, address checks), route, TLS out. Compare with c2s's
// BenchmarkChatThroughput, which takes the same message through one
// server.
func BenchmarkFederatedChat(b *testing.B) {
	s := federate(b, peer{domain: "a.test"}, peer{domain: "b.test"})
	alice := testutil.Login(b, s[0].Addr, "alice@a.test", "alice-pw", "r")
	bob := testutil.Login(b, s[1].Addr, "bob@b.test", "bob-pw", "r")
	msg := fmt.Sprintf("<message to='%s' type='chat' id='x'><body>Hello there, how are you today?</body></message>", bob.JID)
	// The first message sets the link up; it is not measured.
	alice.Send(msg)
	bob.Expect(testutil.IsKind("message"))
	b.ResetTimer()
	testutil.BenchChat(b, alice, bob, msg)
}
