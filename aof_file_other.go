//go:build !linux

// Log files elsewhere than Linux: fsync(2).

package chkv

import "os"

// openFileDefault opens name for writing without O_APPEND (writes go
// through WriteAt, so a failed write can be overwritten).
func openFileDefault(name string) (aofFile, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
}
