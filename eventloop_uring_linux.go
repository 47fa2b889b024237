// Event loops that wait with io_uring: one system call per turn instead of
// a read and a write per request.

//go:build linux

package chkv

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Under an io_uring loop a connection always has a receive in flight while
// it waits for a request, and a send while replies go out; the loop
// submits the turn's receives and sends and waits for the next
// completions in one io_uring_enter. On this project's machines a system
// call costs about a microsecond (bench/README.md), as much as the rest of
// a small request, so this halves the kernel crossings of a loaded loop.
//
// The receive goes straight into the request reader's buffer: Read, asked
// for bytes the loop has not received, remembers where the reader wants
// them (want) and says it would block; the loop receives there, and the
// next Read, which the reader makes with the same buffer, finds them in
// place. The reader's buffer is not touched while a receive is in flight,
// since the loop serves a connection only when none is.

// uringConn is a loopConn's state under an io_uring loop.
type uringConn struct {
	want     []byte // where the receive in flight puts its bytes
	pending  []byte // received bytes Read has not returned yet
	rerr     error  // the receive's error or io.EOF, returned by Read once the bytes before it are
	recvBusy bool   // a receive is in flight

	sendBuf  []byte // the bytes of the send in flight
	sending  []byte // what of sendBuf the kernel has still to take
	sendBusy bool   // a send is in flight; Write appends to out meanwhile

	ops       int      // operations in flight, cancellations included
	dead      bool     // dropped: the socket closes once ops is 0
	cancelled bool     // every operation is cancelled
	handArgs  [][]byte // when set: hand off once the send in flight is done, to run this request
}

// What a completion is for: the low byte of its user data; the rest is the socket.
const (
	uopWake = iota + 1
	uopRecv
	uopSend
	uopCancel
	uopAckRecv   // an acknowledgement socket's (replicate_loop_linux.go)
	uopAckCancel // an acknowledgement socket's
)

func uringData(fd int, op uint64) uint64 { return uint64(fd)<<8 | op }

// uringEntries is the submission queue's size, and uringTurn the most
// completions a loop handles in a turn. A completion queues at most a
// receive and a send, and the end of the turn a send per connection
// served, so a turn's entries fit in the queue; the queue is submitted
// early only when a turn takes in many new connections.
const (
	uringEntries = 4096
	uringTurn    = 1024
)

// useUring says whether loops use io_uring where the kernel allows; the
// environment variable CHKV_EVENT_LOOP=epoll makes them use epoll.
var useUring = os.Getenv("CHKV_EVENT_LOOP") != "epoll"

// startUring sets up the loop's ring on its own thread; false leaves the
// loop to epoll.
func (l *eventLoop) startUring() bool {
	r, err := newUring(uringEntries)
	if err != nil {
		l.set.logger.Info("event loop: epoll instead of io_uring", "err", err)
		return false
	}
	l.ring = r
	l.usesUring.Store(true)
	syscall.Close(l.ep) // not needed
	l.ep = -1
	return true
}

// runUring is the loop under io_uring: submit, wait, handle completions.
func (l *eventLoop) runUring() {
	r := l.ring
	var swept time.Time
	r.pollIn(l.wake[0], uopWake)
	for {
		var err error
		err = r.enter(1, l.waitMs(), l.raw)
		if err != nil {
			l.set.logger.Warn("event loop", "err", err)
			time.Sleep(time.Millisecond) // do not spin on a lasting failure
		}
		l.now = time.Now()
		for range uringTurn {
			ud, res, ok := r.cqe()
			if !ok {
				break
			}
			fd, op := int32(ud>>8), ud&0xff
			if op == uopWake {
				if !l.woke() {
					l.stop()
					return
				}
				r.pollIn(l.wake[0], uopWake)
				continue
			}
			if op >= uopAckRecv {
				l.ackDone(fd, op, res)
				continue
			}
			c := l.conns[fd]
			if c == nil {
				continue
			}
			lc := c.lc
			lc.ops--
			switch op {
			case uopRecv:
				l.recvDone(c, res)
			case uopSend:
				l.sendDone(c, res)
			}
			if lc.dead && lc.ops == 0 && l.conns[fd] == c {
				l.release(c) // unless dropping released it already
			}
		}
		l.flushOwed()
		l.sweepIdle(&swept)
	}
}

// uringRecv starts a receive on c where its reader last asked for bytes.
func (l *eventLoop) uringRecv(c *conn) {
	lc := c.lc
	if lc.want == nil || lc.recvBusy || lc.dead {
		return
	}
	lc.recvBusy = true
	lc.ops++
	l.ring.recv(lc.fd, lc.want, uringData(lc.fd, uopRecv))
}

