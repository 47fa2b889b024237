// MemNetwork: an in-process network of buffered full-duplex connections with fault controls, for tests.

package chkv

import (
	"context"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// memDefaultBufferSize is the default cap on the bytes buffered in one
	// direction of a memory connection (written and not yet read).
	memDefaultBufferSize = 4 << 20
	// memBacklog is how many dialed connections a memory listener holds
	// before Accept; further dials wait, like a full TCP accept queue.
	memBacklog = 128
	// memChunkKeep is the largest drained buffer a pipe keeps for reuse.
	memChunkKeep = 64 << 10
)

// Errors of the memory network. They match the errno a TCP socket would
// report (errors.Is(err, syscall.ECONNREFUSED) holds on both transports) and
// reach callers inside a *net.OpError, like the errors of real sockets.
var (
	errMemRefused = &memError{"chkv: mem: connection refused", syscall.ECONNREFUSED}
	errMemReset   = &memError{"chkv: mem: connection reset: link cut", syscall.ECONNRESET}
	errMemPipe    = &memError{"chkv: mem: broken pipe", syscall.EPIPE}
	errMemInUse   = &memError{"chkv: mem: address already in use", syscall.EADDRINUSE}
)

// memError is a memory network error that matches the errno of its TCP twin.
type memError struct {
	msg   string
	errno syscall.Errno
}

func (e *memError) Error() string { return e.msg }
func (e *memError) Unwrap() error { return e.errno }

// MemNetwork is an in-process network for tests, in the spirit of
// memberlist's MockNetwork: its zero value is ready to use, and every named
// node gets its endpoint from Transport. Connections are buffered and
// full-duplex like TCP (a Write returns once its bytes are buffered, and
// blocks only while BufferSize bytes wait unread), honour deadlines, and
// block only on channels and timers, so code over a MemNetwork runs inside a
// testing/synctest bubble with fake time.
//
// # Faults
//
// Faults act on node names, on existing connections at once and on later
// dials, until Heal:
//   - Partition splits the nodes into groups that cannot reach each other;
//   - DropLink cuts the link between two nodes;
//   - Isolate cuts every link of one node;
//   - DelayLink delays the bytes one node sends another.
//
// A cut is what a broken TCP connection looks like to its ends: a Read or
// Write on a connection that crosses it fails at once with a *net.OpError
// wrapping syscall.ECONNRESET (bytes still in flight are lost), and a Dial
// across it fails at once with syscall.ECONNREFUSED. Unreachable peers
// refuse rather than black-hole dials so tests stay fast and deterministic
// without fake time; a caller that needs a silent peer can pair DelayLink
// with its own deadlines. Healing does not revive a cut connection; it lets
// new dials through. A node always reaches itself.
type MemNetwork struct {
	// BufferSize caps the unread bytes of one direction of a connection;
	// a Write beyond it blocks until the reader drains (back-pressure).
	// Zero means 4 MiB. Set it before the network is used.
	BufferSize int

	mu        sync.Mutex
	closed    bool
	nextPort  int
	listeners map[string]*memListener
	links     map[*memLink]struct{}
	groups    map[string][]int
	dropped   map[memRoute]bool
	delays    map[memRoute]time.Duration
	isolated  map[string]bool
}

// memRoute is one direction between two nodes.
type memRoute struct{ from, to string }

// MemTransport is one node's endpoint on a MemNetwork. Everything it
// listens on or dials belongs to its node, which is what fault controls act on.
type MemTransport struct {
	net  *MemNetwork
	node string
}

var _ Transport = (*MemTransport)(nil)

// MemAddr is the address of a memory listener or of one end of a memory
// connection.
type MemAddr struct {
	// Node is the node that owns this end.
	Node string
	// Addr is the "host:port" address: a listener's is the one to dial.
	Addr string
}

var _ net.Addr = MemAddr{}

// Network returns "mem".
func (a MemAddr) Network() string { return "mem" }

// String returns the address.
func (a MemAddr) String() string { return a.Addr }

// Transport returns the endpoint of the node with the given name. Every
// call with the same name is the same node.
func (n *MemNetwork) Transport(node string) *MemTransport {
	return &MemTransport{net: n, node: node}
}

// Node returns the name of the transport's node.
func (t *MemTransport) Node() string { return t.node }

