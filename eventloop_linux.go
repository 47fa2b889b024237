// Event loops: plain TCP clients served from a few threads with epoll (or
// io_uring, eventloop_uring_linux.go), as Redis serves them.

//go:build linux

package chkv

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// An eventLoop serves its share of a DataNode's plain TCP connections from
// one locked OS thread: it waits for ready sockets with one level-triggered
// epoll set, reads each once, runs the requests read and writes their
// replies, as Redis's event loop does. A goroutine per connection costs
// more per request: a read that fails with EAGAIN after every request, a
// park and a wake-up through the runtime's netpoller and scheduler
// (bench/netfloor.sh measures the difference). Where the kernel offers
// io_uring the loop submits its receives and sends and waits for their
// completions instead (runUring), one system call per turn.
//
// A command that may wait (BLPOP and friends, CHKV.MIGRATE, which runs a
// whole move, or any command on a slot frozen by a move) must not hold up
// the loop's other clients: before it runs, the loop hands its connection
// to a goroutine of its own, which serves it from then on as it serves TLS
// or memory-transport clients.
//
// A loop belongs to a loopSet, which one DataNode owns or several share:
// the DataNodes of an in-process cluster share one set, each node's
// clients on one loop of it (see loopSet.pick).
type eventLoop struct {
	set  *loopSet
	ep   int    // the epoll set
	ring *uring // set by run when the loop waits with io_uring instead of epoll (eventloop_uring_linux.go)
	raw  bool   // the loop waits without giving up its P (see wait)

	usesUring atomic.Bool // for tests: ring is set
	wake      [2]int      // a pipe; a byte written to wake[1] wakes the loop

	mu   sync.Mutex
	adds []*conn // connections handed to the loop, registered when it wakes
	// replication connections whose acknowledgements the loop is to read,
	// or to stop reading and close (replicate_loop_linux.go)
	ackAdds, ackCloses []*ackConn
	stopped            bool // the loop has finished: add serves no more
	woken              atomic.Bool
	closes             atomic.Bool // some connection asked to be closed

	conns  map[int32]*conn    // by socket; owned by the loop's goroutine
	acks   map[int32]*ackConn // replication connections whose acknowledgements the loop reads, by socket
	owing  []owed             // connections with replies to write at the end of the turn
	parked []owed             // connections whose replies wait for replicas or the disk (park)
	wakeFn func()             // what an acknowledgement a parked connection waits for calls: signal
	sends  []*replStream      // streams whose frames parked connections wait for: sent at the end of the turn (sendRepl)
	sendFn func(*replStream)
	events []syscall.EpollEvent
	now    time.Time // when the last wait returned
}

// loopConn is a connection's socket under an event loop: a non-blocking
// descriptor taken out of the runtime's netpoller. It is the conn's nc (for
// CLIENT LIST and Close from other goroutines), the request reader's source
// and the reply writer's sink; only the loop's goroutine reads and writes it.
type loopConn struct {
	loop          *eventLoop
	fd            int
	local, remote net.Addr
	in            *atomic.Int64 // bytes received, for INFO

	readable bool      // epoll reported the socket readable and no read has been tried since
	owing    bool      // in loop.owing
	parked   bool      // in loop.parked: its replies wait for replicas; no request runs
	muted    bool      // registered for nothing (epoll) while parked
	out      []byte    // replies the socket did not take yet; no request runs while there are some
	wantOut  bool      // registered for writability (and not for readability)
	last     time.Time // the last bytes received, for the idle timeout
	closing  atomic.Bool

	uringConn // the state of its operations under an io_uring loop
}

// loopSet is a set of event loops, started on the first connection they
// may serve and stopped by close. Each DataNode with loops owns a set,
// unless its configuration hands it one to share (DataNodeConfig.loops).
type loopSet struct {
	n      int // loops to start
	logger *slog.Logger
	// idle is the idle timeout (nanoseconds) the loops sweep for; 0:
	// none. CONFIG SET timeout lowers it (noteIdle).
	idle atomic.Int64

	once    sync.Once
	loops   []*eventLoop
	running atomic.Bool   // loops is complete (start has returned)
	next    atomic.Uint32 // round robin over loops
	closed  chan struct{}
	wg      sync.WaitGroup
}

