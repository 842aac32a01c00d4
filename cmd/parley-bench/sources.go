package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// maxSources bounds the -sources range.
const maxSources = 1 << 16

// sources hands out client source addresses round-robin; with none,
// connections use the system's choice (127.0.0.1 towards loopback).
type sources struct {
	ips  []net.IP
	next atomic.Uint64
}

// parseSources parses "A-B" (IPv4, inclusive) or a single address; ""
// means no explicit source. start offsets the round-robin, so child
// processes continue where their siblings end.
func parseSources(s string, start uint64) (*sources, error) {
	src := &sources{}
	src.next.Store(start)
	if s == "" {
		return src, nil
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		hi = lo
	}
	a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
	b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || !a.Is4() || !b.Is4() || b.Less(a) {
		return nil, fmt.Errorf("-sources %q: want an IPv4 range such as 127.0.1.1-127.0.1.250", s)
	}
	x, y := binary.BigEndian.Uint32(a.AsSlice()), binary.BigEndian.Uint32(b.AsSlice())
	if y-x >= maxSources {
		return nil, fmt.Errorf("-sources %q: more than %d addresses", s, maxSources)
	}
	for v := x; ; v++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, v)
		src.ips = append(src.ips, ip)
		if v == y {
			break
		}
	}
	return src, nil
}

// dialer returns a dialer bound to the next source address.
func (s *sources) dialer() *net.Dialer {
	d := &net.Dialer{}
	if len(s.ips) > 0 {
		i := s.next.Add(1) - 1
		d.LocalAddr = &net.TCPAddr{IP: s.ips[i%uint64(len(s.ips))]}
	}
	return d
}

// count returns the number of explicit source addresses.
func (s *sources) count() int { return len(s.ips) }