// Listen announces on addr. An empty addr or one ending in ":0" gets a
// unique address: its host part (the node name when empty) and a port that
// no other listener or connection on the network has. Any other addr is
// used as given, and fails with syscall.EADDRINUSE when taken.
func (t *MemTransport) Listen(addr string) (net.Listener, error) {
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, &net.OpError{Op: "listen", Net: "mem", Err: net.ErrClosed}
	}
	if addr == "" || strings.HasSuffix(addr, ":0") {
		addr = n.newAddrLocked(t.node, strings.TrimSuffix(addr, ":0"))
	}
	la := MemAddr{Node: t.node, Addr: addr}
	if _, taken := n.listeners[addr]; taken {
		return nil, &net.OpError{Op: "listen", Net: "mem", Addr: la, Err: errMemInUse}
	}
	l := &memListener{net: n, addr: la}
	if n.listeners == nil {
		n.listeners = make(map[string]*memListener)
	}
	n.listeners[addr] = l
	return l, nil
}

// Dial connects to the listener at addr, whichever node owns it. It fails at
// once with syscall.ECONNREFUSED when nothing listens there or the
// listener's node is unreachable, and waits (within ctx) only while the
// listener's accept queue is full.
func (t *MemTransport) Dial(ctx context.Context, addr string) (net.Conn, error) {
	n := t.net
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "mem", Addr: MemAddr{Addr: addr}, Err: err}
	}
	n.mu.Lock()
	l := n.listeners[addr]
	if n.closed || l == nil || !n.reachableLocked(t.node, l.addr.Node) {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "mem", Addr: MemAddr{Addr: addr}, Err: errMemRefused}
	}
	local := MemAddr{Node: t.node, Addr: n.newAddrLocked(t.node, "")}
	k := n.newLinkLocked(local, l.addr)
	n.mu.Unlock()

	if err := l.enqueue(ctx, k.server); err != nil {
		k.cut(errMemReset)
		n.release(k, 2)
		return nil, &net.OpError{Op: "dial", Net: "mem", Source: local, Addr: l.addr, Err: err}
	}
	return k.client, nil
}

// Partition splits the network: two nodes named in groups reach each
// other only when some group names both (a node may sit in several groups,
// to bridge them), and a node named in no group reaches every node.
// Connections between nodes that no longer reach each other are cut. Each
// call replaces the previous partition; Partition() with no groups removes it.
func (n *MemNetwork) Partition(groups ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups = nil
	for i, g := range groups {
		for _, node := range g {
			if n.groups == nil {
				n.groups = make(map[string][]int)
			}
			n.groups[node] = append(n.groups[node], i)
		}
	}
	n.applyLocked()
}

// DropLink cuts (drop true) or restores (drop false) the link from one
// node to another. A TCP connection needs both directions (data one way,
// acknowledgements the other), so a dropped direction cuts every connection
// between the two nodes, whoever dialed, and refuses dials both ways; the
// link is back once neither direction is dropped. Bytes are never dropped
// silently from a live connection: no network does that to a TCP stream,
// and it would only garble the protocol above. For a slow or stalled
// direction, use DelayLink.
func (n *MemNetwork) DropLink(from, to string, drop bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := memRoute{from, to}
	if drop {
		if n.dropped == nil {
			n.dropped = make(map[memRoute]bool)
		}
		n.dropped[r] = true
	} else {
		delete(n.dropped, r)
	}
	n.applyLocked()
}

// DelayLink delays by d every byte that node from writes to node to, on
// existing and new connections; zero removes the delay. Bytes keep their
// order: a byte is never read before one written earlier. The delay of a
// byte is fixed when it is written.
func (n *MemNetwork) DelayLink(from, to string, d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := memRoute{from, to}
	if d > 0 {
		if n.delays == nil {
			n.delays = make(map[memRoute]time.Duration)
		}
		n.delays[r] = d
	} else {
		delete(n.delays, r)
	}
	n.applyLocked()
}

// Isolate cuts every link of node to other nodes: its connections are cut
// and dials to or from it are refused until Heal. Its listeners stay open.
func (n *MemNetwork) Isolate(node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.isolated == nil {
		n.isolated = make(map[string]bool)
	}
	n.isolated[node] = true
	n.applyLocked()
}

// Heal removes every partition, dropped link, delay and isolation. Cut
// connections stay cut; new dials go through.
func (n *MemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.groups, n.dropped, n.delays, n.isolated = nil, nil, nil, nil
	n.applyLocked()
}

