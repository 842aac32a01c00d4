package journal

import (
	"bytes"
	"testing"
	"time"
)

// BenchmarkAppend appends 400-byte records from parallel goroutines, as
// the archive does from every stream.
func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	payload := bytes.Repeat([]byte("x"), 400)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := j.Append(time.Now(), payload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerify reports how fast a journal verifies.
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	j, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 400)
	const n = 20000
	for range n {
		j.Append(time.Now(), payload)
	}
	j.Close()
	b.ResetTimer()
	for range b.N {
		if _, err := Verify(dir, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}