// newLoopSet returns a set of n loops (0: one per two cores, at least one)
// whose connections close after idle without a request (0: never).
func newLoopSet(n int, idle time.Duration, logger *slog.Logger) *loopSet {
	if n == 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	s := &loopSet{n: n, logger: logger, closed: make(chan struct{})}
	s.idle.Store(int64(idle))
	return s
}

// noteIdle makes the loops sweep for an idle timeout of t (a node's
// CONFIG SET timeout) at least every t/4 from now on.
func (s *loopSet) noteIdle(t time.Duration) {
	for {
		cur := s.idle.Load()
		if t <= 0 || cur > 0 && cur <= int64(t) || s.idle.CompareAndSwap(cur, int64(t)) {
			break
		}
	}
	if s.running.Load() { // loops not started yet read the bound when they do
		for _, l := range s.loops {
			l.signal() // wait again with the new bound
		}
	}
}

// pick returns the loop for the next connection of a node: the loop of
// index affinity modulo the set's size, or with a negative affinity the
// next loop in turn; nil when the set has none (closed, or epoll is
// unavailable).
//
// The DataNodes of a cluster each have their own loop while there are as
// many loops as nodes: a client that talks to one node (redis-benchmark
// --cluster runs a thread per node) then wakes one loop, and that loop
// wakes it back, as with one Redis process per node; with connections
// dealt round-robin, every loop woke every client thread, on both cores.
func (s *loopSet) pick(affinity int) *eventLoop {
	s.once.Do(s.start)
	if len(s.loops) == 0 {
		return nil
	}
	if affinity >= 0 {
		return s.loops[affinity%len(s.loops)]
	}
	return s.loops[int(s.next.Add(1)-1)%len(s.loops)]
}

// start starts the loops (none if the set is closed or epoll is unavailable).
func (s *loopSet) start() {
	select {
	case <-s.closed:
		return
	default:
	}
	for range s.n {
		l, err := newEventLoop(s)
		if err != nil {
			s.logger.Warn("event loop", "err", err)
			return
		}
		s.loops = append(s.loops, l)
		s.wg.Add(1)
		go l.run()
	}
	s.running.Store(true)
}

// close stops the loops, closing the connections they still serve, and
// waits for them.
func (s *loopSet) close() {
	s.once.Do(func() {}) // no loop starts now; the started ones are seen
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	for _, l := range s.loops {
		l.signal()
	}
	s.wg.Wait()
}

// loopServe hands c to an event loop if one may serve it (a plain TCP
// connection on a node with loops); false leaves c to a goroutine.
func (d *DataNode) loopServe(c *conn) bool {
	if d.loops == nil {
		return false
	}
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return false
	}
	l := d.loops.pick(d.loopAffinity)
	if l == nil {
		return false
	}
	// Take a duplicate of the descriptor out of the netpoller: it shares
	// the original's non-blocking open file, which closing the original
	// leaves open.
	fd, err := dupFD(tc)
	if err != nil {
		return false
	}
	lc := &loopConn{loop: l, fd: fd, local: tc.LocalAddr(), remote: tc.RemoteAddr(), in: &c.bytesIn}
	tc.Close()
	c.mu.Lock()
	c.nc, c.lc = lc, lc
	c.mu.Unlock()
	c.rr.rd = lc
	c.w.w = &countingWriter{w: lc, n: &c.bytesOut}
	l.add(c)
	return true
}

func newEventLoop(set *loopSet) (*eventLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	l := &eventLoop{set: set, ep: ep, conns: make(map[int32]*conn), acks: make(map[int32]*ackConn), events: make([]syscall.EpollEvent, 256)}
	if err := syscall.Pipe2(l.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(ep)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake[0])}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.wake[0], &ev); err != nil {
		l.closeFds()
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	l.wakeFn = l.signal
	l.sendFn = func(st *replStream) {
		for _, s := range l.sends {
			if s == st {
				return
			}
		}
		l.sends = append(l.sends, st)
	}
	return l, nil
}

func (l *eventLoop) closeFds() {
	syscall.Close(l.ep)
	syscall.Close(l.wake[0])
	syscall.Close(l.wake[1])
}