// Close closes every listener and cuts every connection of the network;
// later Listen and Dial calls fail. It is safe to call twice.
func (n *MemNetwork) Close() error {
	n.mu.Lock()
	n.closed = true
	ls := n.listeners
	n.listeners = nil
	for k := range n.links {
		k.cut(errMemReset)
	}
	n.links = nil
	n.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	return nil
}

// newAddrLocked returns a fresh "host:port" address; host defaults to the node name.
func (n *MemNetwork) newAddrLocked(node, host string) string {
	if host == "" {
		host = node
	}
	if host == "" {
		host = "mem"
	}
	for {
		n.nextPort++
		addr := host + ":" + strconv.Itoa(n.nextPort)
		if _, taken := n.listeners[addr]; !taken {
			return addr
		}
	}
}

// reachableLocked reports whether nodes a and b can talk.
func (n *MemNetwork) reachableLocked(a, b string) bool {
	if a == b {
		return true
	}
	if n.isolated[a] || n.isolated[b] || n.dropped[memRoute{a, b}] || n.dropped[memRoute{b, a}] {
		return false
	}
	ga, oka := n.groups[a]
	gb, okb := n.groups[b]
	if !oka || !okb {
		return true
	}
	for _, g := range ga {
		if slices.Contains(gb, g) {
			return true
		}
	}
	return false
}

// applyLocked brings live connections in line with the fault settings.
func (n *MemNetwork) applyLocked() {
	for k := range n.links {
		a, b := k.client.local.Node, k.server.local.Node
		if !n.reachableLocked(a, b) {
			k.cut(errMemReset)
			delete(n.links, k)
			continue
		}
		k.up.setDelay(n.delays[memRoute{a, b}])
		k.down.setDelay(n.delays[memRoute{b, a}])
	}
}

// newLinkLocked makes and registers a connection from client to server.
func (n *MemNetwork) newLinkLocked(client, server MemAddr) *memLink {
	size := n.BufferSize
	if size <= 0 {
		size = memDefaultBufferSize
	}
	k := &memLink{
		up:   &memPipe{size: size, delay: n.delays[memRoute{client.Node, server.Node}]},
		down: &memPipe{size: size, delay: n.delays[memRoute{server.Node, client.Node}]},
		open: 2,
	}
	k.client = &memConn{net: n, link: k, local: client, remote: server, rd: k.down, wr: k.up, done: make(chan struct{})}
	k.server = &memConn{net: n, link: k, local: server, remote: client, rd: k.up, wr: k.down, done: make(chan struct{})}
	if n.links == nil {
		n.links = make(map[*memLink]struct{})
	}
	n.links[k] = struct{}{}
	return k
}

// release forgets a connection once its ends have all closed.
func (n *MemNetwork) release(k *memLink, ends int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k.open -= ends
	if k.open <= 0 {
		delete(n.links, k)
	}
}

// memLink is one connection: two ends and a pipe each way.
type memLink struct {
	client, server *memConn
	up, down       *memPipe // client to server, server to client
	open           int      // ends not closed yet, guarded by MemNetwork.mu
}

// cut breaks the connection: both ends fail with err from now on.
func (k *memLink) cut(err error) {
	k.up.fail(err)
	k.down.fail(err)
}

// memSignal wakes every goroutine waiting for a change. It is guarded by
// its owner's mutex, and makes a channel only when someone waits.
type memSignal struct{ ch chan struct{} }

func (s *memSignal) wait() <-chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *memSignal) broadcast() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// memChunk is a run of bytes written with the same delivery time.
type memChunk struct {
	b   []byte
	off int       // bytes of b already read
	at  time.Time // when the bytes may be read; zero for at once
}

// memPipe is one direction of a connection: a buffer written by one end
// and read by the other.
type memPipe struct {
	mu     sync.Mutex
	sig    memSignal
	chunks []memChunk
	n      int           // unread bytes
	size   int           // cap on n
	delay  time.Duration // delay of each newly written byte
	last   time.Time     // delivery time of the newest delayed chunk
	eof    bool          // the writing end closed or shut down: EOF once drained
	gone   bool          // the reading end closed: writes fail
	err    error         // the link is cut: both ends fail
}

func (p *memPipe) setDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

func (p *memPipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
		p.chunks, p.n = nil, 0
		p.sig.broadcast()
	}
	p.mu.Unlock()
}

