// A replication stream's acknowledgements read by the node's event loop.

//go:build linux

package chkv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// An ackConn is a replication stream's TCP connection whose
// acknowledgements the node's event loop reads itself, among its clients'
// sockets: the acknowledgement that releases the replies parked on the
// loop then wakes the loop alone. Read by a goroutine, each one woke the
// thread waiting in the runtime's netpoller, which then woke the loop (two
// thread wake-ups per frame, each a few microseconds in a virtual
// machine). So the socket leaves the netpoller as a client's does
// (loopServe): a duplicate of its descriptor, the original closed.
//
// The stream's goroutine and sendNow write to it (frames, under the
// stream's wmu); Close, from any goroutine, stops the writes at once and
// has the loop cancel its receive and close the descriptor, so that no
// write can reach another socket that reuses the number.
type ackConn struct {
	loop          *eventLoop
	st            *replStream
	fd            int
	local, remote net.Addr

	// Writers hold fdmu for reading while they write; Close takes it to
	// stop them before the loop closes the descriptor.
	fdmu     sync.RWMutex
	fdClosed bool
	wdl      time.Time // write deadline (the stream's goroutine's)

	ended chan error // buffered 1: why the loop stopped reading (the session ends on it)

	// The loop's.
	buf      []byte // acknowledgements received, not yet parsed: buf[:n]
	n        int
	recvBusy bool // a receive is in flight (io_uring)
	ops      int  // io_uring operations in flight, cancellations included
	dead     bool // closing: the descriptor closes once ops is 0
}

// loopAcks hands nc, a new replication connection, to the node's event
// loop, which reads its acknowledgements from then on; it returns the
// connection to write frames to and the channel that says why the reading
// ended. nil when the node has no loops or nc is not plain TCP: then a
// goroutine reads them (readAcks).
func (st *replStream) loopAcks(nc net.Conn) (net.Conn, chan error) {
	d := st.cn.d
	if d.loops == nil || !loopAcksOn {
		return nil, nil
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, nil
	}
	l := d.loops.pick(d.loopAffinity)
	if l == nil {
		return nil, nil
	}
	a := newAckConn(l, st, tc)
	if a == nil {
		return nil, nil
	}
	return a, a.ended
}

// newAckConn moves tc to l, which reads st's acknowledgements on it; nil
// (tc untouched) when its descriptor cannot be had.
func newAckConn(l *eventLoop, st *replStream, tc *net.TCPConn) *ackConn {
	fd, err := dupFD(tc)
	if err != nil {
		return nil
	}
	a := &ackConn{loop: l, st: st, fd: fd, local: tc.LocalAddr(), remote: tc.RemoteAddr(), ended: make(chan error, 1)}
	tc.Close() // the netpoller forgets the socket; the duplicate keeps it open
	l.addAck(a)
	return a
}

// loopAcksOn lets tests run the streams with a reading goroutine.
var loopAcksOn = true

// addAck gives a to the loop, which starts receiving on it when it wakes.
func (l *eventLoop) addAck(a *ackConn) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		a.markClosed()
		syscall.Close(a.fd)
		a.end(net.ErrClosed)
		return
	}
	l.ackAdds = append(l.ackAdds, a)
	l.mu.Unlock()
	l.signal()
}

// end tells the session why reading ended (the first reason only).
func (a *ackConn) end(err error) {
	select {
	case a.ended <- err:
	default:
	}
}

// markClosed stops the writes; false when they were stopped already.
func (a *ackConn) markClosed() bool {
	a.fdmu.Lock()
	defer a.fdmu.Unlock()
	if a.fdClosed {
		return false
	}
	a.fdClosed = true
	return true
}

// Close stops the writes and has the loop close the socket; any goroutine
// may call it, more than once.
func (a *ackConn) Close() error {
	if !a.markClosed() {
		return nil
	}
	l := a.loop
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return nil // stop closed it, or closes it
	}
	l.ackCloses = append(l.ackCloses, a)
	l.mu.Unlock()
	l.signal()
	return nil
}

