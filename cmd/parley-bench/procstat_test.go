package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tail := " S 1 2 3 4 5 6 7 8 9 10 %s %s 11 12 13 14 15 16 17 18 19 20"
	for _, tc := range []struct {
		name, comm   string
		utime, stime string
		want         uint64
		wantErr      bool
	}{
		{"plain", "parley", "150", "25", 175, false},
		{"spaces and parens", "a) (b c)", "7", "3", 10, false},
		{"bad number", "x", "1x", "2", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := "1234 (" + tc.comm + ")"
			line += strings.Replace(strings.Replace(tail, "%s", tc.utime, 1), "%s", tc.stime, 1)
			got, err := parseStatCPU([]byte(line))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStatCPU(%q) = %d, %v; want %d, error %v", line, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := parseStatCPU([]byte("1234 (x) S 1 2")); err == nil {
		t.Error("short line accepted")
	}
}

func TestParseStatusRSS(t *testing.T) {
	got, err := parseStatusRSS([]byte("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\nThreads: 3\n"))
	if err != nil || got != 12345 {
		t.Errorf("got %d, %v", got, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("missing VmRSS accepted")
	}
}

// TestReadProcSelf reads this test process's figures and checks them
// against getrusage and a known allocation.
func TestReadProcSelf(t *testing.T) {
	before, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		buf[x%len(buf)]++
	}
	// /proc is read between two getrusage readings, so that CPU other
	// goroutines use meanwhile cannot make them disagree.
	ownBefore, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	after, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(buf)
	if after.rssKiB < before.rssKiB+32<<10 {
		t.Errorf("RSS %d KiB -> %d KiB after touching 64 MiB", before.rssKiB, after.rssKiB)
	}
	if d := after.cpu - before.cpu; d < 100*time.Millisecond {
		t.Errorf("CPU grew by %v while spinning 300ms", d)
	}
	ownAfter, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts whole ticks; getrusage is finer but covers the same
	// threads. (ownCPU adds waited children, which other tests of this
	// package start: they are left out here.)
	const tick = 50 * time.Millisecond
	if after.cpu < ownBefore-tick || after.cpu > ownAfter+tick {
		t.Errorf("/proc %v not between getrusage readings %v and %v", after.cpu, ownBefore, ownAfter)
	}
	if total, err := ownCPU(); err != nil || total < ownAfter {
		t.Errorf("ownCPU %v (%v), less than this process alone %v", total, err, ownAfter)
	}
	if _, err := readProc(1 << 30); err == nil {
		t.Error("reading a process that does not exist succeeded")
	}
}

// selfCPU is the CPU time of this process alone, from getrusage.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