// push buffers b, which fits in the space left.
func (p *memPipe) push(b []byte) {
	var at time.Time
	if p.delay > 0 {
		at = time.Now().Add(p.delay)
		if at.Before(p.last) {
			at = p.last
		}
		p.last = at
	}
	p.n += len(b)
	if k := len(p.chunks); k > 0 && p.chunks[k-1].at.Equal(at) {
		p.chunks[k-1].b = append(p.chunks[k-1].b, b...)
		return
	}
	p.chunks = append(p.chunks, memChunk{b: append([]byte(nil), b...), at: at})
}

// pull reads ready bytes into b. When none are ready but some are in
// flight, it returns how long until the first arrives.
func (p *memPipe) pull(b []byte) (n int, wait time.Duration) {
	for n < len(b) && len(p.chunks) > 0 {
		c := &p.chunks[0]
		if !c.at.IsZero() {
			if d := time.Until(c.at); d > 0 {
				if n == 0 {
					wait = d
				}
				break
			}
		}
		k := copy(b[n:], c.b[c.off:])
		n += k
		c.off += k
		if c.off < len(c.b) {
			break
		}
		if len(p.chunks) == 1 && cap(c.b) <= memChunkKeep {
			c.b, c.off, c.at = c.b[:0], 0, time.Time{}
			break
		}
		p.chunks[0] = memChunk{}
		p.chunks = p.chunks[1:]
	}
	p.n -= n
	return n, wait
}

// memConn is one end of a memory connection.
type memConn struct {
	net           *MemNetwork
	link          *memLink
	local, remote MemAddr
	rd, wr        *memPipe
	rdl, wdl      memDeadline
	once          sync.Once
	done          chan struct{} // closed by Close
}

var _ net.Conn = (*memConn)(nil)

func (c *memConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "mem", Source: c.local, Addr: c.remote, Err: err}
}

