// Transport is the seam between chkv and the network: listen and dial, handing out net.Conn values.

package chkv

import (
	"context"
	"net"
)

// Transport listens and dials. Every chkv server and client reaches the
// network only through a Transport, so the whole RESP stack runs unchanged
// over TCP (TCPTransport) or the in-process memory network (MemNetwork).
type Transport interface {
	// Listen announces on addr. For TCP, "127.0.0.1:0" picks a free port;
	// the listener's Addr reports the address to dial.
	Listen(addr string) (net.Listener, error)
	// Dial connects to addr, honouring ctx's deadline and cancellation.
	Dial(ctx context.Context, addr string) (net.Conn, error)
}