// abort resets the connection when it closes (SO_LINGER 0): the kernel
// discards what the replica has not received (replStream.abortLocked).
func (a *ackConn) abort() {
	a.fdmu.RLock()
	if !a.fdClosed {
		syscall.SetsockoptLinger(a.fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	}
	a.fdmu.RUnlock()
	a.Close()
}

// writeNow writes as much of p as the socket takes at once.
func (a *ackConn) writeNow(p []byte) (int, error) {
	a.fdmu.RLock()
	defer a.fdmu.RUnlock()
	if a.fdClosed {
		return 0, net.ErrClosed
	}
	n, err := writeNonBlocking(a.fd, p)
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: a.local, Addr: a.remote, Err: err}
	}
	return n, nil
}

// Write writes p, waiting for the socket to take it until the write
// deadline (the stream's goroutine's writes).
func (a *ackConn) Write(p []byte) (int, error) {
	done := 0
	for {
		n, err := a.writeNow(p[done:])
		done += n
		if err != nil || done == len(p) {
			return done, err
		}
		wait := 100 * time.Millisecond // bounded: a closed descriptor's number may be reused
		if !a.wdl.IsZero() {
			left := time.Until(a.wdl)
			if left <= 0 {
				return done, &net.OpError{Op: "write", Net: "tcp", Source: a.local, Addr: a.remote, Err: os.ErrDeadlineExceeded}
			}
			wait = min(wait, left)
		}
		pollOut(a.fd, wait)
	}
}

// pollOut waits until fd is writable, at most d.
func pollOut(fd int, d time.Duration) {
	pfd := struct {
		fd             int32
		events, revent int16
	}{fd: int32(fd), events: 0x4} // POLLOUT
	ts := syscall.NsecToTimespec(int64(d))
	syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
}

func (a *ackConn) Read(p []byte) (int, error) {
	return 0, errors.New("chkv: the event loop reads this connection")
}
func (a *ackConn) LocalAddr() net.Addr                { return a.local }
func (a *ackConn) RemoteAddr() net.Addr               { return a.remote }
func (a *ackConn) SetDeadline(t time.Time) error      { a.wdl = t; return nil }
func (a *ackConn) SetReadDeadline(t time.Time) error  { return nil }
func (a *ackConn) SetWriteDeadline(t time.Time) error { a.wdl = t; return nil }

// startAcks registers the loop's new acknowledgement sockets and closes
// the ones Close asked to; the loop calls it when it wakes.
func (l *eventLoop) startAcks(adds, closes []*ackConn) {
	for _, a := range adds {
		a.buf = make([]byte, 4096)
		l.acks[int32(a.fd)] = a
		if l.ring != nil {
			l.ackRecv(a)
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(a.fd)}
		if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, a.fd, &ev); err != nil {
			l.endAck(a, err)
		}
	}
	for _, a := range closes {
		l.closeAck(a)
	}
}

// ackRecv starts a receive of acknowledgements (io_uring).
func (l *eventLoop) ackRecv(a *ackConn) {
	if a.recvBusy || a.dead {
		return
	}
	a.recvBusy = true
	a.ops++
	l.ring.recv(a.fd, a.buf[a.n:], uringData(a.fd, uopAckRecv))
}

// ackDone takes an io_uring completion of an acknowledgement socket.
func (l *eventLoop) ackDone(fd int32, op uint64, res int32) {
	a := l.acks[fd]
	if a == nil {
		return
	}
	a.ops--
	if op == uopAckRecv {
		a.recvBusy = false
	}
	switch {
	case a.dead:
		if a.ops == 0 {
			l.releaseAck(a)
		}
	case op != uopAckRecv:
	case res > 0:
		l.acksIn(a, int(res))
		l.ackRecv(a)
	case res == 0:
		l.endAck(a, io.EOF)
	case syscall.Errno(-res) == syscall.EAGAIN || syscall.Errno(-res) == syscall.EINTR:
		l.ackRecv(a)
	default:
		l.endAck(a, &net.OpError{Op: "read", Net: "tcp", Source: a.local, Addr: a.remote, Err: syscall.Errno(-res)})
	}
}

