package usercache

import "testing"

func TestCache(t *testing.T) {
	c := New[int](2)
	loads := 0
	load := func(string) int { loads++; return loads }
	if v := c.Get("a", load); v != 1 || c.Get("a", load) != 1 || loads != 1 {
		t.Fatalf("a = %d after %d loads", v, loads)
	}
	c.Put("a", 7)
	if c.Get("a", load) != 7 {
		t.Fatal("Put not kept")
	}
	c.Forget("a")
	if c.Get("a", load) != 2 {
		t.Fatal("Forget did not drop the value")
	}
	c.Get("b", load)
	c.Get("c", load) // past the bound: the cache starts over
	if len(c.m) != 1 {
		t.Fatalf("%d entries, want 1 after starting over", len(c.m))
	}
}
