package usage_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"mellium.im/xmpp/jid"

	"parley/modules/usage"
	"parley/router"
	"parley/stanza"
)

// BenchmarkRoute routes a one-to-one chat message between two local
// accounts through a router, without and with usage accounting: the
// difference is what counting costs a message.
func BenchmarkRoute(b *testing.B) {
	for _, counted := range []bool{false, true} {
		name := "without"
		if counted {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			r := router.New([]string{domain}, accounts{alice: true, bob: true}, zerolog.Nop())
			if counted {
				usage.New(&fakeStore{}, usage.Options{Log: zerolog.Nop()}).Register(r)
			}
			// A hook at each point, as the server always has.
			r.Hook(router.FromSession, 0, func(context.Context, *router.Event) router.Verdict { return router.Continue })
			r.Hook(router.ToAccount, 0, func(context.Context, *router.Event) router.Verdict { return router.Continue })
			from := r.Bind(ctx, jid.MustParse(alice+"/desk"), discard{})
			to := r.Bind(ctx, jid.MustParse(bob+"/desk"), discard{})
			to.SetPresence(stanza.New("", "presence"))
			el, err := stanza.Parse("<message to='" + bob + "' type='chat' id='x'><body>Hello there, how are you today?</body></message>")
			if err != nil {
				b.Fatal(err)
			}
			el.SetAttr("from", from.JID.String())
			b.ReportAllocs()
			for b.Loop() {
				r.Route(ctx, from, el)
			}
		})
	}
}
