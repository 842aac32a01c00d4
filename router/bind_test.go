package router

import (
	"context"
	"testing"
)

// TestOnBind checks that the bind hooks run once per bound resource,
// after it is bound, and after a replaced resource's unbind hooks.
func TestOnBind(t *testing.T) {
	r := newTestRouter()
	var events []string
	r.OnBind(func(_ context.Context, res *Resource) {
		if r.Lookup(res.JID) != res {
			t.Errorf("bind hook for %s ran before the resource was bound", res.JID)
		}
		events = append(events, "bind "+res.JID.String())
	})
	r.OnUnbind(func(_ context.Context, res *Resource) { events = append(events, "unbind "+res.JID.String()) })
	bind(t, r, "alice@example.test/desk", "")
	bind(t, r, "alice@example.test/phone", "")
	bind(t, r, "alice@example.test/desk", "") // replaces the first
	want := []string{
		"bind alice@example.test/desk",
		"bind alice@example.test/phone",
		"unbind alice@example.test/desk",
		"bind alice@example.test/desk",
	}
	if len(events) != len(want) {
		t.Fatalf("events %q, want %q", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %q, want %q", events, want)
		}
	}
}