// recvDone takes the outcome of c's receive and serves what it brought.
func (l *eventLoop) recvDone(c *conn, res int32) {
	lc := c.lc
	lc.recvBusy = false
	switch {
	case res > 0:
		lc.pending = lc.want[:res]
		lc.in.Add(int64(res))
		lc.last = l.now
	case res == 0:
		lc.rerr = io.EOF
	case syscall.Errno(-res) == syscall.ECANCELED:
	case syscall.Errno(-res) == syscall.EAGAIN || syscall.Errno(-res) == syscall.EINTR:
		l.uringRecv(c) // again, into the same place
		return
	default:
		lc.rerr = &net.OpError{Op: "read", Net: "tcp", Source: lc.local, Addr: lc.remote, Err: syscall.Errno(-res)}
	}
	lc.want = nil
	if !lc.dead {
		l.serve(c)
	}
}

// sendDone takes the outcome of c's send: it sends the rest, then what
// came meanwhile, then serves c again (it stops while replies wait).
func (l *eventLoop) sendDone(c *conn, res int32) {
	lc := c.lc
	lc.sendBusy = false
	if res < 0 {
		lc.sending = nil
		l.uringDrop(c, false)
		return
	}
	if lc.cancelled {
		return
	}
	if lc.sending = lc.sending[res:]; len(lc.sending) > 0 {
		l.uringSend(lc, lc.sending)
		return
	}
	if len(lc.out) > 0 {
		lc.sendBuf, lc.out = lc.out, lc.sendBuf[:0]
		l.uringSend(lc, lc.sendBuf)
		return
	}
	if cap(lc.sendBuf) > 1<<20 {
		lc.sendBuf = nil // do not keep a huge buffer for an idle client
	}
	switch {
	case lc.dead:
	case lc.handArgs != nil:
		args := lc.handArgs
		lc.handArgs = nil
		l.handOff(c, args)
	case !lc.recvBusy:
		l.serve(c)
	}
}

// uringSend starts sending p, which stays unchanged until the send completes.
func (l *eventLoop) uringSend(lc *loopConn, p []byte) {
	lc.sending = p
	lc.sendBusy = true
	lc.ops++
	l.ring.send(lc.fd, p, uringData(lc.fd, uopSend))
}

// uringDrop closes c once its operations are done: linger lets the send in
// flight finish (the reply to QUIT, or to a protocol error); otherwise
// every operation is cancelled.
func (l *eventLoop) uringDrop(c *conn, linger bool) {
	lc := c.lc
	if lc.cancelled || lc.dead && linger {
		return
	}
	lc.dead = true
	if lc.ops == 0 {
		l.release(c)
		return
	}
	if linger && lc.sendBusy {
		if lc.recvBusy { // the send goes on, the receive ends
			lc.ops++
			l.ring.cancel(uringData(lc.fd, uopRecv), uringData(lc.fd, uopCancel))
		}
		return
	}
	lc.ops++
	lc.cancelled = true
	l.ring.cancelFD(lc.fd, uringData(lc.fd, uopCancel))
}

// release closes the socket of a dropped connection with nothing in flight.
func (l *eventLoop) release(c *conn) {
	delete(l.conns, int32(c.lc.fd))
	syscall.Close(c.lc.fd)
	c.gone()
}

// drainUring waits, as the loop stops, for the cancelled operations to
// finish, so that none writes into memory after the loop has gone, and
// closes the ring.
func (l *eventLoop) drainUring() {
	r := l.ring
	for len(l.conns) > 0 || len(l.acks) > 0 {
		r.enter(1, 100, false)
		for {
			ud, res, ok := r.cqe()
			if !ok {
				break
			}
			if op := ud & 0xff; op >= uopAckRecv {
				l.ackDone(int32(ud>>8), op, res)
				continue
			}
			c := l.conns[int32(ud>>8)]
			if c == nil || ud&0xff == uopWake {
				continue
			}
			if c.lc.ops--; c.lc.ops == 0 {
				l.release(c)
			}
		}
	}
	r.close()
}

// readUring returns the bytes the last receive brought, or says it would
// block and where the loop is to receive.
func (lc *loopConn) readUring(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(lc.pending) > 0 {
		var n int
		if &p[0] == &lc.pending[0] {
			n = min(len(p), len(lc.pending)) // received in place
		} else {
			n = copy(p, lc.pending)
		}
		lc.pending = lc.pending[n:]
		return n, nil
	}
	if lc.rerr != nil {
		return 0, lc.rerr
	}
	if !lc.recvBusy {
		lc.want = p
	}
	return 0, errWouldBlock
}

// writeUring queues p to be sent: at once if no send is in flight, else
// after it.
func (lc *loopConn) writeUring(p []byte) (int, error) {
	if lc.cancelled {
		return 0, net.ErrClosed
	}
	if lc.sendBusy {
		lc.out = append(lc.out, p...)
		return len(p), nil
	}
	lc.sendBuf = append(lc.sendBuf[:0], p...)
	lc.loop.uringSend(lc, lc.sendBuf)
	return len(p), nil
}
