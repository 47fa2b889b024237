// A pooled conn is checked before reuse: a request written to a conn the
// server has already closed would fail with an unknown outcome, while one
// never sent can go on a fresh conn.

package chkv

import (
	"crypto/tls"
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
		return sockGone(c)
	}
	return false
}