// add gives c to the loop. After the loop has finished (its set closed),
// c is closed at once.
func (l *eventLoop) add(c *conn) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		syscall.Close(c.lc.fd)
		c.gone()
		return
	}
	l.adds = append(l.adds, c)
	l.mu.Unlock()
	l.signal()
}

// signal wakes the loop (once, however many call it before it wakes).
func (l *eventLoop) signal() {
	if l.woken.CompareAndSwap(false, true) {
		b := [1]byte{1}
		syscall.Write(l.wake[1], b[:])
	}
}

// run is the loop: wait, then serve every ready connection, until its set closes.
func (l *eventLoop) run() {
	defer l.set.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if l.raw = rawWaits.acquire(); l.raw {
		defer rawWaits.release()
	}
	if useUring && l.startUring() {
		l.runUring()
		return
	}
	var swept time.Time
	for {
		n := l.wait(l.waitMs())
		l.now = time.Now()
		for _, ev := range l.events[:n] {
			if ev.Fd == int32(l.wake[0]) {
				if !l.woke() {
					l.stop()
					return
				}
				continue
			}
			if a := l.acks[ev.Fd]; a != nil {
				l.ackReadable(a)
				continue
			}
			c := l.conns[ev.Fd]
			if c == nil {
				continue
			}
			if c.lc.parked {
				if ev.Events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
					l.drop(c) // gone while its replies waited: they never go out
				}
				continue
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				c.lc.readable = true
			}
			if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && len(c.lc.out) > 0 {
				if err := c.lc.writeOut(); err != nil {
					l.drop(c)
					continue
				}
			}
			l.serve(c)
		}
		l.flushOwed()
		l.sweepIdle(&swept)
	}
}

// sweepIdle drops the connections idle past their node's timeout, at most
// every quarter of the set's idle timeout (swept: when it last did).
func (l *eventLoop) sweepIdle(swept *time.Time) {
	idle := time.Duration(l.set.idle.Load())
	if idle <= 0 || l.now.Sub(*swept) < idle/4 {
		return
	}
	*swept = l.now
	for _, c := range l.conns {
		if t := c.d.idleTimeout(); t > 0 && l.now.Sub(c.lc.last) >= t {
			l.drop(c)
		}
	}
}

// parkPoll is how often a loop with parked connections looks at them
// without an acknowledgement waking it: for a replica that stopped
// answering or a slot that changed hands.
const parkPoll = 10 * time.Millisecond

// waitMs bounds the loop's wait, in milliseconds: the set's bound, and
// parkPoll while connections are parked.
func (l *eventLoop) waitMs() int {
	ms := l.set.waitMs()
	if p := int(parkPoll / time.Millisecond); len(l.parked) > 0 && (ms <= 0 || p < ms) {
		ms = p
	}
	return ms
}

// waitMs bounds a loop's wait, in milliseconds, so that it sweeps for
// idle connections often enough; 0: no bound.
func (s *loopSet) waitMs() int {
	idle := time.Duration(s.idle.Load())
	if idle <= 0 {
		return 0
	}
	return int(max(idle/4, 10*time.Millisecond) / time.Millisecond)
}

// wait waits for ready descriptors, at most timeoutMs if positive, and
// returns how many are in l.events. A loop that may not wait raw (see
// rawWaits) first polls without blocking and without the runtime's
// system-call bookkeeping, which a busy loop would pay on every wait for
// nothing.
func (l *eventLoop) wait(timeoutMs int) int {
	if timeoutMs <= 0 {
		timeoutMs = -1 // epoll's "no bound"
	}
	if !l.raw {
		if n := l.pollRaw(0); n > 0 {
			return n
		}
		n, err := syscall.EpollWait(l.ep, l.events, timeoutMs)
		if err != nil {
			return 0 // EINTR
		}
		return n
	}
	return l.pollRaw(timeoutMs)
}

// pollRaw is epoll_pwait without the runtime's system-call bookkeeping; 0
// on EINTR.
func (l *eventLoop) pollRaw(timeoutMs int) int {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), uintptr(timeoutMs), 0, 0)
	if e != 0 {
		return 0
	}
	return int(r)
}

