// A pooled conn is checked before reuse: a request written to a conn the
// server has already closed would fail with an unknown outcome, while one
// never sent can go on a fresh conn.

package chkv

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// connGone reports, without blocking, whether the peer of nc has closed it
// (or reset it), or sent bytes nobody asked for: either way it must not
// carry a request. It costs one non-blocking recv on TCP.
func connGone(nc net.Conn) bool {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	switch c := nc.(type) {
	case *memConn:
		return c.peerGone()
	case syscall.Conn:
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
	return false
}
