//go:build unix

package xmlstream

import (
	"io"
	"syscall"
)

const rawReadSupported = true

// rawReadOnce makes one non-blocking read from the socket.
func rawReadOnce(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var rerr error
	err := raw.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), b)
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK:
		return 0, errWouldBlock
	case rerr == syscall.EINTR:
		return 0, errWouldBlock
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// socketReadable reports, without consuming input or blocking, whether a
// read from the socket would return at once: with data, end of file or an
// error.
func socketReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