// rawWaits counts the loops that wait without giving up their P.
//
// A blocking system call made the runtime's way (entersyscall) lets sysmon
// take the thread's P for other work after 20µs. A loop that sleeps and
// wakes thousands of times a second then has its P taken and given back,
// and sysmon, finding every P idle, sleeps on a futex that the loop's
// next system call wakes: measured under redis-benchmark --cluster, four
// times the timer interrupts and wake-up IPIs of Redis Cluster
// (bench/README.md), each costly in a virtual machine. A raw wait keeps
// the P: the runtime sees a goroutine running, and its preemption signal,
// every 10ms or for a stop-the-world, ends the wait with EINTR.
//
// So that the loops never hold every P, and the rest of the process (the
// NameNode, heartbeats, moves, the collector) always has one, only
// GOMAXPROCS-1 loops in the process wait raw; the others wait the
// runtime's way.
var rawWaits rawBudget

type rawBudget struct{ n atomic.Int32 }

func (b *rawBudget) acquire() bool {
	for {
		n := b.n.Load()
		if int(n) >= runtime.GOMAXPROCS(0)-1 {
			return false
		}
		if b.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (b *rawBudget) release() { b.n.Add(-1) }

// woke handles a wake-up: it registers added connections and drops the
// ones closed from other goroutines. It returns false when the set is
// closing and the loop must stop.
func (l *eventLoop) woke() bool {
	var b [64]byte
	for {
		if n, _ := syscall.Read(l.wake[0], b[:]); n < len(b) {
			break
		}
	}
	l.woken.Store(false)
	select {
	case <-l.set.closed:
		return false
	default:
	}
	l.mu.Lock()
	adds := l.adds
	ackAdds, ackCloses := l.ackAdds, l.ackCloses
	l.adds, l.ackAdds, l.ackCloses = nil, nil, nil
	l.mu.Unlock()
	l.startAcks(ackAdds, ackCloses)
	for _, c := range adds {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.lc.fd)}
		if c.nodeClosed() {
			// Its node closed while handing it over, maybe before it
			// could see c's socket: closing it is the loop's to do.
			syscall.Close(c.lc.fd)
			c.gone()
			continue
		}
		if l.ring != nil {
			c.lc.last = l.now
			l.conns[int32(c.lc.fd)] = c
			l.serve(c) // the first receive
			continue
		}
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, c.lc.fd, &ev); err != nil {
			syscall.Close(c.lc.fd)
			c.gone()
			continue
		}
		c.lc.last = l.now
		l.conns[int32(c.lc.fd)] = c
	}
	if l.closes.Swap(false) {
		for _, c := range l.conns {
			if c.lc.closing.Load() {
				l.drop(c)
			}
		}
	}
	return true
}

// stop closes every connection of the loop and the loop's own descriptors.
func (l *eventLoop) stop() {
	l.mu.Lock()
	l.stopped = true
	adds, ackAdds := l.adds, l.ackAdds
	l.adds, l.ackAdds, l.ackCloses = nil, nil, nil
	l.mu.Unlock()
	for _, c := range l.conns {
		l.drop(c)
	}
	l.stopAcks(ackAdds)
	for _, c := range adds {
		syscall.Close(c.lc.fd)
		c.gone()
	}
	if l.ring != nil {
		l.drainUring()
	}
	l.closeFds()
}

// drop closes c's socket and forgets c.
func (l *eventLoop) drop(c *conn) {
	if l.ring != nil {
		l.uringDrop(c, false)
		return
	}
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.lc.fd, nil)
	delete(l.conns, int32(c.lc.fd))
	syscall.Close(c.lc.fd)
	c.gone()
}

// serve runs what c's buffered and readable requests allow; their replies
// are written at the end of the turn.
func (l *eventLoop) serve(c *conn) {
	if c.lc.parked {
		return // unpark serves it again
	}
	args, st := c.step()
	switch st {
	case stepClose:
		if l.ring != nil {
			l.uringDrop(c, true) // let the last replies go out
			return
		}
		l.drop(c)
		return
	case stepHandOff:
		l.handOff(c, args)
		return
	}
	if l.ring != nil && !c.quit {
		l.uringRecv(c)
	}
	if len(c.w.buf) > 0 {
		if !c.lc.owing {
			c.lc.owing = true
			l.owing = append(l.owing, owed{c, c.lc})
		}
		return
	}
	l.watch(c)
}

