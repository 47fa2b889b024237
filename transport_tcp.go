// Temporary TCP transport; replaced by the transport branch.

package chkv

import (
	"context"
	"net"
)

// TCPTransport is the plain TCP transport.
type TCPTransport struct{}

// Listen listens on addr.
func (t *TCPTransport) Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// Dial dials addr.
func (t *TCPTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}
