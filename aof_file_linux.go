// Log files on Linux: fsync as fdatasync, as Redis does (the data and the size, not the times).

package chkv

import (
	"os"
	"syscall"
	"unsafe"
)

// dataFile is a log file whose Sync is fdatasync(2).
type dataFile struct {
	*os.File
	rc syscall.RawConn
}

// writeAtRaw is WriteAt made with RawSyscall (rawFile). The descriptor is
// held (RawConn.Control) so a concurrent Close cannot reuse it.
func (f dataFile) writeAtRaw(b []byte, off int64) (int, error) {
	n := 0
	var errno syscall.Errno
	err := f.rc.Control(func(fd uintptr) {
		for n < len(b) {
			r, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n), uintptr(off+int64(n)), 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e != 0:
				errno = e
				return
			case r == 0:
				errno = syscall.EIO
				return
			}
			n += int(r)
		}
	})
	if err == nil && errno != 0 {
		err = &os.PathError{Op: "write", Path: f.Name(), Err: errno}
	}
	return n, err
}

// onRawLoop reports whether c is served by an event loop that waits raw
// (rawWaits), whose log writes are raw too (rawFile).
func (c *conn) onRawLoop() bool { return c.lc != nil && c.lc.loop != nil && c.lc.loop.raw }

func (f dataFile) Sync() error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// openFileDefault opens name for writing without O_APPEND (writes go
// through WriteAt, so a failed write can be overwritten).
func openFileDefault(name string) (aofFile, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return dataFile{f, rc}, nil
}