// flushOwed writes the replies of the turn, after every ready connection
// has been read and served, as Redis writes them before it waits again:
// the client woken by the first write is still awake for the next ones.
func (l *eventLoop) flushOwed() {
	l.unpark()
	l.syncOwed()
	for i, o := range l.owing {
		l.owing[i] = owed{}
		c := o.c
		if l.conns[int32(o.lc.fd)] != c || o.lc.dead {
			continue // dropped meanwhile
		}
		o.lc.owing = false
		c.nowMs = 0
		if l.park(c) {
			continue
		}
		if c.flushReplies() != nil {
			l.drop(c)
			continue
		}
		if c.quit {
			l.closeAfterReplies(c)
			continue
		}
		l.watch(c)
	}
	l.owing = l.owing[:0]
	l.sendRepl()
}

// syncOwed writes and, with appendfsync always, fsyncs the log once for
// every reply of the turn before any is written, on the loop's own thread
// (Redis's beforeSleep does the same): the requests that arrive during the
// fsync are read at the next turn and share its fsync. An earlier design
// handed each round to a syncer goroutine: two thread switches per fsync
// and every connection parked (an epoll change each way), which made
// appendfsync always -P 1 slower than redis-server. A disk error leaves
// the log behind: flushReplies then finds the replies of writes
// unconfirmed and withholds them.
func (l *eventLoop) syncOwed() {
	for _, o := range l.owing {
		c := o.c
		if !c.durSettled() && c.d.aof.await(c.durNeed) != nil { // the first covers every later one of its log
			return
		}
	}
}

// sendRepl sends the frames the turn's parked connections wait for: one
// write per stream carries every write of the turn, from the loop itself
// (waking the stream's goroutine would cost thread switches every turn).
func (l *eventLoop) sendRepl() {
	if len(l.sends) == 0 {
		return
	}
	for i, st := range l.sends {
		// Register again: a notification runs a registration once, and a
		// connection still parked after one waits for a later frame.
		st.onNotify(l, l.wakeFn)
		st.sendNow()
		l.sends[i] = nil
	}
	l.sends = l.sends[:0]
	for _, o := range l.parked {
		if o.c.lc == o.lc && !o.lc.dead && o.c.replReady() {
			l.signal() // acknowledged before the registration
			break
		}
	}
}

// closeAfterReplies closes c, which asked to be closed (QUIT, or a
// protocol error), once its last replies are written.
func (l *eventLoop) closeAfterReplies(c *conn) {
	if l.ring != nil {
		l.uringDrop(c, true) // let the last replies go out
		return
	}
	l.drop(c)
}

// writeNonBlocking writes as much of p to the non-blocking descriptor fd
// as it takes at once; an error only when the connection is broken.
func writeNonBlocking(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := rawIO(syscall.SYS_WRITE, fd, p[done:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return done, nil
		case err != nil:
			return done, err
		}
		done += n
	}
	return done, nil
}

// park sets c aside when its replies must wait for replicas to apply its
// writes (replicate.go): the loop serves its other clients meanwhile
// instead of blocking on the round trip, and an acknowledgement wakes it
// (unpark). The disk does not park a connection: the loop fsyncs its
// turn's writes before any reply (syncOwed). A parked connection runs no
// request, so its replies keep their order. It reports whether c was
// parked.
func (l *eventLoop) park(c *conn) bool {
	if !c.parkRepl(l, l.wakeFn, l.sendFn) {
		return false
	}
	lc := c.lc
	lc.parked = true
	l.parked = append(l.parked, owed{c, lc})
	if l.ring == nil && !lc.muted {
		// Level-triggered readiness would report it on every wait.
		ev := syscall.EpollEvent{Fd: int32(lc.fd)}
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, lc.fd, &ev); err == nil {
			lc.muted, lc.wantOut = true, false
		}
	}
	return true
}

