// Log files on Linux: fsync as fdatasync, as Redis does (the data and the size, not the times).

package chkv

import (
	"os"
	"syscall"
)

// dataFile is a log file whose Sync is fdatasync(2).
type dataFile struct{ *os.File }

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
	return dataFile{f}, nil
}
