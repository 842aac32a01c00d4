//go:build linux

package idlepoll

import (
	"context"
	"fmt"
	"sync"
	"syscall"
)

// Poller watches parked sockets with its own epoll instance, level
// triggered and one-shot: a socket that has input when it is parked is
// reported at once, and each parking reports at most once.
type Poller struct {
	epfd int

	mu         sync.Mutex
	parked     map[int32]func() // fd -> resume, while armed
	registered map[int32]bool   // fds added to the epoll set
	closed     bool
}

// New returns a poller; run it with Run.
func New() (*Poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("idlepoll: epoll_create1: %w", err)
	}
	return &Poller{epfd: fd, parked: make(map[int32]func()), registered: make(map[int32]bool)}, nil
}

// Park arms fd: once it is readable (or hung up), resume runs in a new
// goroutine. The caller must not read fd until then.
func (p *Poller) Park(fd int, resume func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("idlepoll: poller closed")
	}
	key := int32(fd)
	p.parked[key] = resume
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: key}
	op := syscall.EPOLL_CTL_MOD
	if !p.registered[key] {
		op = syscall.EPOLL_CTL_ADD
	}
	if err := syscall.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		delete(p.parked, key)
		return fmt.Errorf("idlepoll: arm fd %d: %w", fd, err)
	}
	p.registered[key] = true
	return nil
}

// Cancel disarms fd before the caller closes it. It reports whether fd
// was parked, in which case its resume function will not run and the
// caller takes over.
func (p *Poller) Cancel(fd int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := int32(fd)
	_, wasParked := p.parked[key]
	delete(p.parked, key)
	if p.registered[key] {
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
		delete(p.registered, key)
	}
	return wasParked
}

// Parked returns how many sockets are parked.
func (p *Poller) Parked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// Run waits for events until ctx ends, then closes the poller. Sockets
// still parked at that point are resumed so their owners see them close.
func (p *Poller) Run(ctx context.Context) {
	events := make([]syscall.EpollEvent, 128)
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(p.epfd, events, 200)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			break
		}
		p.mu.Lock()
		var ready []func()
		for _, ev := range events[:n] {
			if resume, ok := p.parked[ev.Fd]; ok {
				delete(p.parked, ev.Fd)
				ready = append(ready, resume)
			}
		}
		p.mu.Unlock()
		for _, resume := range ready {
			go resume()
		}
	}
	p.mu.Lock()
	p.closed = true
	rest := make([]func(), 0, len(p.parked))
	for fd, resume := range p.parked {
		rest = append(rest, resume)
		delete(p.parked, fd)
	}
	p.mu.Unlock()
	for _, resume := range rest {
		go resume()
	}
	syscall.Close(p.epfd)
}