func (c *memConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Read reads what the peer wrote, blocking until some bytes arrive, the
// peer closes (io.EOF once drained), the link is cut, the read deadline
// passes or the conn closes.
func (c *memConn) Read(b []byte) (int, error) {
	p := c.rd
	for {
		p.mu.Lock()
		var err error
		switch {
		case c.closed():
			err = net.ErrClosed
		case c.rdl.expired():
			err = os.ErrDeadlineExceeded
		case p.err != nil:
			err = p.err
		}
		if err != nil {
			p.mu.Unlock()
			return 0, c.opErr("read", err)
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		n, wait := p.pull(b)
		if n > 0 {
			p.sig.broadcast()
			p.mu.Unlock()
			return n, nil
		}
		if p.eof && p.n == 0 {
			p.mu.Unlock()
			return 0, io.EOF
		}
		ch := p.sig.wait()
		p.mu.Unlock()

		var arrival *time.Timer
		var arrived <-chan time.Time
		if wait > 0 {
			arrival = time.NewTimer(wait)
			arrived = arrival.C
		}
		select {
		case <-ch:
		case <-arrived:
		case <-c.rdl.wait():
		case <-c.done:
		}
		if arrival != nil {
			arrival.Stop()
		}
	}
}

// Write buffers b for the peer and returns at once, unless the buffer is
// full: then it blocks until the peer reads, the link is cut, the peer
// closes, the write deadline passes or the conn closes.
func (c *memConn) Write(b []byte) (int, error) {
	p := c.wr
	n := 0
	for {
		p.mu.Lock()
		var err error
		switch {
		case c.closed():
			err = net.ErrClosed
		case c.wdl.expired():
			err = os.ErrDeadlineExceeded
		case p.err != nil:
			err = p.err
		case p.eof || p.gone:
			err = errMemPipe
		}
		if err != nil {
			p.mu.Unlock()
			return n, c.opErr("write", err)
		}
		if space := p.size - p.n; space > 0 && n < len(b) {
			k := min(space, len(b)-n)
			p.push(b[n : n+k])
			n += k
			p.sig.broadcast()
		}
		if n == len(b) {
			p.mu.Unlock()
			return n, nil
		}
		ch := p.sig.wait()
		p.mu.Unlock()
		select {
		case <-ch:
		case <-c.wdl.wait():
		case <-c.done:
		}
	}
}

// Close closes this end: its blocked calls return net.ErrClosed, the peer
// reads io.EOF once it has drained what was written, and the peer's writes
// fail. Bytes not yet read here are discarded.
func (c *memConn) Close() error {
	first := false
	c.once.Do(func() {
		first = true
		close(c.done)
	})
	if !first {
		return c.opErr("close", net.ErrClosed)
	}
	c.rd.mu.Lock()
	c.rd.gone = true
	c.rd.chunks, c.rd.n = nil, 0
	c.rd.sig.broadcast()
	c.rd.mu.Unlock()
	c.closeWrite()
	c.rdl.set(time.Time{})
	c.wdl.set(time.Time{})
	c.net.release(c.link, 1)
	return nil
}

// CloseWrite shuts down the writing side, like (*net.TCPConn).CloseWrite:
// the peer reads io.EOF once drained, and reading here goes on.
func (c *memConn) CloseWrite() error {
	if c.closed() {
		return c.opErr("close", net.ErrClosed)
	}
	c.closeWrite()
	return nil
}

func (c *memConn) closeWrite() {
	c.wr.mu.Lock()
	c.wr.eof = true
	c.wr.sig.broadcast()
	c.wr.mu.Unlock()
}

// LocalAddr returns this end's MemAddr.
func (c *memConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's MemAddr; its Node names the peer's node.
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *memConn) SetDeadline(t time.Time) error {
	if c.closed() {
		return c.opErr("set", net.ErrClosed)
	}
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Read calls, pending and future;
// the zero time clears it.
func (c *memConn) SetReadDeadline(t time.Time) error {
	if c.closed() {
		return c.opErr("set", net.ErrClosed)
	}
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Write calls, pending and future;
// the zero time clears it.
func (c *memConn) SetWriteDeadline(t time.Time) error {
	if c.closed() {
		return c.opErr("set", net.ErrClosed)
	}
	c.wdl.set(t)
	return nil
}

// memDeadline is a deadline whose passing closes a channel, as in net.Pipe.
type memDeadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // closed when the deadline passes; made on first use
}

func (d *memDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		if t.IsZero() {
			return
		}
		d.cancel = make(chan struct{})
	}
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close the channel
	}
	d.timer = nil
	closed := isClosedChan(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// expired reports whether the deadline has passed.
func (d *memDeadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel != nil && isClosedChan(d.cancel)
}

// wait returns a channel closed when the deadline passes.
func (d *memDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

func isClosedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// memListener is a listener on a MemNetwork.
type memListener struct {
	net    *MemNetwork
	addr   MemAddr
	mu     sync.Mutex
	sig    memSignal
	queue  []*memConn // dialed, not yet accepted
	closed bool
}

var _ net.Listener = (*memListener)(nil)

// Accept waits for a dial and returns the server end of its connection.
// After Close it returns an error matching net.ErrClosed.
func (l *memListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: "mem", Addr: l.addr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			l.sig.broadcast()
			l.mu.Unlock()
			return c, nil
		}
		ch := l.sig.wait()
		l.mu.Unlock()
		<-ch
	}
}

// enqueue hands a dialed connection to Accept, waiting while the queue is full.
func (l *memListener) enqueue(ctx context.Context, c *memConn) error {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return errMemRefused
		}
		if len(l.queue) < memBacklog {
			l.queue = append(l.queue, c)
			l.sig.broadcast()
			l.mu.Unlock()
			return nil
		}
		ch := l.sig.wait()
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the listener: Accept returns net.ErrClosed, new dials are
// refused, connections dialed but not accepted are reset, and accepted
// ones stay open. The address is free again. It is safe to call twice.
func (l *memListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "mem", Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	pending := l.queue
	l.queue = nil
	l.sig.broadcast()
	l.mu.Unlock()

	for _, c := range pending {
		c.link.cut(errMemReset)
		c.Close()
	}
	n := l.net
	n.mu.Lock()
	if n.listeners[l.addr.Addr] == l {
		delete(n.listeners, l.addr.Addr)
	}
	n.mu.Unlock()
	return nil
}

// Addr returns the listener's MemAddr, the address to dial.
func (l *memListener) Addr() net.Addr { return l.addr }

// peerGone reports, without blocking, whether the conn's peer has closed
// or the link is cut, with nothing left to read: a pooled client conn
// checks it before reuse.
func (c *memConn) peerGone() bool {
	p := c.rd
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err != nil || (p.eof && p.n == 0)
}