// ackReadable reads an acknowledgement socket epoll reported readable.
func (l *eventLoop) ackReadable(a *ackConn) {
	n, err := rawIO(syscall.SYS_READ, a.fd, a.buf[a.n:])
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
	case err != nil:
		l.endAck(a, &net.OpError{Op: "read", Net: "tcp", Source: a.local, Addr: a.remote, Err: err})
	case n == 0:
		l.endAck(a, io.EOF)
	default:
		l.acksIn(a, n)
	}
}

// acksIn applies the n bytes just received after buf[:a.n]: each
// acknowledgement (":<seq>") in full, in order. A refusal ("-ERR ...") or
// anything else ends the reading, and the session with it.
func (l *eventLoop) acksIn(a *ackConn, n int) {
	a.n += n
	b := a.buf[:a.n]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := b[:i+1]
		b = b[i+1:]
		if len(line) < 3 || line[i-1] != '\r' {
			l.endAck(a, fmt.Errorf("%w: bad reply line %q", ErrProtocol, line))
			return
		}
		switch body := line[1 : i-1]; line[0] {
		case ':':
			seq, ok := parseSeq(body)
			if !ok {
				l.endAck(a, fmt.Errorf("%w: replication ack %q", ErrProtocol, line))
				return
			}
			// The loop unparks what this releases at the end of its
			// turn: no wake-up for itself.
			a.st.ack(seq, l)
		case '-':
			l.endAck(a, &RESPError{Msg: string(body)})
			return
		default:
			l.endAck(a, fmt.Errorf("%w: replication ack %q", ErrProtocol, line))
			return
		}
	}
	a.n = copy(a.buf, b)
	if a.n == len(a.buf) {
		l.endAck(a, fmt.Errorf("%w: replication ack line too long", ErrProtocol))
	}
}

// parseSeq parses a non-negative decimal integer (a sequence number).
func parseSeq(b []byte) (uint64, bool) {
	if len(b) > 0 && b[0] == '-' {
		return 0, false
	}
	v, ok := parseClientInt(b)
	return uint64(v), ok
}

// endAck ends the reading for err: the session learns why and ends, and
// the socket closes.
func (l *eventLoop) endAck(a *ackConn, err error) {
	a.end(err)
	a.markClosed()
	l.closeAck(a)
}

// closeAck closes a's socket, once its receive in flight is cancelled.
func (l *eventLoop) closeAck(a *ackConn) {
	if a.dead {
		return
	}
	a.dead = true
	if l.acks[int32(a.fd)] != a {
		return // never registered (the loop stopped): stop closed it
	}
	if l.ring != nil && a.ops > 0 {
		a.ops++
		l.ring.cancel(uringData(a.fd, uopAckRecv), uringData(a.fd, uopAckCancel))
		return
	}
	l.releaseAck(a)
}

// releaseAck closes a's socket, with nothing in flight on it.
func (l *eventLoop) releaseAck(a *ackConn) {
	if l.ring == nil {
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, a.fd, nil)
	}
	delete(l.acks, int32(a.fd))
	syscall.Close(a.fd)
	a.end(net.ErrClosed)
}

// stopAcks closes every acknowledgement socket as the loop stops.
func (l *eventLoop) stopAcks(adds []*ackConn) {
	for _, a := range adds {
		a.markClosed()
		syscall.Close(a.fd)
		a.end(net.ErrClosed)
	}
	for _, a := range l.acks {
		a.markClosed()
		l.closeAck(a)
	}
}
