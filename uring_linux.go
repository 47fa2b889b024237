// A minimal io_uring: the rings, the few operations the event loops use, and the wait.

//go:build linux

package chkv

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// io_uring's ABI, from include/uapi/linux/io_uring.h.
const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	uringSetupCQSize       = 1 << 3
	uringSetupSubmitAll    = 1 << 7
	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13
	uringSetupNoSQArray    = 1 << 16

	uringFeatSingleMmap = 1 << 0
	uringFeatNoDrop     = 1 << 1
	uringFeatExtArg     = 1 << 8

	uringEnterGetEvents = 1 << 0
	uringEnterExtArg    = 1 << 3

	uringOffSQRing = 0
	uringOffSQEs   = 0x10000000

	uringOpPollAdd     = 6
	uringOpAsyncCancel = 14
	uringOpSend        = 26
	uringOpRecv        = 27

	uringCancelAll = 1 << 0
	uringCancelFD  = 1 << 1

	uringRecvSendPollFirst = 1 << 0
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct{ head, tail, ringMask, ringEntries, flags, dropped, array, resv1, userAddrLo, userAddrHi uint32 }
	cqOff                                                                  struct{ head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1, userAddrLo, userAddrHi uint32 }
}

// uringSQE is struct io_uring_sqe (64 bytes).
type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	opFlags  uint32
	userData uint64
	bufIndex uint16
	personal uint16
	spliceFd int32
	addr3    uint64
	_        uint64
}

// uringCQE is struct io_uring_cqe (16 bytes).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uringGetEventsArg is struct io_uring_getevents_arg.
type uringGetEventsArg struct {
	sigmask     uint64
	sigmaskSize uint32
	minWaitUsec uint32
	ts          uint64 // a *syscall.Timespec
}

// uring is one io_uring instance, used by a single thread: the one that
// created it (IORING_SETUP_SINGLE_ISSUER) and that runs its completions'
// work when it waits (IORING_SETUP_DEFER_TASKRUN), so that the kernel
// wakes it only when a wait's count of completions is reached.
type uring struct {
	fd   int
	mem  []byte // the rings (SQ and CQ share one mapping)
	sqem []byte // the submission entries

	sqHead, sqTail *uint32
	sqMask         uint32
	sqEntries      uint32
	sqes           []uringSQE
	tail           uint32 // the next entry to fill; enter submits the entries before it

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE

	// The wait's argument and timeout, kept with the ring, in the heap,
	// for the kernel to read.
	arg uringGetEventsArg
	ts  syscall.Timespec
}

// errUringUnsupported says the kernel lacks a feature the loops need.
var errUringUnsupported = errors.New("io_uring lacks a needed feature")

// newUring sets up a ring of entries submission entries on the calling
// thread, which must be the only one to use it.
func newUring(entries uint32) (*uring, error) {
	p := uringParams{
		flags:     uringSetupCQSize | uringSetupSubmitAll | uringSetupSingleIssuer | uringSetupDeferTaskrun | uringSetupNoSQArray,
		cqEntries: 4 * entries,
	}
	fd, _, e := syscall.Syscall(sysIOUringSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	r := &uring{fd: int(fd)}
	need := uint32(uringFeatSingleMmap | uringFeatNoDrop | uringFeatExtArg)
	if p.features&need != need {
		r.close()
		return nil, errUringUnsupported
	}
	size := max(int(p.sqOff.array)+int(p.sqEntries)*4, int(p.cqOff.cqes)+int(p.cqEntries)*int(unsafe.Sizeof(uringCQE{})))
	mem, err := syscall.Mmap(r.fd, uringOffSQRing, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap", err)
	}
	r.mem = mem
	sqem, err := syscall.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, os.NewSyscallError("mmap", err)
	}
	r.sqem = sqem
	base := unsafe.Pointer(&mem[0])
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	r.sqHead, r.sqTail = u32(p.sqOff.head), u32(p.sqOff.tail)
	r.sqMask, r.sqEntries = *u32(p.sqOff.ringMask), *u32(p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&sqem[0])), p.sqEntries)
	r.cqHead, r.cqTail = u32(p.cqOff.head), u32(p.cqOff.tail)
	r.cqMask = *u32(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	return r, nil
}

// close unmaps the rings and closes the ring's descriptor; the kernel
// cancels the operations still in flight.
func (r *uring) close() {
	if r.sqem != nil {
		syscall.Munmap(r.sqem)
	}
	if r.mem != nil {
		syscall.Munmap(r.mem)
	}
	syscall.Close(r.fd)
}

