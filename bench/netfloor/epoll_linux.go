package main

import (
	"log"
	"net"
	"runtime"
	"syscall"
	"unsafe"
)

// serveEpoll serves every connection from one locked thread: one epoll_wait
// for all ready connections (a non-blocking one first, outside the
// runtime's system-call bookkeeping), then one read and one write each.
func serveEpoll(ln net.Listener) {
	ep, err := syscall.EpollCreate1(0)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Take a duplicate of the (non-blocking) descriptor out of
			// the runtime's netpoller and close the original.
			rc, err := c.(*net.TCPConn).SyscallConn()
			fd := -1
			if err == nil {
				rc.Control(func(p uintptr) { fd, err = syscall.Dup(int(p)) })
			}
			c.Close()
			if err != nil || fd < 0 {
				continue
			}
			syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
		}
	}()
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 128)
	buf := make([]byte, 16<<10)
	out := make([]byte, 0, 64<<10)
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		n := int(r)
		if e != 0 || n == 0 {
			if n, err = syscall.EpollWait(ep, events, -1); err != nil {
				continue
			}
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
			if e == syscall.EAGAIN {
				continue
			}
			if e != 0 || r == 0 {
				syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil)
				syscall.Close(fd)
				continue
			}
			k, _ := requests(buf[:r], true)
			out = out[:0]
			for range k {
				out = append(out, reply...)
			}
			if len(out) > 0 {
				syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&out[0])), uintptr(len(out)))
			}
		}
	}
}
