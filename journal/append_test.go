package journal

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// TestFrameSize: frameSize is the length of the frame appendFrame makes.
func TestFrameSize(t *testing.T) {
	for n := range 40 {
		buf, _ := appendFrame(nil, newHasher(), Hash{}, 1, time.Unix(0, 0), bytes.Repeat([]byte("x"), n))
		if got := frameSize(n); got != len(buf) {
			t.Errorf("frameSize(%d) = %d, the frame has %d bytes", n, got, len(buf))
		}
	}
}

// TestAppendsWaitingForRoom: appends that wait for the copier to make
// room in a full ring, several at once, still chain in order, each record
// whole, whatever their sizes.
func TestAppendsWaitingForRoom(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The copier cannot move records while segMu is held (as during a
	// slow sync): the ring fills and the appends wait.
	j.segMu.Lock()
	const writers, each = 4, 12000 // about twice the ring
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			p := bytes.Repeat([]byte{'a' + byte(w)}, 400+w*3)
			for i := range each {
				if _, err := j.Append(time.Now(), p[:len(p)-i%5]); err != nil {
					t.Errorf("writer %d, append %d: %v", w, i, err)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		j.mu.Lock()
		full := !j.ring.room(frameSize(500))
		j.mu.Unlock()
		if full || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // every writer waits
	j.segMu.Unlock()
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	sum, err := Verify(dir, nil)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if sum.Records != writers*each {
		t.Fatalf("%d records, want %d", sum.Records, writers*each)
	}
}
