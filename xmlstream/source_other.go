//go:build !unix

package xmlstream

import "syscall"

const rawReadSupported = false

func rawReadOnce(syscall.RawConn, []byte) (int, error) { return 0, errWouldBlock }

func socketReadable(uintptr) bool { return true }