// unpark writes the replies of the parked connections whose replicas have
// answered (or whose wait must end: flushReplies then withholds them and
// the connection closes), and serves them again.
func (l *eventLoop) unpark() {
	if len(l.parked) == 0 {
		return
	}
	all := l.parked
	keep := all[:0]
	now := time.Now()
	for _, o := range all {
		c := o.c
		if l.conns[int32(o.lc.fd)] != c || o.lc.dead {
			continue // dropped meanwhile
		}
		if !c.replSettled(now, l.sendFn) {
			keep = append(keep, o)
			continue
		}
		o.lc.parked = false
		c.nowMs = 0
		if c.flushReplies() != nil {
			l.drop(c)
			continue
		}
		if c.quit {
			l.closeAfterReplies(c)
			continue
		}
		l.resume(c)
	}
	clear(all[len(keep):])
	l.parked = keep
}

// resume serves an unparked connection again: under epoll it registers its
// socket anew, under io_uring it runs what it received meanwhile unless a
// send or a receive in flight will.
func (l *eventLoop) resume(c *conn) {
	lc := c.lc
	if l.ring != nil {
		if !lc.sendBusy && !lc.recvBusy {
			l.serve(c)
		}
		return
	}
	if !lc.muted {
		l.watch(c)
		return
	}
	if l.wantOut(c, len(lc.out) > 0) {
		lc.muted = false
	}
}

// owed is a connection with replies to write, and its socket then.
type owed struct {
	c  *conn
	lc *loopConn
}

// watch sets what the loop waits for on c's socket: readability, or
// writability while replies wait for the client to read them.
func (l *eventLoop) watch(c *conn) {
	lc := c.lc
	if l.ring != nil {
		return // io_uring sends what the socket does not take at once
	}
	if want := len(lc.out) > 0; want != lc.wantOut {
		l.wantOut(c, want)
	}
}

// wantOut has epoll report c's socket writable (want) or readable; on an
// error it drops c and reports false.
func (l *eventLoop) wantOut(c *conn, want bool) bool {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(c.lc.fd)}
	if want {
		ev.Events = syscall.EPOLLOUT
	}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_MOD, c.lc.fd, &ev); err != nil {
		l.drop(c)
		return false
	}
	c.lc.wantOut = want
	return true
}

// stepResult says what the loop does with a connection after step.
type stepResult int

const (
	stepWait    stepResult = iota // wait for the socket
	stepClose                     // close the connection
	stepHandOff                   // give the connection to a goroutine, with the request to run
)

// step serves c's requests until none is complete and no read is allowed
// (one read per readiness, as Redis, so that one busy client does not
// starve the others) or replies wait for the client.
func (c *conn) step() ([][]byte, stepResult) {
	for len(c.lc.out) == 0 && !c.quit {
		args, err := c.rr.next()
		if err == errWouldBlock {
			return nil, stepWait // the loop writes the replies at the end of the turn
		}
		var pe *ProtocolError
		if err != nil && errors.As(err, &pe) && c.repliesWait() {
			// The replies before it wait for replicas or the disk: the
			// loop parks c, and closes it once they and the error left.
			c.w.errorText("ERR " + pe.Error())
			c.quit = true
			return nil, stepWait
		}
		if err != nil {
			c.protocolError(err)
			return nil, stepClose
		}
		c.cmds.Add(1)
		c.execCounted(args)
		if c.wouldWait {
			c.wouldWait = false
			return args, stepHandOff
		}
		if c.quit {
			if c.repliesWait() {
				return nil, stepWait // as a protocol error above
			}
			c.flushReplies()
			return nil, stepClose
		}
		// Replies that wait for replicas or the disk are not flushed here,
		// which would block the loop: they wait for the end of the turn
		// (park). One read per turn bounds them.
		if len(c.w.buf) > 64<<10 && !c.repliesWait() {
			c.nowMs = 0
			if c.flushReplies() != nil {
				return nil, stepClose
			}
		}
	}
	return nil, stepWait
}

