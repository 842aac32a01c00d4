package upload

import (
	"net/http"
	"testing"
	"time"
)

// TestObserve checks that observers hear of each completed upload, with
// its uploader and size, and of nothing else.
func TestObserve(t *testing.T) {
	s := newTestService(t, t.TempDir(), &clock{now: time.Now()})
	type seen struct {
		owner string
		size  int64
	}
	var a, b []seen
	s.Observe(func(owner string, size int64) { a = append(a, seen{owner, size}) })
	s.Observe(func(owner string, size int64) { b = append(b, seen{owner, size}) })

	put, _ := putURL(s, "alice@a.test", "a.txt", "hello")
	if w := serve(s, "PUT", put, "hello"); w.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	if w := serve(s, "PUT", put, "hello"); w.Code != http.StatusConflict { // the slot is used
		t.Fatalf("second PUT: %d %s", w.Code, w.Body)
	}
	short, _ := putURL(s, "bob@a.test", "b.txt", "hello")
	if w := serve(s, "PUT", short, "hell"); w.Code != http.StatusBadRequest {
		t.Fatalf("short PUT: %d %s", w.Code, w.Body)
	}
	empty, _ := putURL(s, "bob@a.test", "empty.txt", "")
	if w := serve(s, "PUT", empty, ""); w.Code != http.StatusCreated {
		t.Fatalf("empty PUT: %d %s", w.Code, w.Body)
	}
	want := []seen{{"alice@a.test", 5}, {"bob@a.test", 0}}
	for _, got := range [][]seen{a, b} {
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("observed %v, want %v", got, want)
		}
	}
}
