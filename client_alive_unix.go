//go:build unix

package chkv

import (
	"errors"
	"syscall"
)

// sockGone is connGone for a socket: one non-blocking peek.
func sockGone(c syscall.Conn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(rerr, syscall.EAGAIN):
			// open, nothing to read: the expected state
		case rerr != nil, n == 0, n > 0:
			gone = true // reset, EOF, or unexpected bytes
		}
		return true
	})
	return gone || err != nil
}
