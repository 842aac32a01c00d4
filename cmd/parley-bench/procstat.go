package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is sysconf(_SC_CLK_TCK), which is 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procUsage is a process's CPU time (all threads) and resident set size.
type procUsage struct {
	cpu    time.Duration
	rssKiB int64
}

// readProc reads /proc/PID/stat (utime+stime) and /proc/PID/status (VmRSS).
func readProc(pid int) (procUsage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procUsage{}, fmt.Errorf("server process: %w", err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return procUsage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procUsage{}, fmt.Errorf("server process: %w", err)
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return procUsage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return procUsage{cpu: time.Duration(ticks) * time.Second / clockTicks, rssKiB: rss}, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15, in clock ticks) of
// a /proc/PID/stat line. The command name (field 2) is in parentheses
// and may itself contain spaces and parentheses, so fields are counted
// from the last ')'.
func parseStatCPU(stat []byte) (uint64, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", clip(stat))
	}
	f := bytes.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, fmt.Errorf("only %d fields after the command name", len(f))
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime %q %q", f[11], f[12])
	}
	return utime + stime, nil
}

// parseStatusRSS returns VmRSS in KiB from /proc/PID/status.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		v, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("no VmRSS line (has the process exited?)")
}

// ownCPU returns the CPU time used by this process and by its waited-for
// children.
func ownCPU() (time.Duration, error) {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			return 0, fmt.Errorf("getrusage: %w", err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total, nil
}

// raiseFileLimit raises the soft open-file limit to the hard limit.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return l.Cur, nil
}
