// Event loops are Linux-only: elsewhere every connection has its own goroutine.

//go:build !linux

package chkv

// eventLoop is not used on this system.
type eventLoop struct{}

// loopConn is not used on this system.
type loopConn struct{}

func (d *DataNode) loopServe(c *conn) bool { return false }

func (l *eventLoop) signal() {}