// sqe returns a cleared submission entry to fill, submitting the filled
// ones first when the queue is full.
func (r *uring) sqe() *uringSQE {
	for r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		r.enter(0, 0, false) // the kernel takes them all (IORING_SETUP_SUBMIT_ALL)
	}
	e := &r.sqes[r.tail&r.sqMask]
	*e = uringSQE{}
	r.tail++
	return e
}

// recv queues a receive into p.
func (r *uring) recv(fd int, p []byte, userData uint64) {
	e := r.sqe()
	e.opcode, e.fd, e.userData = uringOpRecv, int32(fd), userData
	e.ioprio = uringRecvSendPollFirst // the loop receives after the bytes before are used: wait for more first
	e.addr, e.len = uint64(uintptr(unsafe.Pointer(&p[0]))), uint32(len(p))
}

// send queues a send of p.
func (r *uring) send(fd int, p []byte, userData uint64) {
	e := r.sqe()
	e.opcode, e.fd, e.userData = uringOpSend, int32(fd), userData
	e.opFlags = syscall.MSG_NOSIGNAL
	e.addr, e.len = uint64(uintptr(unsafe.Pointer(&p[0]))), uint32(len(p))
}

// pollIn queues a one-shot wait for fd to become readable.
func (r *uring) pollIn(fd int, userData uint64) {
	e := r.sqe()
	e.opcode, e.fd, e.userData = uringOpPollAdd, int32(fd), userData
	e.opFlags = syscall.EPOLLIN
}

// cancel queues the cancellation of the operation with user data target.
func (r *uring) cancel(target, userData uint64) {
	e := r.sqe()
	e.opcode, e.userData = uringOpAsyncCancel, userData
	e.fd = -1
	e.addr = target
}

// cancelFD queues the cancellation of every operation on fd.
func (r *uring) cancelFD(fd int, userData uint64) {
	e := r.sqe()
	e.opcode, e.fd, e.userData = uringOpAsyncCancel, int32(fd), userData
	e.opFlags = uringCancelAll | uringCancelFD
}

// enter submits the queued entries and, with wait > 0, waits for that many
// completions (counting those already there), at most timeoutMs if that
// is positive; a raw wait keeps the calling thread's P (see
// eventLoop.wait). With wait 0 it only submits.
func (r *uring) enter(wait uint32, timeoutMs int, raw bool) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	toSubmit := r.tail - atomic.LoadUint32(r.sqHead) // all the kernel has not taken, also after an EBUSY
	flags, arg, argSize := uintptr(0), uintptr(0), uintptr(0)
	if wait > 0 {
		flags = uringEnterGetEvents // also runs the completions' deferred work
	}
	if timeoutMs > 0 && wait > 0 {
		r.ts = syscall.NsecToTimespec(int64(timeoutMs) * 1e6)
		r.arg = uringGetEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.ts)))}
		flags |= uringEnterExtArg
		arg, argSize = uintptr(unsafe.Pointer(&r.arg)), unsafe.Sizeof(r.arg)
	}
	var e syscall.Errno
	if wait == 0 || raw {
		_, _, e = syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, arg, argSize)
	} else {
		_, _, e = syscall.Syscall6(sysIOUringEnter, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, arg, argSize)
	}
	switch e {
	case 0, syscall.EINTR, syscall.ETIME, syscall.EAGAIN, syscall.EBUSY:
		return nil
	}
	return os.NewSyscallError("io_uring_enter", e)
}

// reap submits what is queued and has the kernel post the completions
// ready (the deferred work of uringSetupDeferTaskrun), without waiting.
func (r *uring) reap() error {
	atomic.StoreUint32(r.sqTail, r.tail)
	toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
	_, _, e := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(toSubmit), 0, uringEnterGetEvents, 0, 0)
	switch e {
	case 0, syscall.EINTR, syscall.ETIME, syscall.EAGAIN, syscall.EBUSY:
		return nil
	}
	return os.NewSyscallError("io_uring_enter", e)
}

// ready reports whether a completion waits to be taken.
func (r *uring) ready() bool { return *r.cqHead != atomic.LoadUint32(r.cqTail) }

// cqe takes the next completion; false when there is none.
func (r *uring) cqe() (userData uint64, res int32, ok bool) {
	head := *r.cqHead
	if head == atomic.LoadUint32(r.cqTail) {
		return 0, 0, false
	}
	e := &r.cqes[head&r.cqMask]
	userData, res = e.userData, e.res
	atomic.StoreUint32(r.cqHead, head+1)
	return userData, res, true
}
