package entitytime_test

import (
	"testing"
	"time"

	"parley/internal/testutil"
)

func TestEntityTime(t *testing.T) {
	srv := testutil.StartServer(t, "")
	srv.AddUser("alice", "pw")
	a := testutil.Login(t, srv.Addr, "alice", "pw", "desk")
	cases := []struct {
		name, typ, payload, want string
	}{
		{"get", "get", "<time xmlns='urn:xmpp:time'/>", ""},
		{"set", "set", "<time xmlns='urn:xmpp:time'/>", "bad-request"},
		{"unknown element", "get", "<clock xmlns='urn:xmpp:time'/>", "feature-not-implemented"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.IQ("<iq type='" + c.typ + "' to='" + srv.Domain + "'>" + c.payload + "</iq>")
			if c.want != "" {
				if cond := testutil.ErrorCondition(got); cond != c.want {
					t.Fatalf("got %s, want %s", got, c.want)
				}
				return
			}
			tm := got.Child("urn:xmpp:time", "time")
			if got.Type() != "result" || tm == nil {
				t.Fatalf("got %s", got)
			}
			if tzo := tm.ChildText("urn:xmpp:time", "tzo"); tzo != "+00:00" {
				t.Errorf("tzo %q", tzo)
			}
			utc := tm.ChildText("urn:xmpp:time", "utc")
			when, err := time.Parse(time.RFC3339Nano, utc)
			if err != nil || utc[len(utc)-1] != 'Z' {
				t.Fatalf("utc %q: %v", utc, err)
			}
			if d := time.Since(when); d < -time.Minute || d > time.Minute {
				t.Errorf("utc %q is %v off", utc, d)
			}
		})
	}
}
