// conn is one client connection of a DataNode: it reads requests, runs commands and flushes replies per batch.

package chkv

import (
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// conn is the server side of one client connection.
type conn struct {
	d       *DataNode
	nc      net.Conn
	in      *watchConn
	rr      *requestReader
	w       replyWriter
	id      int64
	created time.Time
	authed  bool
	// clusterAuthed: the connection presented the cluster secret (a peer
	// node); internal commands (flagInternal) need it when a secret is set.
	clusterAuthed bool
	quit          bool  // close after flushing the current replies
	nowMs         int64 // the clock read once per pipelined batch; 0 when stale
	asking        bool  // ASKING came just before this command (cluster mode)
	// importRefused is set when CHKV.IMPORT EXPECT refused this
	// connection's batch: its later IMPORT requests are refused too.
	importRefused bool
	importEpoch   uint64            // CHKV.IMPORT EPOCH: the source's table version for the imports that follow
	imports       map[int]*slotMove // per slot, the import this connection began (migrate.go)
	gate          int               // slot+1 of the running command, counted in flight (cluster mode)
	// readonly is set by READONLY: a replica serves this client's reads
	// of its slots (cluster mode).
	readonly bool
	// replNeed is what the replies written so far wait for before they
	// leave: replicas applying the writes (replicate.go).
	replNeed []replNeed
	// replDeadline bounds the wait for replNeed of a connection an event
	// loop parked (parkRepl); zero otherwise.
	replDeadline time.Time
	// lastSlot is slot+1 of the connection's last keyed command in
	// cluster mode (WAIT counts that slot's replicas).
	lastSlot int
	// durNeed is the log offset the replies written so far wait for
	// (durable.go); durWrote says a write command is among them.
	durNeed  uint64
	durWrote bool
	// lc is the connection's socket while an event loop serves it
	// (eventloop_linux.go); nil when its own goroutine does.
	lc *loopConn
	// wouldWait is set, under an event loop, which must not wait, instead
	// of running a command that may wait (flagBlocking, flagLong) or would
	// wait for a frozen slot: the loop hands the connection to a goroutine
	// that runs the command again.
	wouldWait bool
	// Counters INFO sums over connections, kept per connection: shared
	// ones would bounce between cores on every read and write.
	cmds     atomic.Int64
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	m        connMetrics // per-command counters (metrics.go)

	mu      sync.Mutex // guards nc's swap and the fields CLIENT LIST reads from other goroutines
	name    string
	lastCmd string
	libName string
	libVer  string
}

func (d *DataNode) newConn(nc net.Conn) *conn {
	c := &conn{d: d, nc: nc, id: d.nextID.Add(1), created: d.cfg.Now()}
	c.in = &watchConn{Conn: nc, idle: &d.settings.idleTimeout, in: &c.bytesIn}
	c.rr = newRequestReader(c.in, d.cfg.Limits)
	c.rr.bulkLimit = &d.settings.maxBulk
	c.w.w = &countingWriter{w: nc, n: &c.bytesOut}
	c.authed = d.requirePass() == "" // a connection made while there is no password stays authenticated, as in Redis
	return c
}

// serve runs the request loop until the client leaves, breaks the protocol
// or the node closes; args, when not nil, is a request read already (an
// event loop handed the connection over to run it).
func (c *conn) serve(args [][]byte) {
	defer func() {
		c.nc.Close()
		c.gone()
	}()
	for {
		if args == nil {
			var err error
			if args, err = c.rr.next(); err != nil {
				c.protocolError(err)
				return
			}
			c.cmds.Add(1) // per connection: a shared counter would bounce between cores
		}
		c.execCounted(args)
		args = nil
		if c.quit {
			c.flushReplies()
			return
		}
		if c.rr.buffered() == 0 || len(c.w.buf) > 64<<10 {
			c.nowMs = 0
			if c.flushReplies() != nil {
				return
			}
		}
	}
}

// flushReplies writes the replies gathered so far, once the writes they
// report are durable: in the log and applied by the replicas
// (awaitDurable). When that fails the replies are withheld and the error
// makes the caller close the connection: the client must not learn an
// outcome nobody can vouch for.
func (c *conn) flushReplies() error {
	if err := c.awaitDurable(); err != nil {
		c.w.buf = c.w.buf[:0]
		return err
	}
	return c.w.flush()
}

// protocolError answers a protocol violation the request reader reported
// in err (any other error ends the connection silently).
func (c *conn) protocolError(err error) {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		c.w.errorText("ERR " + pe.Error())
		c.flushReplies()
	}
}

// gone forgets a closed connection: its counters go to the node's.
func (c *conn) gone() {
	c.abandonImports()
	c.d.mu.Lock()
	c.d.stats.commands.Add(c.cmds.Load())
	c.d.stats.netIn.Add(c.bytesIn.Load())
	c.d.stats.netOut.Add(c.bytesOut.Load())
	c.d.metrics.fold(c)
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	c.d.wg.Done()
}

// nodeClosed reports whether the connection's node is closing.
func (c *conn) nodeClosed() bool {
	select {
	case <-c.d.closed:
		return true
	default:
		return false
	}
}

// close closes the connection's socket from another goroutine (the node
// closing); the goroutine or event loop serving it then finishes.
func (c *conn) close() {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	nc.Close()
}

