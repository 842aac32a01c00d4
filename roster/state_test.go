package roster

import "testing"

// states names the subscription states of RFC 6121 Appendix A.1.
var states = map[string]state{
	"None":                  {},
	"None + Pending Out":    {PendingOut: true},
	"None + Pending In":     {PendingIn: true},
	"None + Pending Out/In": {PendingOut: true, PendingIn: true},
	"To":                    {To: true},
	"To + Pending In":       {To: true, PendingIn: true},
	"From":                  {From: true},
	"From + Pending Out":    {From: true, PendingOut: true},
	"Both":                  {To: true, From: true},
}

// row is one line of an Appendix A table: the existing state, whether the
// stanza is routed (outbound) or delivered (inbound), and the new state
// ("" for no state change).
type row struct {
	existing string
	forward  bool
	next     string
}

func checkTable(t *testing.T, f func(string, state) (state, effect), typ string, rows []row) {
	t.Helper()
	if len(rows) != len(states) {
		t.Fatalf("%s: table has %d rows, want %d", typ, len(rows), len(states))
	}
	for _, r := range rows {
		t.Run(typ+"/"+r.existing, func(t *testing.T) {
			in, ok := states[r.existing]
			if !ok {
				t.Fatalf("unknown state %q", r.existing)
			}
			want := in
			if r.next != "" {
				want = states[r.next]
			}
			got, eff := f(typ, in)
			if got != want {
				t.Errorf("new state %+v, want %s %+v", got, r.next, want)
			}
			if eff.forward != r.forward {
				t.Errorf("forward = %v, want %v", eff.forward, r.forward)
			}
		})
	}
}

// TestOutbound checks Appendix A.2 row by row.
func TestOutbound(t *testing.T) {
	checkTable(t, outbound, "subscribe", []row{ // A.2.1
		{"None", true, "None + Pending Out"},
		{"None + Pending Out", true, ""},
		{"None + Pending In", true, "None + Pending Out/In"},
		{"None + Pending Out/In", true, ""},
		{"To", true, ""},
		{"To + Pending In", true, ""},
		{"From", true, "From + Pending Out"},
		{"From + Pending Out", true, ""},
		{"Both", true, ""},
	})
	checkTable(t, outbound, "unsubscribe", []row{ // A.2.2
		{"None", true, ""},
		{"None + Pending Out", true, "None"},
		{"None + Pending In", true, ""},
		{"None + Pending Out/In", true, "None + Pending In"},
		{"To", true, "None"},
		{"To + Pending In", true, "None + Pending In"},
		{"From", true, ""},
		{"From + Pending Out", true, "From"},
		{"Both", true, "From"},
	})
	checkTable(t, outbound, "unsubscribed", []row{ // A.2.4
		{"None", false, ""},
		{"None + Pending Out", false, ""},
		{"None + Pending In", true, "None"},
		{"None + Pending Out/In", true, "None + Pending Out"},
		{"To", false, ""},
		{"To + Pending In", true, "To"},
		{"From", true, "None"},
		{"From + Pending Out", true, "None + Pending Out"},
		{"Both", true, "To"},
	})
}

// TestOutboundSubscribed checks Appendix A.2.3 with pre-approval (§3.4):
// where the table routes nothing and the contact is not subscribed, the
// subscription is pre-approved instead.
func TestOutboundSubscribed(t *testing.T) {
	preApproved := func(name string) state { s := states[name]; s.PreApproved = true; return s }
	tests := []struct {
		existing string
		forward  bool
		want     state
	}{
		{"None", false, preApproved("None")},
		{"None + Pending Out", false, preApproved("None + Pending Out")},
		{"None + Pending In", true, states["From"]},
		{"None + Pending Out/In", true, states["From + Pending Out"]},
		{"To", false, preApproved("To")},
		{"To + Pending In", true, states["Both"]},
		{"From", false, states["From"]},
		{"From + Pending Out", false, states["From + Pending Out"]},
		{"Both", false, states["Both"]},
	}
	for _, tt := range tests {
		t.Run(tt.existing, func(t *testing.T) {
			got, eff := outbound("subscribed", states[tt.existing])
			if got != tt.want || eff.forward != tt.forward {
				t.Errorf("got %+v forward=%v, want %+v forward=%v", got, eff.forward, tt.want, tt.forward)
			}
		})
	}
}

// TestInbound checks Appendix A.3 row by row.
func TestInbound(t *testing.T) {
	checkTable(t, inbound, "subscribe", []row{ // A.3.1
		{"None", true, "None + Pending In"},
		{"None + Pending Out", true, "None + Pending Out/In"},
		{"None + Pending In", false, ""},
		{"None + Pending Out/In", false, ""},
		{"To", true, "To + Pending In"},
		{"To + Pending In", false, ""},
		{"From", false, ""},
		{"From + Pending Out", false, ""},
		{"Both", false, ""},
	})
	checkTable(t, inbound, "unsubscribe", []row{ // A.3.2
		{"None", false, ""},
		{"None + Pending Out", false, ""},
		{"None + Pending In", true, "None"},
		{"None + Pending Out/In", true, "None + Pending Out"},
		{"To", false, ""},
		{"To + Pending In", true, "To"},
		{"From", true, "None"},
		{"From + Pending Out", true, "None + Pending Out"},
		{"Both", true, "To"},
	})
	checkTable(t, inbound, "subscribed", []row{ // A.3.3
		{"None", false, ""},
		{"None + Pending Out", true, "To"},
		{"None + Pending In", false, ""},
		{"None + Pending Out/In", true, "To + Pending In"},
		{"To", false, ""},
		{"To + Pending In", false, ""},
		{"From", false, ""},
		{"From + Pending Out", true, "Both"},
		{"Both", false, ""},
	})
	checkTable(t, inbound, "unsubscribed", []row{ // A.3.4
		{"None", false, ""},
		{"None + Pending Out", true, "None"},
		{"None + Pending In", false, ""},
		{"None + Pending Out/In", true, "None + Pending In"},
		{"To", true, "None"},
		{"To + Pending In", true, "None + Pending In"},
		{"From", false, ""},
		{"From + Pending Out", true, "From"},
		{"Both", true, "From"},
	})
}

// TestAutoReply checks that a subscribe from a contact already subscribed
// or pre-approved is answered by the server (§3.1.3, §3.4) and that
// pre-approval is consumed.
func TestAutoReply(t *testing.T) {
	tests := []struct {
		name      string
		in, want  state
		autoReply bool
	}{
		{"From", states["From"], states["From"], true},
		{"Both", states["Both"], states["Both"], true},
		{"pre-approved None", state{PreApproved: true}, states["From"], true},
		{"pre-approved To", state{To: true, PreApproved: true}, states["Both"], true},
		{"None", states["None"], states["None + Pending In"], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, eff := inbound("subscribe", tt.in)
			if got != tt.want || eff.autoReply != tt.autoReply {
				t.Errorf("got %+v autoReply=%v, want %+v autoReply=%v", got, eff.autoReply, tt.want, tt.autoReply)
			}
		})
	}
	// Cancelling a pre-approval is not routed.
	got, eff := outbound("unsubscribed", state{PreApproved: true})
	if got != (state{}) || eff.forward {
		t.Errorf("cancel pre-approval: got %+v forward=%v", got, eff.forward)
	}
}