// handOff gives c to a goroutine of its own, which runs args first: the
// socket goes back to the runtime's netpoller as a net.Conn.
func (l *eventLoop) handOff(c *conn, args [][]byte) {
	lc := c.lc
	if l.ring == nil {
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, lc.fd, nil)
	} else if lc.sendBusy {
		lc.handArgs = args // hand off once the send in flight is done
		return
	}
	delete(l.conns, int32(lc.fd))
	f := os.NewFile(uintptr(lc.fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		c.d.cfg.Logger.Warn("event loop hand-off", "err", err)
		c.gone()
		return
	}
	c.mu.Lock()
	c.nc, c.lc = nc, nil
	c.mu.Unlock()
	c.in.Conn = nc
	c.rr.rd = c.in
	if len(lc.pending) > 0 { // received, not yet read
		c.rr.rd = io.MultiReader(bytes.NewReader(bytes.Clone(lc.pending)), c.in)
	}
	c.w.w = &countingWriter{w: nc, n: &c.bytesOut}
	if c.nodeClosed() { // Close may have closed lc instead of nc
		nc.Close()
	}
	out := lc.out
	go func() {
		if len(out) > 0 {
			if _, err := nc.Write(out); err != nil {
				nc.Close()
			}
		}
		c.serve(args)
	}()
}

// Read reads what the socket holds, once per readiness: errWouldBlock
// when epoll has not reported it readable since the last read.
func (lc *loopConn) Read(p []byte) (int, error) {
	if lc.loop.ring != nil {
		return lc.readUring(p)
	}
	if !lc.readable {
		return 0, errWouldBlock
	}
	lc.readable = false
	for {
		n, err := rawIO(syscall.SYS_READ, lc.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, errWouldBlock
		case err != nil:
			return 0, &net.OpError{Op: "read", Net: "tcp", Source: lc.local, Addr: lc.remote, Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		lc.in.Add(int64(n))
		lc.last = lc.loop.now
		return n, nil
	}
}

// Write writes p, keeping what the socket does not take in lc.out for when
// it becomes writable; it fails only when the connection is broken.
func (lc *loopConn) Write(p []byte) (int, error) {
	if lc.loop.ring != nil {
		return lc.writeUring(p)
	}
	if len(lc.out) > 0 {
		lc.out = append(lc.out, p...)
		return len(p), nil
	}
	n, err := lc.write(p)
	if err != nil {
		return 0, err
	}
	if n < len(p) {
		lc.out = append(lc.out, p[n:]...)
	}
	return len(p), nil
}

// writeOut writes the replies waiting in lc.out, as far as the socket takes them.
func (lc *loopConn) writeOut() error {
	n, err := lc.write(lc.out)
	if err != nil {
		return err
	}
	if n == len(lc.out) {
		if cap(lc.out) > 1<<20 {
			lc.out = nil // do not keep a huge buffer for an idle client
		} else {
			lc.out = lc.out[:0]
		}
		return nil
	}
	lc.out = lc.out[:copy(lc.out, lc.out[n:])]
	return nil
}

// write writes as much of p as the socket takes without blocking.
func (lc *loopConn) write(p []byte) (int, error) {
	done, err := writeNonBlocking(lc.fd, p)
	if err != nil {
		return done, &net.OpError{Op: "write", Net: "tcp", Source: lc.local, Addr: lc.remote, Err: err}
	}
	return done, nil
}

// Close asks the loop to close the connection; any goroutine may call it.
func (lc *loopConn) Close() error {
	if lc.closing.CompareAndSwap(false, true) {
		lc.loop.closes.Store(true)
		lc.loop.signal()
	}
	return nil
}

func (lc *loopConn) LocalAddr() net.Addr                { return lc.local }
func (lc *loopConn) RemoteAddr() net.Addr               { return lc.remote }
func (lc *loopConn) SetDeadline(t time.Time) error      { return nil }
func (lc *loopConn) SetReadDeadline(t time.Time) error  { return nil }
func (lc *loopConn) SetWriteDeadline(t time.Time) error { return nil }

// rawIO reads or writes the non-blocking socket fd without the runtime's
// system-call bookkeeping (it never blocks).
func rawIO(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// dupFD returns a close-on-exec duplicate of tc's descriptor. It shares the
// original's non-blocking open file, which closing tc (so that the
// netpoller forgets the socket) leaves open for the duplicate.
func dupFD(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	fd := -1
	if err == nil {
		cerr := rc.Control(func(p uintptr) { fd, err = syscall.Dup(int(p)) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return -1, err
	}
	syscall.CloseOnExec(fd)
	return fd, nil
}