// now returns the store's clock in unix milliseconds, read once per
// pipelined batch as Redis reads it once per command.
func (c *conn) now() int64 {
	if c.nowMs == 0 {
		c.nowMs = c.d.store.nowMs()
	}
	return c.nowMs
}

// exec runs one command and appends its reply.
func (c *conn) exec(args [][]byte) {
	cmd := c.d.lookupCommand(args[0])
	if cmd == nil {
		c.w.errorText(unknownCommandError(args))
		return
	}
	if !c.authed && cmd.flags&flagNoAuth == 0 && c.d.requirePass() != "" {
		c.w.errorText("NOAUTH Authentication required.")
		return
	}
	if cmd.flags&flagInternal != 0 && !c.clusterAuthed && c.d.clusterSecret() != "" {
		c.w.errorText(msgNotClusterMember)
		return
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.w.errorText("ERR wrong number of arguments for '" + cmd.name + "' command")
		return
	}
	if c.lc != nil && (cmd.flags&(flagBlocking|flagLong) != 0 || testHookReplFrame != nil && cmd.name == "chkv.repl") {
		// (A test that holds a replica's frames has them applied by a
		// goroutine, so that holding one does not hold the loop.)
		c.wouldWait = true // run it from a goroutine (eventloop_linux.go)
		return
	}
	c.call(cmd, args)
}

// call routes and runs cmd, containing a panic of its handler (panic.go):
// the event loops (eventloop_linux.go, eventloop_uring_linux.go) and the
// connection goroutines (serve) all run commands through exec, so no
// command can end the process.
func (c *conn) call(cmd *command, args [][]byte) {
	mark := len(c.w.buf)
	defer func() {
		if r := recover(); r != nil {
			c.contain(cmd, r, mark)
		}
	}()
	if c.d.route != nil && !c.d.route(c, cmd, args) {
		return
	}
	if cmd.flags&flagTrackName != 0 {
		c.mu.Lock()
		c.lastCmd = cmd.name
		c.mu.Unlock()
	}
	if cmd.flags&flagWrite != 0 && !c.d.store.FreeMemory() && cmd.flags&flagDenyOOM != 0 {
		c.w.errorText(msgOOM) // over the memory cap with nothing to evict (memory.go)
		c.release()
		return
	}
	c.m.ran = cmd
	if c.persistRefuses(cmd) {
		return
	}
	cmd.run(c, args)
	c.noteDurable(cmd)
	c.release()
	if cn := c.d.cluster; cn != nil {
		if k := cmd.firstKeyOf(args); k != nil {
			c.noteRepl(cn, SlotBytes(k))
		}
	}
}

// lookupCommand finds a command by name, ignoring case, without allocating.
func (d *DataNode) lookupCommand(name []byte) *command {
	if len(name) > 32 {
		return nil
	}
	var buf [32]byte
	lower := buf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		lower[i] = ch
	}
	return d.cmds[string(lower)]
}

// unknownCommandError formats Redis's reply to an unknown command.
func unknownCommandError(args [][]byte) string {
	var b strings.Builder
	b.WriteString("ERR unknown command '")
	b.Write(truncate(args[0], 128))
	b.WriteString("', with args beginning with: ")
	var list []byte // Redis caps the quoted arguments at 128 bytes in all
	for _, a := range args[1:] {
		if len(list) >= 128 {
			break
		}
		list = append(list, '\'')
		list = append(list, truncate(a, 128-len(list)+1)...)
		list = append(list, "' "...)
	}
	b.Write(list)
	return b.String()
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// watchConn is the read side of a client connection. While a command blocks
// (BLPOP), a watcher goroutine reads ahead into pending to notice the client
// leaving; the request reader later consumes what it read.
type watchConn struct {
	net.Conn
	idle    *atomic.Int64 // the node's idle timeout in nanoseconds (CONFIG SET timeout); 0: none
	pending []byte
	in      *atomic.Int64 // bytes received, for INFO
}

func (w *watchConn) Read(p []byte) (int, error) {
	if len(w.pending) > 0 {
		n := copy(p, w.pending)
		w.pending = w.pending[n:]
		if len(w.pending) == 0 {
			w.pending = nil
		}
		return n, nil
	}
	if idle := time.Duration(w.idle.Load()); idle > 0 {
		w.Conn.SetReadDeadline(time.Now().Add(idle))
	}
	n, err := w.Conn.Read(p)
	w.in.Add(int64(n))
	return n, err
}

// watch reads ahead from the connection until stop is closed, and closes
// gone when the client disconnects. It returns when done is closed; the
// caller then waits for it with the returned function.
func (w *watchConn) watch(gone chan<- struct{}) (stop func()) {
	finished := make(chan struct{})
	var stopping atomic.Bool
	go func() {
		defer close(finished)
		var buf [512]byte
		for len(w.pending) < 64<<10 {
			n, err := w.Conn.Read(buf[:])
			w.in.Add(int64(n))
			w.pending = append(w.pending, buf[:n]...)
			if err != nil {
				if !stopping.Load() {
					close(gone)
				}
				return
			}
		}
	}()
	return func() {
		stopping.Store(true)
		w.Conn.SetReadDeadline(time.Unix(1, 0)) // interrupt the watcher's Read
		<-finished
		w.Conn.SetReadDeadline(time.Time{})
	}
}

// countingWriter counts bytes written for INFO.
type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n *atomic.Int64
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n.Add(int64(n))
	return n, err
}
