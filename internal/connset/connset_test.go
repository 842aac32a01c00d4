package connset

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestCloseEndsEveryStreamAndWaits(t *testing.T) {
	var s Set[int]
	for i := range 3 {
		if !s.Add(i) {
			t.Fatal("Add refused before Close")
		}
	}
	s.Done(2)
	s.Done(2) // twice: no effect
	var ended atomic.Int32
	s.Close(context.Background(), func(c int) {
		ended.Add(1)
		go s.Done(c) // the stream's goroutine ends afterwards
	})
	if ended.Load() != 2 {
		t.Fatalf("end called for %d streams, want the 2 live ones", ended.Load())
	}
	if s.Add(9) || !s.Closed() {
		t.Fatal("Add accepted a stream after Close")
	}
}

func TestCloseGivesUpWithContext(t *testing.T) {
	var s Set[string]
	s.Add("stuck")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Close(ctx, func(string) {}) // never Done: returns when ctx ends
	if ctx.Err() == nil {
		t.Fatal("Close returned before its stream was done or ctx ended")
	}
}
