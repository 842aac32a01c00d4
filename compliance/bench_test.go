package compliance_test

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"parley/compliance"
	"parley/stanza"
)

// chatMessage returns a typical one-to-one chat message as the router
// hands it to the archive: addressed, with a stanza ID, an origin ID and a
// 100-character body.
func chatMessage(tb testing.TB, n int) *stanza.Element {
	tb.Helper()
	body := fmt.Sprintf("message %d: ", n)
	body += strings.Repeat("x", 100-len(body))
	el, err := stanza.Parse(fmt.Sprintf(`<message xmlns='jabber:client' from='user%d@bench.test/phone' to='user%d@bench.test' type='chat' id='m%d'>`+
		`<body>%s</body><origin-id xmlns='urn:xmpp:sid:0' id='5f1c6c2e-%08d'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		2*n+1, 2*n+2, n, body, n))
	if err != nil {
		tb.Fatal(err)
	}
	return el
}

// BenchmarkRecord archives a typical chat message from parallel
// goroutines, as every client stream does, and reports the bytes the
// archive takes on the disk per message and the CPU time the process
// spent per message (cpu-ns/op: Record itself, and the background copy to
// the segment files and their syncs, which ns/op does not show when the
// disk is the bottleneck).
func BenchmarkRecord(b *testing.B) {
	dir := b.TempDir()
	a, err := compliance.Open(compliance.Options{Dir: dir, Log: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	// One message per goroutine, made before the clock starts.
	const senders = 64
	msgs := make([]*stanza.Element, senders)
	for i := range msgs {
		msgs[i] = chatMessage(b, i)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	cpu0 := processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		el := msgs[int(next.Add(1)-1)%senders]
		from, to := el.From(), el.To()
		for pb.Next() {
			if err := a.Record(compliance.Local, from, to, from, el); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	seq, _ := a.Head()
	if seq != uint64(b.N) {
		b.Fatalf("archive holds %d records after %d messages", seq, b.N)
	}
	if size := segmentBytes(b, dir); seq > 0 {
		b.ReportMetric(float64(size)/float64(seq), "disk-B/msg")
	}
}

// processCPU returns the CPU time (user and system) the process used so
// far.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// segmentBytes adds up the sizes of the archive's segment files.
func segmentBytes(tb testing.TB, dir string) int64 {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "seg-") || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		n += info.Size()
	}
	return n
}
