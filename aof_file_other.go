//go:build !linux

// Log files elsewhere than Linux: fsync(2).

package chkv

import "os"

// openFileDefault opens name for writing without O_APPEND (writes go
// through WriteAt, so a failed write can be overwritten).
func openFileDefault(name string) (aofFile, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
}

// onRawLoop reports whether c is served by an event loop that waits raw:
// never here.
func (c *conn) onRawLoop() bool { return false }
